import { forEachLimit } from '../concurrency';
import { fromInitLive } from '../core/mapping';
import { outcomeSide } from '../core/outcomes';
import { fingerprint } from '../core/pair-state';
import type {
  FieldValues,
  InitLiveStaffChange,
  InitLiveWrite,
  OutcomeResult,
  SalesforceWrite,
} from '../core/records';
import { recordKey } from '../core/topics';
import type { ConsumedRecord, RecordBatch, Subscription } from '../core/transport';
import { SyncError, isRetriable, toSyncError } from '../errors';
import type { Staff } from '../infra/initlive';
import type { OrgRuntime } from '../orgs/org-directory';
import { sendToDeadLetters } from '../pipeline/dead-letters';
import { produce } from '../pipeline/deps';
import type { PipelineDeps } from '../pipeline/deps';
import { recordLink } from '../pipeline/links';
import { OutcomeBatch } from '../pipeline/outcomes';
import { backoffDelayMs, sleep } from '../retry';
import type { RetryPolicy } from '../retry';
import { staffSnapshot } from '../source-initlive/staff-change';
import { lacksAddressParts, planWrites, writesAnswers } from './initlive/plan';
import type { DecodedWrite, KnownPair, PlannedOp } from './initlive/plan';
import { describeRejection, duplicateHolder } from './initlive/rejection';
import { failureOf, writeOutcome } from './write-outcomes';
import type { ParkedWriteStore } from './parked-writes';
import type { ParkMarks } from './park-marks';
import {
  DEFAULT_ORG_SHARE,
  InHand,
  WritePark,
  type ParkedOldest,
  heldError,
  overflowOf,
} from './write-park';

/** InitLive's ceiling per batch request. */
export const INITLIVE_BATCH_SIZE = 200;

/**
 * Store updates in flight while linking the staff members one batch call created: all of them,
 * so their round trips share socket writes (the Redis client pipelines one tick's commands).
 */
const APPLY_CONCURRENCY = INITLIVE_BATCH_SIZE;

export interface InitLiveSinkOptions {
  /**
   * Records per handled batch. Operations are sent 200 per InitLive call, so a multiple of 200
   * wastes no calls. Default 1000.
   */
  maxBatchSize?: number;
  /** Where a consumer group with no committed offset starts; default the oldest record. */
  fromBeginning?: boolean;
  /**
   * Wait while InitLive cannot take writes (429/5xx after the client's own retries, a
   * rejected key), growing per attempt; the sink holds its batch and never gives up.
   */
  holdBackoff?: RetryPolicy;
  /**
   * Where an org's writes wait while its InitLive refuses them (429/5xx, a rejected key), so
   * the partitions it shares with other orgs move on; each wait of `holdBackoff` then tries
   * the head of its list again. Without it the org's batch waits here, uncommitted.
   */
  parked?: ParkedWriteStore;
  /**
   * With `parked`: where the parked writes' positions in the topic are kept outside the store
   * (the state witness), so that a store that comes back empty loses none (WritePark.restore).
   */
  parkMarks?: ParkMarks;
  /**
   * With `parked` and more than one organization: the writes of one organization this sink
   * holds straight from its partitions at most; more, and any full sync's writes, are parked
   * and written from there (as the Salesforce sink's `orgShare`). Default 2,000.
   */
  orgShare?: number;
}

export interface InitLiveSinkStats {
  /** Write commands applied in InitLive. */
  written: number;
  /** Staff members created. */
  created: number;
  /** Write commands sent to dead letters. */
  deadLettered: number;
  /** 412s answered with a fresh snapshot on the staff-changes topic. */
  resynced: number;
  /** InitLive batch calls made. */
  batchCalls: number;
  /** Waits while InitLive could not take writes. */
  holds: number;
}

const defaultHoldBackoff: RetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  initialDelayMs: 1000,
  maxDelayMs: 60_000,
  factor: 2,
  jitter: 0.5,
};

const LINK_CAUSE = 'initlive-sink:link';

