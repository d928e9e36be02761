import type { Connection } from 'jsforce';
import { normalizeEmail } from '../core/email-index';
import { fromInitLive, fromSalesforce } from '../core/mapping';
import type { ResolvedMapping } from '../core/mapping';
import type { Side } from '../core/pair-state';
import type { PairLinks } from '../core/version-store';
import type {
  FieldValues,
  InitLiveStaffChange,
  SalesforceContactChange,
  SyncRunEvent,
} from '../core/records';
import { recordKey } from '../core/topics';
import { SyncError, isSyncError, toSyncError } from '../errors';
import type { Staff } from '../infra/initlive';
import { createSalesforceApi } from '../infra/salesforce/salesforce-api';
import type { ContactRow } from '../infra/salesforce/salesforce-api';
import type { Logger } from '../logger';
import type { OrgRuntime } from '../orgs/org-directory';
import { produce } from '../pipeline/deps';
import type { PipelineDeps } from '../pipeline/deps';
import { sleep } from '../retry';
import { RunAccounting } from './run-accounting';
import type { RunStore } from './run-store';
import type { PerSide, RunRecord, RunStatus } from './run-types';
import { emptyCounts, isFinished, queuedRun } from './run-types';
import { countContacts, readContacts } from './salesforce-reader';
import type { SalesforceCursor } from './salesforce-reader';

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
  /** How long to wait for the reconciler to finish the run's records. Default 10 min. */
  settleTimeoutMs?: number;
  /** How often to look at the reconciler's progress while settling. Default 50 ms. */
  settlePollMs?: number;
  /**
   * Records the run may put on a change topic ahead of the reconciler; a page waits until the
   * reconciler's lag is below it. Bounds what a run holds in flight (in the in-memory
   * transport, all of it is heap) and leaves room on the topics for live changes. Default
   * 20,000.
   */
  maxAhead?: number;
  /** Called after each checkpoint is stored (tests and progress reporting). */
  onCheckpoint?: (checkpoint: FullSyncCheckpoint) => void;
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

const upper = { manual: 'MANUAL', scheduled: 'SCHEDULED', recovery: 'RECOVERY' } as const;

function valuesOf(canonical: Record<string, unknown>): FieldValues {
  const out: FieldValues = {};
  for (const [k, v] of Object.entries(canonical))
    if (v !== undefined) out[k] = v as FieldValues[string];
  return out;
}

/** Stamps Contact fields the mapping needs, plus what every snapshot carries. */
export function contactFieldsFor(mapping: ResolvedMapping): string[] {
  return [
    ...new Set([
      'Id',
      'LastModifiedDate',
      'InitLive_Staff_Id__c',
      ...mapping.map((m) => m.salesforceField),
    ]),
  ];
}

/** One staff member as a SNAPSHOT change record of run `runId`. */
export function staffSnapshotOf(
  orgId: string,
  runId: string,
  staff: Staff,
  mapping: ResolvedMapping,
  now: number,
): InitLiveStaffChange {
  return {
    orgId,
    initliveId: staff.id,
    salesforceId: null,
    operation: 'SNAPSHOT',
    changedFields: [],
    values: valuesOf(fromInitLive(staff, mapping)),
    sourceVersion: staff.version,
    sourcePosition: `snapshot:${runId}`,
    origin: null,
    observedAt: now,
    occurredAt: Date.parse(staff.updatedAt) || now,
    runId,
  };
}

