import type { Connection } from 'jsforce';
import { belowReserve, defaultApiReserve, reserveRefusal } from '../core/api-reserve';
import type { ApiReserve } from '../core/api-reserve';
import { normalizeEmail } from '../core/email-index';
import { linkedMarkerName } from '../core/position-store';
import { countsOfTally, isSettled, outstandingOf, tallyFields } from '../core/outcomes';
import type { Outstanding, RunTally } from '../core/outcomes';
import type { SyncRunEvent } from '../core/records';
import { recordKey } from '../core/topics';
import { SyncError, toSyncError } from '../errors';
import { createSalesforceApi } from '../infra/salesforce/salesforce-api';
import type { ContactRow } from '../infra/salesforce/salesforce-api';
import type { Logger } from '../logger';
import type { OrgRuntime } from '../orgs/org-directory';
import { produce } from '../pipeline/deps';
import type { PipelineDeps } from '../pipeline/deps';
import { sleep } from '../retry';
import { findMissingPage } from './missing-records';
import { deletedCounterparts } from './recycle-bin';
import type { RunStore } from './run-store';
import { describeOutstanding, kindOf, progressOf, runErrorText, runEventOf } from './run-events';
import { RunPacer } from './run-pacer';
import type { PerSide, RunRecord } from './run-types';
import { isFinished, queuedRun } from './run-types';
import { countContacts, readContacts } from './salesforce-reader';
import type { SalesforceCursor } from './salesforce-reader';
import { contactFieldsFor, contactSnapshotOf, staffSnapshotOf } from './snapshots';

export interface FullSyncDeps extends PipelineDeps {
  runStore: RunStore;
}

export interface FullSyncOptions {
  /** Above this many Contacts, read them with Bulk API 2.0 instead of REST query. Default 10,000. */
  restThreshold?: number;
  /** InitLive staff per page (1..1000). Default 1000. */
  initlivePageSize?: number;
  /** Bulk API 2.0 query results per page. Default 10,000. */
  bulkPageSize?: number;
  /** First wait while a Bulk job runs. Default 500 ms. */
  bulkPollMs?: number;
  /** Give up on a Bulk query job after this long. Default 10 min. */
  bulkTimeoutMs?: number;
  /** Pair ids examined per page when looking for records missing on one side. Default 2,000. */
  missingPageSize?: number;
  /**
   * How long the run's outstanding work may go without any of it landing before the run ends
   * `failed` naming it (RUN_SETTLE_TIMEOUT_MS). A run that keeps landing work is never cut
   * short; one held by a paused sink is. Default 10 min.
   */
  settleTimeoutMs?: number;
  /** How often to look at the run's tally while settling. Default 50 ms. */
  settlePollMs?: number;
  /**
   * The run's own records that may wait on the change topics for the reconciler: each chunk of
   * a page waits until fewer of them are undecided. Counted from the run's tally, so other
   * organizations' streaming neither slows the run nor waits behind more than this many of its
   * records (docs/scaling.md, Fair sharing). Default 2,000.
   */
  maxAhead?: number;
  /** Records per produce while a page is put on a change topic, each paced by maxAhead. Default 1,000. */
  produceChunk?: number;
  /**
   * While other organizations share the deployment, the records a second the run puts on the
   * change topics (FULL_SYNC_SHARED_RATE); 0 for no limit. Default 0.
   */
  sharedRate?: number;
  /** Called after each checkpoint is stored (tests and progress reporting). */
  onCheckpoint?: (checkpoint: FullSyncCheckpoint) => void;
  /**
   * Daily API calls the run leaves to everyone else, as the Salesforce sink does: below it, the
   * run stops (failed, keeping its checkpoint) rather than read on. Default 5%.
   */
  apiReserve?: ApiReserve;
}

export type FullSyncPhase =
  'indexing-initlive' | 'reading-salesforce' | 'reading-initlive' | 'finding-missing' | 'settling';

const phases: readonly FullSyncPhase[] = [
  'indexing-initlive',
  'reading-salesforce',
  'reading-initlive',
  'finding-missing',
  'settling',
];