/** Errors worth waiting out; AUTH_FAILED too, since an admin reconnecting fixes it. */
function holdable(err: SyncError): boolean {
  return err.retriable || err.code === 'AUTH_FAILED';
}

/** Failures of one organization's InitLive (not of the shared transport or store): parked. */
const ORG_FAULTS = new Set(['RATE_LIMITED', 'UPSTREAM_UNAVAILABLE', 'AUTH_FAILED']);

function orgIdOfKey(key: string): string | null {
  const slash = key.indexOf('/');
  return slash > 0 ? key.slice(0, slash) : null;
}

interface ChunkResults {
  /** Produced before the snapshots and links, which they cause. */
  outcomes: OutcomeBatch;
  snapshots: InitLiveStaffChange[];
  links: SalesforceWrite[];
  retry: PlannedOp[];
  retryError: SyncError | null;
  written: number;
  created: number;
}

/**
 * Consumes InitLive write commands and applies them through InitLive's batch endpoint, at
 * most 200 operations per call, with `ifMatch` and our `X-Change-Origin` (the org's client
 * sends it). Per handled batch and organization, writes are planned (see planWrites: safe
 * coalescing, a create never repeated for a pair that already has its staff id), sent in
 * order, and each outcome recorded:
 *
 * - a create records its staff id on the pair and asks the Salesforce sink to stamp the
 *   Contact with it (a SalesforceWrite by Contact Id);
 * - a 412 version mismatch re-reads the staff member and puts a SNAPSHOT of it on the
 *   staff-changes topic, so the reconciler decides again against what InitLive holds now;
 * - a refusal that a retry will not fix (duplicate email, invalid fields) goes to the
 *   dead-letter topic with a clear reason, while the rest of the batch lands;
 * - 429/5xx left over after the client's retries, per call or per operation, hold the batch
 *   and retry it after a backoff: nothing is committed and nothing dropped meanwhile.
 *
 * handleBatch resolves (and the offsets commit) only after the writes, dead letters and
 * produced records are acknowledged. A batch redelivered after a crash repeats its updates
 * (their ifMatch turns a repeat into a harmless 412) and, thanks to the recorded link, turns
 * its creates into updates.
 */
type Adoption = 'adopted' | 'pair-gone' | 'no';

export class InitLiveSink {
  private subscription: Subscription | null = null;
  private abort = new AbortController();
  /** Organizations whose writes are held: why (an error code) and since when. */
  private readonly paused = new Map<string, { code: string; since: number }>();
  /** Writes of each organization in the batches being handled (held with them in a pause). */
  private readonly inHand = new InHand();
  private readonly backoff: RetryPolicy;
  private readonly park: WritePark<DecodedWrite> | null;
  private readonly log: PipelineDeps['logger'];
  private readonly counters: InitLiveSinkStats = {
    written: 0,
    created: 0,
    deadLettered: 0,
    resynced: 0,
    batchCalls: 0,
    holds: 0,
  };

  constructor(
    private readonly deps: PipelineDeps,
    private readonly options: InitLiveSinkOptions = {},
  ) {
    this.backoff = options.holdBackoff ?? defaultHoldBackoff;
    this.log = deps.logger.child({ component: 'sink-initlive' });
    this.park = options.parked
      ? new WritePark({
          store: options.parked,
          sink: 'initlive',
          logger: this.log,
          heldFor: (orgId) => this.pausedFor(orgId),
          decode: (record) => this.decode(record),
          write: (orgId, writes) => this.writeCounted(orgId, writes),
          drainStep: options.maxBatchSize ?? 1000,
          retryMs: 1_000,
          ...(options.parkMarks ? { marks: options.parkMarks } : {}),
          reread: (from, keep) =>
            this.deps.transport.readFrom(this.deps.topics.initliveWrites, from, keep),
          probeBackoff: this.backoff,
        })
      : null;
  }

  get groupId(): string {
    return `${this.deps.groupPrefix}.sink-initlive`;
  }