/** One Contact row as a SNAPSHOT change record of run `runId`. */
export function contactSnapshotOf(
  orgId: string,
  runId: string,
  row: ContactRow,
  mapping: ResolvedMapping,
  now: number,
): SalesforceContactChange {
  const modified =
    typeof row.LastModifiedDate === 'string' ? Date.parse(row.LastModifiedDate) : Number.NaN;
  const ext = row.InitLive_Staff_Id__c;
  return {
    orgId,
    salesforceId: row.Id,
    initliveId: typeof ext === 'string' && ext !== '' ? ext : null,
    operation: 'SNAPSHOT',
    changedFields: [],
    values: valuesOf(fromSalesforce(row, mapping)),
    sourceVersion: Number.isFinite(modified) ? modified : 0,
    sourcePosition: `snapshot:${runId}`,
    origin: null,
    commitUser: null,
    transactionKey: null,
    sequenceNumber: null,
    observedAt: now,
    occurredAt: Number.isFinite(modified) ? modified : now,
    runId,
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
      maxAhead: Math.max(1, options.maxAhead ?? 20_000),
      onCheckpoint: options.onCheckpoint,
    };
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
    const accounting = new RunAccounting(
      this.deps.events,
      this.deps.topics,
      orgId,
      runId,
      record.counts,
    );
    accounting.attach();
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
      await step('reading-salesforce', () =>
        this.readSalesforce(org, conn, record, cp, init.signal),
      );
      await step('reading-initlive', async () => {
        // Let the reconciler take in every Contact first: a staff member decided before the
        // Contact of the same person is known would be created in Salesforce a second time.
        await this.reconcilerCaughtUp([this.deps.topics.contactChanges], init.signal);
        await this.readInitLive(org, record, cp, init.signal);
      });
      await step('finding-missing', () => this.findMissing(org, conn, record, cp, init.signal));
      cp.phase = 'settling';
      await this.checkpoint(record, cp);
      const settled = await this.settle(accounting, cp, init.signal);
      const failed = record.counts.failed.initlive + record.counts.failed.salesforce;
      record.status = failed > 0 ? 'partially_succeeded' : 'succeeded';
      if (!settled) {
        record.error =
          "the reconciler had not finished this run's records when the run ended; counts may be short";
      }
    } catch (err) {
      accounting.detach();
      if (init.signal?.aborted) {
        log.info('full sync interrupted; it resumes from its checkpoint', { phase: cp.phase });
        await this.saveRecord(record, cp);
        throw init.signal.reason;
      }
      const e = toSyncError(err);
      record.status = 'failed';
      record.error = `${e.code}: ${e.message}`;
      log.warn('full sync failed', { code: e.code, reason: e.message, phase: cp.phase });
    }
    accounting.detach();
    record.endedAt = this.deps.now();
    record.progress = progressOf('done', cp);
    record.counts.read = { ...cp.read };
    await this.deps.runStore.save(record);
    await this.deps.runStore.forgetWork(orgId, runId);
    await this.announce(record, kindOf(record.status));
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
      await this.reconcilerWithin([this.deps.topics.staffChanges], this.o.maxAhead, signal);
      await produce(
        this.deps,
        'staffChanges',
        fresh.map((s, i) => ({
          key: recordKey(org.orgId, s.id),
          value: {
            ...staffSnapshotOf(org.orgId, record.runId, s, org.settings.mapping, now),
            salesforceId: matched[i] ?? null,
          },
        })),
      );
      cp.read.initlive += fresh.length;
      cp.emitted += fresh.length;
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
      const matched = await this.matchByEmail(org, record.runId, page.records);
      await this.reconcilerWithin([this.deps.topics.contactChanges], this.o.maxAhead, signal);
      const now = this.deps.now();
      await produce(
        this.deps,
        'contactChanges',
        page.records.map((row) => {
          const value = contactSnapshotOf(org.orgId, record.runId, row, org.settings.mapping, now);
          return {
            key: recordKey(org.orgId, row.Id),
            value: { ...value, initliveId: value.initliveId ?? matched.get(row.Id) ?? null },
          };
        }),
      );
      await this.deps.runStore.markSeen(
        org.orgId,
        record.runId,
        'salesforce',
        page.records.map((r) => r.Id),
      );
      cp.salesforce = page.cursor;
      cp.read.salesforce += page.records.length;
      cp.emitted += page.records.length;
      await this.checkpoint(record, cp);
    }
  }

  /**
   * Linked records this run did not read: each is checked against its system (a record
   * created after the read passed it is not missing) and a DELETE is produced for the ones
   * really gone, for the reconciler to apply the delete policy.
   */
  private async findMissing(
    org: OrgRuntime,
    conn: Connection,
    record: RunRecord,
    cp: FullSyncCheckpoint,
    signal?: AbortSignal,
  ): Promise<void> {
    const { store, runStore } = this.deps;
    const api = createSalesforceApi(conn);
    let cursor = cp.missingCursor;
    do {
      signal?.throwIfAborted();
      const page = await store.listPairIds(org.orgId, cursor, this.o.missingPageSize);
      // Ids and versions first (cheap), then whole states only for pairs that may hold a record
      // gone missing, which after a healthy run is none: parsing every pair's state made this
      // pass the slowest part of a large run.
      const links = await store.getLinks(org.orgId, page.pairIds);
      const idsOn = (side: Side): string[] =>
        links.flatMap((l) => {
          const id = l && (side === 'initlive' ? l.initliveId : l.salesforceId);
          return id ? [id] : [];
        });
      const [ilCandidates, sfCandidates] = await Promise.all([
        runStore.unseen(org.orgId, record.runId, 'initlive', idsOn('initlive')),
        runStore.unseen(org.orgId, record.runId, 'salesforce', idsOn('salesforce')),
      ]);
      const unseenIds = { initlive: new Set(ilCandidates), salesforce: new Set(sfCandidates) };
      // Only records known before this run can have gone missing while offline: an id never
      // observed from its side was learnt from our own create, and a Contact observed since the
      // run started is one of our writes or a live edit. (holders() below applies the same
      // rules to whole states; the versions kept beside the ids let most pairs skip the state.)
      const mayBeGone = (l: PairLinks, side: Side): boolean => {
        const id = side === 'initlive' ? l.initliveId : l.salesforceId;
        if (!id || !unseenIds[side].has(id)) return false;
        if (!l.seen) return true;
        if (l.seen[side] === 0) return false;
        return !(
          side === 'salesforce' &&
          record.startedAt !== null &&
          l.seen[side] >= record.startedAt
        );
      };
      const suspectPairs = page.pairIds.filter((_, i) => {
        const l = links[i];
        return l != null && (mayBeGone(l, 'initlive') || mayBeGone(l, 'salesforce'));
      });
      const pairs = (await store.getMany(org.orgId, suspectPairs)).filter((p) => p !== null);
      const holders = (side: Side): Map<string, (typeof pairs)[number]> => {
        const out = new Map<string, (typeof pairs)[number]>();
        for (const p of pairs) {
          const id = side === 'initlive' ? p.state.initliveId : p.state.salesforceId;
          if (!id || p.state.status === 'deleted' || p.state.merge?.exists[side] === false)
            continue;
          // Only records known before this run can have gone missing while offline: skip ids
          // never observed from that side (learnt from our own create) and, for Salesforce,
          // records observed since the run started (our writes during the run, live edits).
          const seen = p.state.seen[side];
          if (seen === 0) continue;
          if (side === 'salesforce' && record.startedAt !== null && seen >= record.startedAt)
            continue;
          out.set(id, p);
        }
        return out;
      };
      const ilHolders = holders('initlive');
      const sfHolders = holders('salesforce');
      const ilUnseen = ilCandidates.filter((id) => ilHolders.has(id));
      const sfUnseen = sfCandidates.filter((id) => sfHolders.has(id));
      const now = this.deps.now();
      const staffGone: InitLiveStaffChange[] = [];
      for (const id of ilUnseen) {
        if (!(await staffIsGone(org, id))) continue;
        const pair = ilHolders.get(id)!;
        staffGone.push({
          orgId: org.orgId,
          initliveId: id,
          salesforceId: pair.state.salesforceId,
          operation: 'DELETE',
          changedFields: [],
          values: {},
          sourceVersion: pair.state.seen.initlive + 1,
          sourcePosition: `snapshot:${record.runId}`,
          origin: null,
          observedAt: now,
          occurredAt: now,
          runId: record.runId,
        });
      }
      const contactsGone: SalesforceContactChange[] = [];
      if (sfUnseen.length > 0) {
        const alive = new Set(
          (await api.getContactsByIds(sfUnseen, ['Id'])).map((r) => r.Id.slice(0, 15)),
        );
        for (const id of sfUnseen) {
          if (alive.has(id.slice(0, 15))) continue;
          const pair = sfHolders.get(id)!;
          contactsGone.push({
            orgId: org.orgId,
            salesforceId: id,
            initliveId: pair.state.initliveId,
            operation: 'DELETE',
            changedFields: [],
            values: {},
            sourceVersion: Math.max(now, pair.state.seen.salesforce + 1),
            sourcePosition: `snapshot:${record.runId}`,
            origin: null,
            commitUser: null,
            transactionKey: null,
            sequenceNumber: null,
            observedAt: now,
            occurredAt: now,
            runId: record.runId,
          });
        }
      }
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
      cursor = page.cursor;
      cp.missingCursor = cursor;
      await this.checkpoint(record, cp);
    } while (cursor !== null);
  }

  /**
   * Waits until the reconciler has finished every record of the run: all of them counted
   * here, or its consumer group caught up on both change topics (which also covers a
   * reconciler in another process). False when `settleTimeoutMs` passed first.
   */
  private async settle(
    accounting: RunAccounting,
    cp: FullSyncCheckpoint,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const deadline = Date.now() + this.o.settleTimeoutMs;
    const groupId = `${this.deps.groupPrefix}.reconciler`;
    const topics = [this.deps.topics.staffChanges, this.deps.topics.contactChanges];
    for (;;) {
      if (accounting.processed >= cp.emitted) return true;
      const lag = await this.deps.transport.lag(groupId, topics).catch(() => null);
      if (lag && lag.every((p) => p.lag === 0)) {
        // Outcome events are emitted before the commit; give in-process listeners a tick.
        await new Promise((r) => setImmediate(r));
        return true;
      }
      if (Date.now() > deadline) return false;
      await sleep(this.o.settlePollMs, signal);
    }
  }

  /** Waits until the reconciler's consumer group has no lag on `topics`. */
  private reconcilerCaughtUp(topics: string[], signal?: AbortSignal): Promise<boolean> {
    return this.reconcilerWithin(topics, 0, signal);
  }

  /**
   * Waits until the reconciler's consumer group (it may run in another process) has at most
   * `maxLag` records left on `topics`. Bounded: after two minutes, or settleTimeoutMs if
   * shorter, the run goes on.
   */
  private async reconcilerWithin(
    topics: string[],
    maxLag: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const deadline = Date.now() + Math.min(this.o.settleTimeoutMs, 120_000);
    const groupId = `${this.deps.groupPrefix}.reconciler`;
    for (;;) {
      const lag = await this.deps.transport.lag(groupId, topics).catch(() => null);
      if (lag && lag.reduce((sum, p) => sum + p.lag, 0) <= maxLag) return true;
      if (Date.now() > deadline) {
        this.log.warn('the reconciler is still behind; the run goes on', { topics, maxLag });
        return false;
      }
      await sleep(this.o.settlePollMs, signal);
    }
  }

  private async checkpoint(record: RunRecord, cp: FullSyncCheckpoint): Promise<void> {
    cp.pages++;
    await this.deps.runStore.saveCheckpoint(record.orgId, record.runId, cp);
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
    const c = record.counts ?? emptyCounts();
    const event: SyncRunEvent = {
      orgId: record.orgId,
      runId: record.runId,
      kind,
      trigger: upper[record.trigger],
      reason: record.reason,
      at: this.deps.now(),
      counts: {
        readInitlive: c.read.initlive,
        readSalesforce: c.read.salesforce,
        createdInitlive: c.created.initlive,
        createdSalesforce: c.created.salesforce,
        updatedInitlive: c.updated.initlive,
        updatedSalesforce: c.updated.salesforce,
        unchanged: c.unchanged,
        conflicts: c.conflicts,
        failedInitlive: c.failed.initlive,
        failedSalesforce: c.failed.salesforce,
      },
    };
    try {
      await produce(this.deps, 'syncRuns', [
        { key: recordKey(record.orgId, record.runId), value: event },
      ]);
    } catch (err) {
      // The run history is the record of truth; a lost event only delays a consumer.
      this.log.warn('could not announce run event', { kind, reason: toSyncError(err).message });
    }
  }
}

function progressOf(phase: string, cp: FullSyncCheckpoint): RunRecord['progress'] {
  const { sizes } = cp;
  return {
    phase,
    read: { ...cp.read },
    done: cp.read.initlive + cp.read.salesforce,
    total:
      sizes.salesforce === null || cp.phase === 'indexing-initlive'
        ? null
        : Math.max(sizes.initlive + sizes.salesforce, cp.read.initlive + cp.read.salesforce),
  };
}

function phaseOrder(phase: FullSyncPhase): number {
  return phases.indexOf(phase);
}

function kindOf(status: RunStatus): SyncRunEvent['kind'] {
  return status === 'succeeded'
    ? 'SUCCEEDED'
    : status === 'partially_succeeded'
      ? 'PARTIALLY_SUCCEEDED'
      : 'FAILED';
}

async function staffIsGone(org: OrgRuntime, id: string): Promise<boolean> {
  try {
    await org.initlive.getStaff(id);
    return false;
  } catch (err) {
    if (isSyncError(err) && err.code === 'NOT_FOUND') return true;
    throw err;
  }
}