/** What a run has done so far, stored after every acknowledged page. */
export interface FullSyncCheckpoint {
  v: 1;
  phase: FullSyncPhase;
  /** Highest staff id whose email was indexed (first pass). */
  indexAfter: string | null;
  /** Highest staff id emitted (InitLive lists staff in id order). */
  initliveAfter: string | null;
  salesforce: SalesforceCursor | null;
  /** Version-store cursor of the missing-records pass; null before it starts. */
  missingCursor: string | null;
  /** Snapshot and delete records produced so far. */
  emitted: number;
  read: PerSide;
  /** Staff indexed in the first pass and Contacts counted: the run's size, once known. */
  sizes: { initlive: number; salesforce: number | null };
  pages: number;
}

function freshCheckpoint(): FullSyncCheckpoint {
  return {
    v: 1,
    phase: 'indexing-initlive',
    indexAfter: null,
    initliveAfter: null,
    salesforce: null,
    missingCursor: null,
    emitted: 0,
    read: { initlive: 0, salesforce: 0 },
    sizes: { initlive: 0, salesforce: null },
    pages: 0,
  };
}

/**
 * One full sync of one organization: reads every InitLive staff member and every Contact page
 * by page and puts each on its change topic as a SNAPSHOT carrying the run id and the
 * record's real version, then puts a DELETE for every linked record that no longer exists on
 * its side. The reconciler treats these like any streamed change (three-way merge, echo
 * handling, delete policy, version order), so a snapshot older than a change streaming
 * already applied is simply stale and never reverts it.
 *
 * Memory stays bounded: one page at a time (500 staff, 2,000 REST or 10,000 Bulk Contacts),
 * and the ids read go to the run store (a Redis set per run and side), not the heap.
 *
 * Crash safety: after each page is acknowledged by the transport, the checkpoint (phase,
 * cursors, counts) is stored; `run()` with the same run id resumes from it. A page produced
 * but not checkpointed is produced again, which the reconciler's version order makes
 * harmless. The caller (SyncRunner) holds the org's lock while this runs.
 */
export class FullSyncJob {
  private readonly log: Logger;
  private readonly pacer: RunPacer;
  private readonly o: Required<Omit<FullSyncOptions, 'onCheckpoint'>> &
    Pick<FullSyncOptions, 'onCheckpoint'>;

  constructor(
    private readonly deps: FullSyncDeps,
    options: FullSyncOptions = {},
  ) {
    this.log = deps.logger.child({ component: 'full-sync' });
    this.o = {
      restThreshold: options.restThreshold ?? 10_000,
      initlivePageSize: options.initlivePageSize ?? 1000,
      bulkPageSize: options.bulkPageSize ?? 10_000,
      bulkPollMs: options.bulkPollMs ?? 500,
      bulkTimeoutMs: options.bulkTimeoutMs ?? 600_000,
      missingPageSize: options.missingPageSize ?? 2000,
      settleTimeoutMs: options.settleTimeoutMs ?? 600_000,
      settlePollMs: options.settlePollMs ?? 50,
      maxAhead: Math.max(1, options.maxAhead ?? 2_000),
      produceChunk: Math.max(1, options.produceChunk ?? 1_000),
      sharedRate: Math.max(0, options.sharedRate ?? 0),
      apiReserve: options.apiReserve ?? defaultApiReserve,
      onCheckpoint: options.onCheckpoint,
    };
    this.pacer = new RunPacer(
      deps,
      {
        maxAhead: this.o.maxAhead,
        produceChunk: this.o.produceChunk,
        sharedRate: this.o.sharedRate,
        pollMs: this.o.settlePollMs,
        // Two minutes, or settleTimeoutMs if shorter.
        patienceMs: Math.min(this.o.settleTimeoutMs, 120_000),
      },
      this.log,
    );
  }