  /**
   * The state store lost its data: reads again from the topic the parked writes it held, for
   * every organization whose marks the state witness keeps (WritePark.restoreAll). Resolves
   * once they are parked again; may run before start().
   */
  restoreParked(): Promise<void> {
    return this.park?.restoreAll() ?? Promise.resolve();
  }

  /** Per organization with writes parked here, its oldest (see WritePark.oldest). */
  parkedOldest(): ParkedOldest[] {
    return this.park?.oldest() ?? [];
  }

  /** Joins the consumer group on the InitLive writes topic. Idempotent. */
  async start(): Promise<void> {
    if (this.subscription) return;
    this.abort = new AbortController();
    this.park?.start();
    this.park?.recover(this.deps.orgs.list().map((o) => o.orgId));
    this.subscription = await this.deps.transport.subscribe({
      groupId: this.groupId,
      topics: [this.deps.topics.initliveWrites],
      fromBeginning: this.options.fromBeginning ?? true,
      maxBatchSize: this.options.maxBatchSize ?? 1000,
      // Writes are keyed by pair, so each pair's stay in order within its partition.
      partitionConcurrency: 16,
      handleBatch: (batch) => this.handleBatch(batch),
      onError: (err) => {
        const e = toSyncError(err);
        this.log.warn('InitLive sink batch failed; it will be redelivered', {
          code: e.code,
          message: e.message,
        });
      },
    });
    await this.subscription.ready();
  }

  /**
   * Leaves the group. A batch waiting out an InitLive outage stops waiting and is left
   * uncommitted (it comes again later); a batch being written finishes and commits. Idempotent.
   */
  async stop(): Promise<void> {
    const subscription = this.subscription;
    if (!subscription) return;
    this.subscription = null;
    this.abort.abort(new SyncError('CONFLICT', 'InitLive sink is stopping', { retriable: false }));
    await subscription.stop();
    await this.park?.stop();
  }

  stats(): InitLiveSinkStats {
    return { ...this.counters };
  }

  /** Why an org's writes are held right now (an error code), or null. */
  pausedFor(orgId: string): string | null {
    return this.paused.get(orgId)?.code ?? null;
  }

  /**
   * Applies one partition's batch of write commands; see the class comment. Throws (so the
   * batch is redelivered) only when stopping mid-wait, or when a store, registry or transport
   * outage outlasts what can be held here.
   */
  async handleBatch(batch: RecordBatch): Promise<void> {
    const byOrg = new Map<string, DecodedWrite[]>();
    for (const record of batch.records) {
      const decoded = await this.decode(record);
      if (!decoded) continue;
      const list = byOrg.get(decoded.write.orgId) ?? [];
      list.push(decoded);
      byOrg.set(decoded.write.orgId, list);
    }
    await this.park?.prepare([...byOrg.keys()]);
    await Promise.all(
      [...byOrg].map(([orgId, writes]) =>
        this.park
          ? this.park.submit(
              orgId,
              writes,
              () => this.writeCounted(orgId, writes),
              this.overflow(orgId, writes),
            )
          : this.writeCounted(orgId, writes),
      ),
    );
  }

  private overflow(orgId: string, writes: readonly DecodedWrite[]): string | null {
    return overflowOf({
      run: writes.some((w) => Boolean(w.write.runId)),
      inHand: this.inHand.of(orgId),
      count: writes.length,
      share: Math.max(1, this.options.orgShare ?? DEFAULT_ORG_SHARE),
      organizations: () => this.deps.orgs.list().length,
    });
  }

  /** The write in a record, or null when it went to dead letters. */
  private async decode(record: ConsumedRecord): Promise<DecodedWrite | null> {
    try {
      return { write: await this.deps.codec.decode('InitLiveWrite', record.value), record };
    } catch (err) {
      // A registry outage is not the record's fault: redeliver rather than dead-letter.
      if (isRetriable(err)) throw err;
      await this.deadLetter(orgIdOfKey(record.key), record, err, null, 1);
      return null;
    }
  }