  /**
   * Runs (or resumes) run `runId` of `orgId` to its end and returns the final record:
   * succeeded, partially_succeeded (some records failed) or failed (the run itself could not
   * go on; `error` says why). When `signal` aborts, it stops after the current page, leaves
   * the run `running` with its checkpoint, and rejects with the abort reason.
   */
  async run(
    orgId: string,
    runId: string,
    init: { trigger?: RunRecord['trigger']; reason?: string | null; signal?: AbortSignal } = {},
  ): Promise<RunRecord> {
    const { runStore } = this.deps;
    const record =
      (await runStore.get(orgId, runId)) ??
      queuedRun(orgId, runId, init.trigger ?? 'manual', init.reason ?? null);
    if (isFinished(record.status)) return record;
    const cp =
      ((await runStore.loadCheckpoint(orgId, runId)) as FullSyncCheckpoint | null) ??
      freshCheckpoint();
    const resumed = record.status === 'running';
    record.status = 'running';
    record.startedAt ??= this.deps.now();
    const log = this.log.child({ orgId, runId });
    log.info(resumed ? 'full sync resumed' : 'full sync started', { phase: cp.phase });
    await this.saveRecord(record, cp);
    await this.announce(record, 'STARTED');
    try {
      const org = this.deps.orgs.get(orgId);
      if (!org) throw new SyncError('NOT_FOUND', `organization ${orgId} is not connected here`);
      const conn = org.salesforce;
      if (!conn) {
        throw new SyncError('CONFLICT', 'Salesforce is not connected for this organization', {
          context: { reason: 'disconnected' },
        });
      }
      const step = async (phase: FullSyncPhase, work: () => Promise<void>): Promise<void> => {
        if (phaseOrder(cp.phase) > phaseOrder(phase)) return;
        cp.phase = phase;
        await work();
      };
      await step('indexing-initlive', () => this.indexInitLive(org, record, cp, init.signal));
      await step('reading-salesforce', async () => {
        await this.readSalesforce(org, conn, record, cp, init.signal);
        if (record.trigger === 'recovery') await this.readRecycleBin(org, conn, record, cp);
      });
      await step('reading-initlive', async () => {
        // Let the reconciler take in every Contact first: a staff member decided before the
        // Contact of the same person is known would be created in Salesforce a second time.
        await this.pacer.within(record, cp, 0, init.signal);
        await this.readInitLive(org, record, cp, init.signal);
      });
      await step('finding-missing', () => this.findMissing(org, conn, record, cp, init.signal));
      cp.phase = 'settling';
      await this.checkpoint(record, cp);
      const stuck = await this.settle(record, cp, init.signal);
      if (stuck) {
        record.status = 'failed';
        record.error = describeOutstanding(stuck, this.o.settleTimeoutMs);
        log.warn('full sync did not settle', {
          decisions: stuck.decisions,
          writesInitlive: stuck.writes.initlive,
          writesSalesforce: stuck.writes.salesforce,
        });
      } else {
        const failed = record.counts.failed.initlive + record.counts.failed.salesforce;
        record.status = failed > 0 ? 'partially_succeeded' : 'succeeded';
        await this.deps.positions.set(linkedMarkerName(orgId), runId);
      }
    } catch (err) {
      if (init.signal?.aborted) {
        log.info('full sync interrupted; it resumes from its checkpoint', { phase: cp.phase });
        this.pacer.forget(runId);
        await this.saveRecord(record, cp);
        throw init.signal.reason;
      }
      const e = toSyncError(err);
      record.status = 'failed';
      record.error = runErrorText(e);
      log.warn('full sync failed', { code: e.code, reason: e.message, phase: cp.phase });
    }
    this.pacer.forget(runId);
    record.endedAt = this.deps.now();
    this.countFrom(record, await this.deps.runStore.tally(orgId, runId).catch(() => null));
    record.progress = progressOf('done', cp);
    record.counts.read = { ...cp.read };
    await this.deps.runStore.save(record);
    await this.deps.runStore.forgetWork(orgId, runId);
    await this.announce(record, kindOf(record.status));
    this.deps.events.emit('run.finished', {
      orgId,
      runId,
      trigger: record.trigger,
      status: record.status,
      durationMs: record.endedAt - (record.startedAt ?? record.endedAt),
    });
    log.info('full sync ended', { status: record.status, counts: record.counts });
    return record;
  }