  private async writeCounted(orgId: string, writes: DecodedWrite[]): Promise<void> {
    await this.inHand.around(orgId, writes.length, () => this.writeOrg(orgId, writes));
  }

  private async writeOrg(orgId: string, writes: DecodedWrite[]): Promise<void> {
    const org = await this.deps.orgs.resolve(orgId);
    if (!org) {
      const err = new SyncError('NOT_FOUND', `organization ${orgId} is not connected`, {
        context: { orgId },
      });
      for (const w of writes) {
        await this.deadLetter(orgId, w.record, err, null, w.write.attempt, w.write);
      }
      return;
    }
    const pairIds = [...new Set(writes.map((w) => w.write.pairId))];
    const stored = await this.deps.store.getMany(orgId, pairIds);
    const creating = new Set(
      writes.filter((w) => w.write.operation === 'CREATE').map((w) => w.write.pairId),
    );
    const known = new Map<string, KnownPair>();
    pairIds.forEach((pairId, i) => {
      const state = stored[i]?.state;
      if (!state) return;
      const pending =
        creating.has(pairId) && state.initliveId !== null && state.merge
          ? new Set(state.merge.pending.initlive.map((p) => fingerprint(p.fields)))
          : undefined;
      known.set(pairId, {
        initliveId: state.initliveId,
        salesforceId: state.salesforceId,
        values: state.merge?.current.initlive ?? state.base ?? {},
        ...(pending ? { pending } : {}),
      });
    });
    await this.readMissingAddresses(orgId, writes, known);
    await this.readAnswers(orgId, writes, known);
    const plan = planWrites(writes, org.settings.mapping, known);
    for (const { write, error } of plan.invalid) {
      await this.deadLetter(orgId, write.record, error, null, write.write.attempt, write.write);
    }
    if (plan.superseded.length > 0) await this.dropSuperseded(orgId, plan.superseded);
    for (let i = 0; i < plan.ops.length; i += INITLIVE_BATCH_SIZE) {
      await this.writeChunk(orgId, plan.ops.slice(i, i + INITLIVE_BATCH_SIZE), known);
    }
  }

  /**
   * Reads the staff members whose update names only part of the address and whose other
   * parts the store does not know (rare: the reconciler normally knows InitLive's values).
   */
  private async readMissingAddresses(
    orgId: string,
    writes: readonly DecodedWrite[],
    known: Map<string, KnownPair>,
  ): Promise<void> {
    for (const { write } of writes) {
      const pair = known.get(write.pairId);
      const id = write.initliveId ?? pair?.initliveId ?? null;
      if (id === null || !lacksAddressParts(write, pair?.values ?? {})) continue;
      let staff: Staff;
      try {
        staff = await this.hold(orgId, () => this.org(orgId).initlive.getStaff(id));
      } catch (err) {
        // A staff member that is gone fails its write with a clear reason below.
        if (toSyncError(err).code === 'NOT_FOUND') continue;
        throw err;
      }
      const values: FieldValues = { ...pair?.values };
      for (const [field, value] of Object.entries(fromInitLive(staff))) {
        if (value !== undefined) values[field] = value;
      }
      known.set(write.pairId, {
        initliveId: pair?.initliveId ?? id,
        salesforceId: pair?.salesforceId ?? null,
        values,
      });
    }
  }

  /**
   * Reads the staff members whose update writes form answers: InitLive replaces customAnswers
   * whole, so their other answers go back with the patch. One read each, only for orgs that map
   * answers, only for the updates that carry one; the write's If-Match still guards against a
   * change in between.
   */
  private async readAnswers(
    orgId: string,
    writes: readonly DecodedWrite[],
    known: Map<string, KnownPair>,
  ): Promise<void> {
    if (!this.deps.orgs.get(orgId)?.settings.mapping.some((m) => m.answer)) return;
    for (const { write } of writes) {
      if (!writesAnswers(write)) continue;
      const pair = known.get(write.pairId);
      const id = write.initliveId ?? pair?.initliveId ?? null;
      if (id === null || pair?.answers) continue;
      let staff: Staff;
      try {
        staff = await this.hold(orgId, () => this.org(orgId).initlive.getStaff(id));
      } catch (err) {
        if (toSyncError(err).code === 'NOT_FOUND') continue;
        throw err;
      }
      known.set(write.pairId, {
        initliveId: pair?.initliveId ?? id,
        salesforceId: pair?.salesforceId ?? null,
        values: pair?.values ?? {},
        answers: { ...staff.customAnswers },
      });
    }
  }

  /** One InitLive batch call (plus its retries); returns once every outcome is recorded. */
  private async writeChunk(
    orgId: string,
    ops: PlannedOp[],
    known: ReadonlyMap<string, KnownPair>,
  ): Promise<void> {
    let pending = ops;
    let retryError: SyncError | null = null;
    for (let round = 1; pending.length > 0; round++) {
      if (round > 1) await this.wait(orgId, round - 1, retryError);
      const sending = pending;
      let outcomes;
      try {
        outcomes = await this.hold(orgId, () => {
          const org = this.org(orgId);
          this.counters.batchCalls++;
          return org.initlive.batch(sending.map((p) => p.operation));
        });
      } catch (err) {
        const e = toSyncError(err);
        if (holdable(e)) throw e;
        // The call as a whole was refused (a malformed batch, a broken response): retrying
        // the same request gets the same answer.
        for (const op of sending) await this.rejectOp(orgId, op, e);
        return;
      }
      const results: ChunkResults = {
        outcomes: new OutcomeBatch(),
        snapshots: [],
        links: [],
        retry: [],
        retryError: null,
        written: 0,
        created: 0,
      };
      // Creates are linked in the store, a round trip or two each: pairs side by side (a
      // bounded number at a time), each pair's ops in order.
      const applied = new Map<string, Array<{ op: PlannedOp; staff: Staff | null }>>();
      for (let i = 0; i < sending.length; i++) {
        const outcome = outcomes[i];
        if (!outcome?.ok) continue;
        const op = sending[i]!;
        const list = applied.get(op.pairId) ?? [];
        list.push({ op, staff: outcome.staff });
        applied.set(op.pairId, list);
      }
      await forEachLimit([...applied.values()], APPLY_CONCURRENCY, async (list) => {
        for (const { op, staff } of list) await this.applied(orgId, op, staff, known, results);
      });
      for (let i = 0; i < sending.length; i++) {
        const op = sending[i]!;
        const outcome = outcomes[i];
        if (!outcome || outcome.ok) continue;
        const e = outcome.error;
        let adoption: Adoption;
        if (e.code === 'STALE_VERSION') {
          await this.resnapshot(orgId, op, known, results);
        } else if ((adoption = await this.adopted(orgId, op, e)) === 'adopted') {
          // The person was entered in InitLive too, at the same moment: decide again on them.
          await this.resnapshot(orgId, { ...op, initliveId: duplicateHolder(e)! }, known, results);
        } else if (adoption === 'pair-gone') {
          // Nothing left to write for: the pair is gone, and whoever holds the email is
          // decided from their own records (the feed, a repair run), not by this write.
          await this.resnapshot(orgId, { ...op, initliveId: null }, known, results);
        } else if (e.code === 'NOT_FOUND' && op.kind === 'delete') {
          // Already gone (a redelivered delete, or removed in InitLive meanwhile): done.
          this.countApplied(orgId, op, results, null);
        } else if (e.code === 'NOT_FOUND' && op.initliveId !== null) {
          // Deleted in InitLive after the decision: the deletion's own change decides the pair.
          await this.resnapshot(orgId, op, known, results);
        } else if (holdable(e)) {
          results.retry.push(op);
          results.retryError ??= e;
        } else {
          await this.rejectOp(orgId, op, e);
        }
      }
      // Outcomes before what they cause (re-reads, Contact stamps): see OutcomeBatch.
      await this.hold(orgId, () => results.outcomes.produce(this.deps));
      await this.hold(orgId, async () => {
        await produce(
          this.deps,
          'staffChanges',
          results.snapshots.map((value) => ({ key: recordKey(orgId, value.initliveId), value })),
        );
        await produce(
          this.deps,
          'salesforceWrites',
          results.links.map((value) => ({ key: recordKey(orgId, value.pairId), value })),
        );
      });
      if (results.written > 0) {
        this.deps.events.emit('sink.records', {
          sink: 'initlive',
          orgId,
          count: results.written,
          created: results.created,
        });
      }
      pending = results.retry;
      retryError = results.retryError;
    }
  }