  /**
   * First pass over InitLive: staff emails -> staff id, kept in the run store. Contacts read
   * next name the staff member they match by email (as a CDC event names its
   * InitLive_Staff_Id__c), and those staff members name the Contact back, so the reconciler
   * links the two whichever it meets first instead of creating the person again on the other
   * side. An email held by two staff members matches nobody (the connector does not guess).
   */
  private async indexInitLive(
    org: OrgRuntime,
    record: RunRecord,
    cp: FullSyncCheckpoint,
    signal?: AbortSignal,
  ): Promise<void> {
    const after = cp.indexAfter;
    for await (const page of org.initlive.listStaff({
      status: 'all',
      pageSize: this.o.initlivePageSize,
    })) {
      signal?.throwIfAborted();
      const fresh = after === null ? page : page.filter((s) => s.id > after);
      if (fresh.length === 0) continue;
      const entries = fresh
        .filter((s) => typeof s.email === 'string' && s.email.trim() !== '')
        .map((s) => [normalizeEmail(s.email!), s.id] as const);
      await this.deps.runStore.putUnique(org.orgId, record.runId, 'initlive-email', entries);
      cp.indexAfter = fresh[fresh.length - 1]!.id;
      cp.sizes.initlive += fresh.length;
      await this.checkpoint(record, cp);
    }
  }

  /**
   * For Contacts not linked to anyone yet, the staff member with the same email, when that
   * staff member is not linked to a Contact either. Returns Contact Id -> staff id.
   */
  private async matchByEmail(
    org: OrgRuntime,
    runId: string,
    rows: readonly ContactRow[],
  ): Promise<Map<string, string>> {
    const { store, runStore } = this.deps;
    const loose = rows.filter((r) => {
      const ext = r.InitLive_Staff_Id__c;
      return (
        (ext === null || ext === undefined || ext === '') &&
        typeof r.Email === 'string' &&
        r.Email.trim() !== ''
      );
    });
    const out = new Map<string, string>();
    if (loose.length === 0) return out;
    const staffIds = await runStore.lookup(
      org.orgId,
      runId,
      'initlive-email',
      loose.map((r) => normalizeEmail(String(r.Email))),
    );
    for (let i = 0; i < loose.length; i++) {
      const staffId = staffIds[i];
      const contact = loose[i]!;
      if (!staffId) continue;
      // Already linked on either side: the stored link decides, not the email.
      const [byContact, byStaff] = await Promise.all([
        store.findPairId(org.orgId, 'salesforce', contact.Id),
        store.findPairId(org.orgId, 'initlive', staffId),
      ]);
      if (byContact) continue;
      if (byStaff) {
        const pair = await store.get(org.orgId, byStaff);
        if (pair?.state.salesforceId) continue;
      }
      out.set(contact.Id, staffId);
    }
    if (out.size > 0) {
      await runStore.putUnique(
        org.orgId,
        runId,
        'staff-contact',
        [...out].map(([c, s]) => [s, c] as const),
      );
    }
    return out;
  }

  private async readInitLive(
    org: OrgRuntime,
    record: RunRecord,
    cp: FullSyncCheckpoint,
    signal?: AbortSignal,
  ): Promise<void> {
    const after = cp.initliveAfter;
    for await (const page of org.initlive.listStaff({
      status: 'all',
      pageSize: this.o.initlivePageSize,
    })) {
      signal?.throwIfAborted();
      // Staff come in id order: what a previous attempt emitted is skipped, not sent again.
      const unread = after === null ? page : page.filter((s) => s.id > after);
      if (unread.length === 0) continue;
      // Staff created after the run started (by this run's own writes, or by people since) are
      // streaming's to carry: they were not there to be read.
      const startedAt = record.startedAt;
      const fresh =
        startedAt === null ? unread : unread.filter((s) => Date.parse(s.createdAt) < startedAt);
      // Every staff member listed exists, whether emitted or left to streaming.
      await this.deps.runStore.markSeen(
        org.orgId,
        record.runId,
        'initlive',
        unread.map((s) => s.id),
      );
      cp.initliveAfter = unread[unread.length - 1]!.id;
      if (fresh.length === 0) {
        await this.checkpoint(record, cp);
        continue;
      }
      const now = this.deps.now();
      const matched = await this.deps.runStore.lookup(
        org.orgId,
        record.runId,
        'staff-contact',
        fresh.map((s) => s.id),
      );
      await this.pacer.emit(
        record,
        cp,
        'staffChanges',
        fresh.map((s, i) => ({
          key: recordKey(org.orgId, s.id),
          value: {
            ...staffSnapshotOf(org.orgId, record.runId, s, org.settings.mapping, now),
            salesforceId: matched[i] ?? null,
            ...(matched[i] ? { matchedBy: 'email' } : {}),
          },
        })),
        signal,
      );
      cp.read.initlive += fresh.length;
      await this.checkpoint(record, cp);
    }
  }

  private async readSalesforce(
    org: OrgRuntime,
    conn: Connection,
    record: RunRecord,
    cp: FullSyncCheckpoint,
    signal?: AbortSignal,
  ): Promise<void> {
    if (!cp.salesforce) {
      await this.checkReserve(conn);
      const total = await countContacts(conn);
      cp.sizes.salesforce = total;
      cp.salesforce = {
        mode: total > this.o.restThreshold ? 'bulk' : 'rest',
        lastId: null,
        jobId: null,
        locator: null,
      };
      this.log.info('reading Contacts', { orgId: org.orgId, total, mode: cp.salesforce.mode });
      await this.checkpoint(record, cp);
    }
    const pages = readContacts(conn, cp.salesforce, {
      fields: contactFieldsFor(org.settings.mapping),
      bulkPageSize: this.o.bulkPageSize,
      bulkPollMs: this.o.bulkPollMs,
      bulkTimeoutMs: this.o.bulkTimeoutMs,
      signal,
    });
    for await (const page of pages) {
      signal?.throwIfAborted();
      await this.checkReserve(conn);
      const matched = await this.matchByEmail(org, record.runId, page.records);
      const now = this.deps.now();
      await this.pacer.emit(
        record,
        cp,
        'contactChanges',
        page.records.map((row) => {
          const value = contactSnapshotOf(org.orgId, record.runId, row, org.settings.mapping, now);
          const byEmail = value.initliveId === null ? (matched.get(row.Id) ?? null) : null;
          return {
            key: recordKey(org.orgId, row.Id),
            value: byEmail ? { ...value, initliveId: byEmail, matchedBy: 'email' } : value,
          };
        }),
        signal,
      );
      await this.deps.runStore.markSeen(
        org.orgId,
        record.runId,
        'salesforce',
        page.records.map((r) => r.Id),
      );
      cp.salesforce = page.cursor;
      cp.read.salesforce += page.records.length;
      await this.checkpoint(record, cp);
    }
  }

  /**
   * A recovery run (the store may have lost its links) also reads the deleted Contacts naming a
   * volunteer no pair knows, after the live ones are decided (see deletedCounterparts). They are
   * not marked seen, so the missing-records pass finds them gone.
   */
  private async readRecycleBin(
    org: OrgRuntime,
    conn: Connection,
    record: RunRecord,
    cp: FullSyncCheckpoint,
  ): Promise<void> {
    await this.pacer.within(record, cp, 0);
    await this.checkReserve(conn);
    const fields = contactFieldsFor(org.settings.mapping);
    const rows = await deletedCounterparts(this.deps, org.orgId, conn, fields);
    if (rows.length === 0) return;
    const now = this.deps.now();
    await produce(
      this.deps,
      'contactChanges',
      rows.map((row) => ({
        key: recordKey(org.orgId, row.Id),
        value: contactSnapshotOf(org.orgId, record.runId, row, org.settings.mapping, now),
      })),
    );
    this.log.info('deleted Contacts linked again from the recycle bin', {
      orgId: org.orgId,
      runId: record.runId,
      contacts: rows.length,
    });
    cp.emitted += rows.length;
    await this.checkpoint(record, cp);
  }

  /** Linked records this run did not read and that are gone: a DELETE each (see findMissingPage). */
  private async findMissing(
    org: OrgRuntime,
    conn: Connection,
    record: RunRecord,
    cp: FullSyncCheckpoint,
    signal?: AbortSignal,
  ): Promise<void> {
    const api = createSalesforceApi(conn);
    do {
      signal?.throwIfAborted();
      await this.checkReserve(conn);
      const page = await findMissingPage(
        this.deps,
        org,
        api,
        record,
        cp.missingCursor,
        this.o.missingPageSize,
        this.deps.now(),
      );
      const { staffGone, contactsGone } = page;
      await Promise.all([
        produce(
          this.deps,
          'staffChanges',
          staffGone.map((c) => ({ key: recordKey(org.orgId, c.initliveId), value: c })),
        ),
        produce(
          this.deps,
          'contactChanges',
          contactsGone.map((c) => ({ key: recordKey(org.orgId, c.salesforceId), value: c })),
        ),
      ]);
      if (staffGone.length + contactsGone.length > 0) {
        this.log.info('records missing on one side', {
          orgId: org.orgId,
          runId: record.runId,
          initlive: staffGone.length,
          salesforce: contactsGone.length,
        });
      }
      cp.emitted += staffGone.length + contactsGone.length;
      cp.missingCursor = page.cursor;
      await this.checkpoint(record, cp);
    } while (cp.missingCursor !== null);
  }