  private async applied(
    orgId: string,
    op: PlannedOp,
    staff: Staff | null,
    known: ReadonlyMap<string, KnownPair>,
    results: ChunkResults,
  ): Promise<void> {
    let stamp: SalesforceWrite | null = null;
    if (op.kind === 'create' && staff) {
      const linked = await this.hold(orgId, () =>
        recordLink(this.deps, orgId, op.pairId, 'initlive', staff.id),
      );
      if (!linked) {
        this.log.warn('created staff member not linked: the pair is unknown or already linked', {
          orgId,
          pairId: op.pairId,
          staffId: staff.id,
        });
      }
      const salesforceId =
        [...op.writes].reverse().find((w) => w.write.salesforceId !== null)?.write.salesforceId ??
        known.get(op.pairId)?.salesforceId ??
        null;
      // Stamp our id on the Contact so later upserts by external id find it, unless the
      // organization syncs Salesforce -> InitLive only: then nothing may be written there.
      const writesToSalesforce =
        this.deps.orgs.get(orgId)?.settings.direction !== 'salesforce_to_initlive';
      if (salesforceId !== null && writesToSalesforce) {
        stamp = this.linkWrite(orgId, op, staff, salesforceId);
        results.links.push(stamp);
      }
    }
    this.countApplied(orgId, op, results, op.kind === 'create' ? (staff?.id ?? null) : null, stamp);
  }

  /**
   * Counts an op's writes as applied and records their outcomes: the first write of a create
   * created the staff member (and caused the Contact stamp, when there is one); the writes
   * folded into it, and every other op's writes, updated or deleted it.
   */
  private countApplied(
    orgId: string,
    op: PlannedOp,
    results: ChunkResults,
    createdId: string | null,
    stamp: SalesforceWrite | null = null,
  ): void {
    const created = createdId !== null;
    results.written += op.writes.length;
    if (created) results.created++;
    this.counters.written += op.writes.length;
    if (created) this.counters.created++;
    const now = this.deps.now();
    op.writes.forEach(({ write, record }, i) => {
      this.deps.events.emit('sync.latency', {
        orgId,
        from: 'salesforce',
        ms: Math.max(0, now - write.decidedAt),
      });
      const result: OutcomeResult =
        created && i === 0 ? 'CREATED' : op.kind === 'delete' ? 'DELETED' : 'UPDATED';
      results.outcomes.add(
        orgId,
        writeOutcome('initlive', record, write, result, now, {
          ...(createdId !== null ? { initliveId: createdId } : {}),
          ...(created && i === 0 ? { linkedBy: 'created' } : {}),
          ...(stamp && i === 0 ? { writesTo: [outcomeSide('salesforce')] } : {}),
        }),
      );
    });
  }

  /** Stamps the Contact with the new staff id (the Salesforce sink updates by Id). */
  private linkWrite(
    orgId: string,
    op: PlannedOp,
    staff: Staff,
    salesforceId: string,
  ): SalesforceWrite {
    const first = op.writes[0];
    const org = this.deps.orgs.get(orgId);
    const field =
      org?.settings.mapping.find((m) => m.field === 'initliveId')?.salesforceField ??
      'InitLive_Staff_Id__c';
    const fields: FieldValues = { [field]: staff.id };
    return {
      orgId,
      pairId: op.pairId,
      operation: 'UPSERT',
      externalId: null,
      salesforceId,
      fields,
      fingerprint: fingerprint(fields),
      causedBy: LINK_CAUSE,
      decidedAt: this.deps.now(),
      attempt: 1,
      // The stamp belongs to whatever the create belongs to: its run (so it goes by Bulk with
      // the run's other writes, see the Salesforce sink) and, as its cause, the create's outcome.
      runId: op.writes[0]?.write.runId ?? null,
      causeId: first ? writeOutcome('initlive', first.record, first.write, 'CREATED', 0).id : null,
    };
  }

  /**
   * The record moved on since the write was decided: re-read it and hand the reconciler a
   * snapshot, so it decides again. A record that is gone needs nothing: the feed carries its
   * deletion.
   */
  /**
   * A create InitLive refuses because a staff member already holds the email is the same person
   * entered on both sides at once, met by the reconciler from each side before either was
   * linked: the pair takes that staff member unless another pair holds them. A create whose
   * pair the store no longer holds (it lost its data; a redelivery of a create that landed
   * before) is `pair-gone`: there is nobody to adopt for.
   */
  private async adopted(orgId: string, op: PlannedOp, e: SyncError): Promise<Adoption> {
    const holder = duplicateHolder(e);
    if (op.kind !== 'create' || holder === null) return 'no';
    const linked = await this.hold(orgId, () =>
      this.deps.store.link(orgId, op.pairId, 'initlive', holder),
    );
    if (linked.outcome === 'link-owned') return 'no';
    if (linked.outcome === 'absent') {
      this.log.info('create refused as a duplicate for a pair the store no longer holds; dropped', {
        orgId,
        pairId: op.pairId,
        staffId: holder,
      });
      return 'pair-gone';
    }
    const pair = (await this.deps.store.getMany(orgId, [op.pairId]))[0];
    if (pair?.state.initliveId !== holder) return 'no';
    this.log.info('create matched a staff member holding its email', {
      orgId,
      pairId: op.pairId,
      staffId: holder,
    });
    return 'adopted';
  }

  private async resnapshot(
    orgId: string,
    op: PlannedOp,
    known: ReadonlyMap<string, KnownPair>,
    results: ChunkResults,
  ): Promise<void> {
    const now = this.deps.now();
    const superseded = (decisions: number): void => {
      // The run (if any) of the first write is the re-read's: it counts the decision to come.
      op.writes.forEach(({ write, record }, i) =>
        results.outcomes.add(
          orgId,
          writeOutcome('initlive', record, write, 'SUPERSEDED', now, {
            decisions: i === 0 ? decisions : 0,
          }),
        ),
      );
    };
    const id = op.initliveId;
    if (id === null) return superseded(0);
    let staff: Staff;
    try {
      staff = await this.hold(orgId, () => this.org(orgId).initlive.getStaff(id));
    } catch (err) {
      if (toSyncError(err).code === 'NOT_FOUND') return superseded(0);
      throw err;
    }
    const org = this.deps.orgs.get(orgId);
    if (!org) return superseded(0);
    const salesforceId =
      op.writes.find((w) => w.write.salesforceId !== null)?.write.salesforceId ??
      known.get(op.pairId)?.salesforceId ??
      null;
    results.snapshots.push({
      ...staffSnapshot(
        orgId,
        staff,
        org.settings.mapping,
        this.deps.now(),
        salesforceId,
        'write_rejected',
      ),
      runId: op.writes[0]?.write.runId ?? null,
    });
    superseded(1);
    this.counters.resynced++;
    this.log.info('InitLive write was stale; snapshot sent for a new decision', {
      orgId,
      pairId: op.pairId,
      staffId: id,
      version: staff.version,
    });
  }

  /** Creates the pair no longer waits for (see WritePlan): their outcome, and nothing sent. */
  private async dropSuperseded(orgId: string, writes: readonly DecodedWrite[]): Promise<void> {
    const outcomes = new OutcomeBatch();
    const now = this.deps.now();
    for (const { record, write } of writes) {
      outcomes.add(orgId, writeOutcome('initlive', record, write, 'SUPERSEDED', now));
      this.log.info(
        'create of a pair that has its staff member and no longer awaits it; not sent',
        {
          orgId,
          pairId: write.pairId,
        },
      );
    }
    await this.hold(orgId, () => outcomes.produce(this.deps));
  }