  /**
   * Waits until the run's work has landed: every record it emitted decided, and every write those
   * decisions (and their writes) caused answered by the sink that made it, written or refused.
   * The tally counting them is shared, so this holds whichever processes did the work. Returns
   * null once settled, or what is still outstanding when nothing landed for settleTimeoutMs.
   */
  private async settle(
    record: RunRecord,
    cp: FullSyncCheckpoint,
    signal?: AbortSignal,
  ): Promise<Outstanding | null> {
    let landed = -1;
    let movedAt = Date.now();
    let savedAt = Date.now();
    for (;;) {
      const tally = await this.deps.runStore.tally(record.orgId, record.runId);
      const outstanding = outstandingOf(tally, cp.emitted);
      this.countFrom(record, tally);
      if (isSettled(outstanding)) return null;
      const now = Date.now();
      const count = landedCount(tally);
      if (count !== landed) {
        landed = count;
        movedAt = now;
      }
      if (now - movedAt > this.o.settleTimeoutMs) return outstanding;
      if (now - savedAt >= 500) {
        savedAt = now;
        record.progress = progressOf('settling', cp, outstanding);
        await this.deps.runStore.save(record);
      }
      await sleep(this.o.settlePollMs, signal);
    }
  }

  /**
   * Stops the run (it keeps its checkpoint) when the org's last answer left less of the daily
   * API budget than the reserve for everyone else: a full sync must not use it up.
   */
  private async checkReserve(conn: Connection): Promise<void> {
    const usage = conn.limitInfo?.apiUsage;
    if (!usage || !belowReserve({ used: usage.used, max: usage.limit }, this.o.apiReserve)) return;
    // The last answer may date from a hold that has lifted since (a recovery run starting as
    // the allocation comes back): ask Salesforce once more before stopping the run.
    const { dailyApiRequests: d } = await createSalesforceApi(conn).limits();
    const refusal = reserveRefusal(
      { used: d.max - d.remaining, max: d.max },
      this.o.apiReserve,
      'the run stopped before reading more',
    );
    if (refusal) throw refusal;
  }

  /** The run's counts from its tally (kept as they were when the tally cannot be read). */
  private countFrom(record: RunRecord, tally: RunTally | null): void {
    if (tally) record.counts = { read: record.counts.read, ...countsOfTally(tally) };
  }

  private async checkpoint(record: RunRecord, cp: FullSyncCheckpoint): Promise<void> {
    cp.pages++;
    await this.deps.runStore.saveCheckpoint(record.orgId, record.runId, cp);
    this.countFrom(record, await this.deps.runStore.tally(record.orgId, record.runId));
    await this.saveRecord(record, cp);
    if (cp.pages % 10 === 0) await this.announce(record, 'PROGRESS');
    this.o.onCheckpoint?.(structuredClone(cp));
  }

  private async saveRecord(record: RunRecord, cp: FullSyncCheckpoint): Promise<void> {
    record.progress = progressOf(cp.phase, cp);
    record.counts.read = { ...cp.read };
    await this.deps.runStore.save(record);
  }

  private async announce(record: RunRecord, kind: SyncRunEvent['kind']): Promise<void> {
    try {
      await produce(this.deps, 'syncRuns', [
        {
          key: recordKey(record.orgId, record.runId),
          value: runEventOf(record, kind, this.deps.now()),
        },
      ]);
    } catch (err) {
      // The run history is the record of truth; a lost event only delays a consumer.
      this.log.warn('could not announce run event', { kind, reason: toSyncError(err).message });
    }
  }
}

/** Outcomes the run's tally has received: decisions and written (or refused) writes. */
function landedCount(tally: RunTally): number {
  const f = tallyFields;
  return (
    (tally[f.decided] ?? 0) + (tally[f.written.initlive] ?? 0) + (tally[f.written.salesforce] ?? 0)
  );
}

function phaseOrder(phase: FullSyncPhase): number {
  return phases.indexOf(phase);
}