  private async rejectOp(orgId: string, op: PlannedOp, err: SyncError): Promise<void> {
    const { error, upstreamCode } = describeRejection(op, err);
    for (const w of op.writes) {
      await this.deadLetter(orgId, w.record, error, upstreamCode, w.write.attempt, w.write);
    }
  }

  private async deadLetter(
    orgId: string | null,
    record: ConsumedRecord,
    err: unknown,
    upstreamCode: string | null,
    attempts: number,
    write: InitLiveWrite | null = null,
  ): Promise<void> {
    const letter = await this.hold(orgId, () =>
      sendToDeadLetters(this.deps, {
        orgId,
        original: record,
        recordType: 'InitLiveWrite',
        error: err,
        upstreamCode,
        attempts,
      }),
    );
    this.counters.deadLettered++;
    if (orgId !== null) {
      if (write) {
        const outcomes = new OutcomeBatch();
        outcomes.add(
          orgId,
          writeOutcome('initlive', record, write, 'FAILED', this.deps.now(), failureOf(letter)),
        );
        await this.hold(orgId, () => outcomes.produce(this.deps));
      }
      this.deps.events.emit('sink.failed', {
        sink: 'initlive',
        orgId,
        count: 1,
        code: letter.errorCode,
      });
    }
  }

  /**
   * Runs `fn` until it succeeds, waiting out errors that time fixes (429/5xx after the
   * client's own retries, transport and store outages, a rejected key). Other errors are
   * thrown at once. Reports the pause and the resumption once per organization.
   */
  private async hold<T>(orgId: string | null, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await fn();
        if (orgId !== null && this.paused.delete(orgId)) {
          this.deps.events.emit('sink.resumed', { sink: 'initlive', orgId });
          this.log.info('InitLive sink resumed', { orgId });
        }
        return result;
      } catch (err) {
        const e = toSyncError(err);
        if (!holdable(e) || this.abort.signal.aborted) throw e;
        await this.wait(orgId, attempt, e);
      }
    }
  }

  /** The org's current runtime (a reconnect swaps its client); NOT_FOUND once disconnected. */
  private org(orgId: string): OrgRuntime {
    const org = this.deps.orgs.get(orgId);
    if (!org) {
      throw new SyncError('NOT_FOUND', `organization ${orgId} is not connected`, {
        context: { orgId },
      });
    }
    return org;
  }

  private async wait(orgId: string | null, attempt: number, err: SyncError | null): Promise<void> {
    const hinted = Number(err?.context.retryAfterMs ?? 0);
    const delayMs = Math.max(
      backoffDelayMs(this.backoff, attempt),
      Number.isFinite(hinted) ? hinted : 0,
    );
    this.counters.holds++;
    if (orgId !== null) {
      const code = err?.code ?? 'UPSTREAM_UNAVAILABLE';
      let pause = this.paused.get(orgId);
      if (!pause) this.paused.set(orgId, (pause = { code, since: this.deps.now() }));
      // Again at every wait: the organization's status shows what is held, and for how long.
      this.deps.events.emit('sink.paused', {
        sink: 'initlive',
        orgId,
        reason: pause.code,
        untilMs: this.deps.now() + delayMs,
        since: pause.since,
        code,
        heldWrites: this.inHand.of(orgId) + (this.park?.countOf(orgId) ?? 0),
      });
    }
    if (this.park && orgId !== null && err && ORG_FAULTS.has(err.code)) {
      // The org's writes park (WritePark), and its drain is what tries again after the wait.
      throw heldError(err, err.code);
    }
    this.log.warn('InitLive sink waiting before retrying', {
      orgId,
      attempt,
      delayMs,
      code: err?.code,
      message: err?.message,
    });
    await sleep(delayMs, this.abort.signal);
  }
}
