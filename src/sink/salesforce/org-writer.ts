import { performance } from 'node:perf_hooks';
import type { Connection } from 'jsforce';
import { linkedMarkerName } from '../../core/position-store';
import { fieldSpecs } from '../../core/mapping';
import { SyncError, toSyncError } from '../../errors';
import type { ErrorCode } from '../../errors';
import type { Logger } from '../../logger';
import type {
  ContactFields,
  SalesforceApi,
  SalesforceItemResult,
} from '../../infra/salesforce/salesforce-api';
import { contactIdsByExternalId, toSalesforceError } from '../../infra/salesforce/salesforce-api';
import type { PipelineDeps } from '../../pipeline/deps';
import { backoffDelayMs, retry, sleep } from '../../retry';
import type { RetryPolicy } from '../../retry';
import type { ApiReserve } from '../../core/api-reserve';
import { reserveRefusal } from '../../core/api-reserve';
import type { BulkContactWriter } from './bulk-writer';
import { applyEmailMatches, createsToMatch, matchCreatesByEmail } from './contact-lookup';
import { FieldDrift } from './field-drift';
import type { Refused } from './field-drift';
import { callRecords, planRounds, routeOf } from './plan';
import type { OpRoute, PairOp } from './plan';
import { heldError } from '../write-park';
import { OrgHold } from './org-hold';
import type { PauseReason } from './org-hold';
import { ResultRecorder } from './result-recorder';

export type { PauseReason } from './org-hold';

export interface OrgWriterOptions {
  /** Records per sObject Collection (Salesforce's maximum is 200). */
  flushSize: number;
  /**
   * Records per API call: the SalesforceApi sends up to five collections in one Composite
   * call, which Salesforce counts once. A queue this long flushes without lingering.
   */
  recordsPerCall: number;
  lingerMs: number;
  pauseCheckMs: number;
  apiReserve: ApiReserve;
  /** Backoff of retriable failures (5xx, network, record locks) before giving up on a call. */
  retryPolicy: RetryPolicy;
  apiFor: (conn: Connection) => SalesforceApi;
  /**
   * Above this many ops of one route (upsert or update) in one flush, one Bulk API 2.0 job; a
   * backlog's lot from BACKLOG_BULK_MIN (5,000) already, when that is lower.
   */
  bulkThreshold: number;
  /**
   * While a backlog holds more than `bulkThreshold` ops of one route, how long its oldest op
   * may wait for more to join the job (the partitions refill meanwhile).
   */
  bulkLingerMs: number;
  /** As `bulkLingerMs`, for a queue holding a full sync's writes. */
  runLingerMs: number;
  bulkFor: (conn: Connection) => BulkContactWriter;
  /**
   * Writes waiting in the topic beyond those handed to this sink (Kafka lag minus what is in
   * hand). While a full sync's writes gather, a growing count says the reconciler is still
   * producing them; without it they gather only until the partitions go quiet.
   */
  waitingInTopic?: () => Promise<number>;
  /**
   * When the org is held, fail its ops with a held error (write-park.ts `isHeld`) instead of waiting, so
   * the sink parks them and its partitions move on; the hold still probes and reports.
   */
  parkWhenHeld?: boolean;
  /** Writes of this org the sink has parked (counted in its held writes). */
  parkedCount?: () => number;
}

/** Options of one `submit`. */
export interface SubmitOptions {
  /**
   * The ops come from a consumer that is behind (its partition held more records than one
   * flush): gather what the other partitions hand in before flushing, instead of flushing
   * every full call at once.
   */
  backlog?: boolean;
  /**
   * The consumer's batch was as big as it may be: its partition holds more still, so a Bulk
   * job gains nothing by waiting (the partition refills only once this flush is done).
   */
  saturated?: boolean;
  /**
   * The ops include writes of a full sync: more may follow, and nobody waits on them, so they
   * keep gathering (up to `runLingerMs`) for as long as the topic behind them keeps growing,
   * even while the consumer keeps up. A reconciler slower than this sink would otherwise leave
   * every backlog under the Bulk threshold, and the run would cost a call per 200 records.
   */
  run?: boolean;
}

interface Job {
  remaining: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Entry {
  op: PairOp;
  job: Job;
  enqueuedAt: number;
  /** Calls that carried this op so far. */
  attempts: number;
  /** Times it went again after a recheck of Contact held a field it carries (field-drift.ts). */
  driftRetries?: number;
  backlog: boolean;
  saturated: boolean;
  run: boolean;
  /** Came in while ops arrived at a Bulk job's worth per second (see `arrivedAtBurstRate`). */
  burst: boolean;
  /** First op after a quiet spell of the org (see LONE_LINGER_MS). */
  lone?: boolean;
}

/** Codes whose items are retried in place; everything else non-retriable is a dead letter. */
const pauseReasons: Partial<Record<ErrorCode, PauseReason>> = {
  API_LIMIT_EXCEEDED: 'api_limit',
  AUTH_FAILED: 'needs_reauth',
  PACKAGE_MISSING: 'package_missing',
};

/**
 * From this many ops on, a Bulk job (5-7 calls whatever its size: create, upload, close, polls,
 * results) costs no more calls than Composite calls of 1,000 records. A backlog's or a full
 * sync's lots go by Bulk from here: their writes wait anyway.
 */
const BACKLOG_BULK_MIN = 5_000;

/**
 * Over this window, BACKLOG_BULK_MIN ops or more make a burst: a sink that keeps up with such a
 * stream flushes 1,000-record calls as fast as they fill and never gets a lot big enough for
 * Bulk, so a burst's ops gather like a backlog's instead. A stream below that rate flushes at
 * its linger, for latency.
 */
const BURST_WINDOW_MS = 1_000;

/**
 * An op that comes after `QUIET_LINGERS` lingers without one waits only LONE_LINGER_MS (for
 * the other partitions' batches of the same fetch): at an organization's usual pace nothing
 * else is coming to share its call, and the full linger would be only latency. Ops that follow
 * it within the quiet spell linger as before, so a stream costs at most one more call per spell.
 */
const QUIET_LINGERS = 4;
const LONE_LINGER_MS = 15;

/** How long the topic must stop growing before a gathering backlog stops waiting for more. */
const QUIET_MS = 1_000;

/** Context reason of the signal that a held call's writes were re-planned (see learnContacts). */
const REROUTED = 'rerouted';

/** Item failures of a delete that mean the record is already gone: the goal is met. */
const goneCodes = new Set(['ENTITY_IS_DELETED', 'INVALID_CROSS_REFERENCE_KEY', 'NOT_FOUND']);

/**
 * Writes one org's ops to Salesforce. Ops from any number of batches share one queue, flushed
 * when it holds `recordsPerCall` ops (full calls only) or its oldest op is `lingerMs` old (an
 * op after a quiet spell: LONE_LINGER_MS); one
 * flush runs at a time, so ops of one pair keep their order. A call is up to five 200-record
 * sObject Collections in one Composite request (see SalesforceApi), which Salesforce counts
 * once: the sink's consumer fetches again only after a flush, so the linger sets how much a
 * steady stream gathers per call, and what passes 200 costs no second call. `submit` resolves once
 * every op it gave has its outcome recorded (written, linked, or dead-lettered), which is what
 * lets the sink commit offsets.
 *
 * Backlogs (ops submitted with `backlog`, e.g. during a full sync) are gathered instead: the
 * queue flushes once no batch came in for `lingerMs` (every partition has handed in what it
 * holds and waits on this flush). When it holds more than `bulkThreshold` ops of one route, or
 * a full sync's writes (`run`, whatever the consumer's pace), it keeps gathering while the
 * topic behind it keeps growing (so the next job is bigger too), up to `bulkLingerMs` for the
 * oldest op (`runLingerMs` for a run's), unless a partition said it holds more than one batch
 * (`saturated`): then waiting gains nothing. Ops arriving at a burst's rate (a Bulk job's
 * worth, BACKLOG_BULK_MIN, within a second: `burst`) count as a backlog and gather the same
 * way, even when the consumer keeps up. A route with more than `bulkThreshold` ops in one flush (a backlog's: from 5,000,
 * the break-even in calls) goes as one Bulk API 2.0 job instead of Composite calls,
 * with the same per-record outcome handling; the routes of a round go side by side. A trickle
 * (no backlog, under the burst rate) flushes as soon as a call fills or its linger ends.
 *
 * While the org cannot take writes (API budget under the reserve or used up, credentials
 * rejected, package missing) the flush holds: nothing is dropped, nothing resolves, and a
 * probe every `pauseCheckMs` decides when to go on.
 */
export class OrgWriter {
  private queue: Entry[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** When the pending timer fires. */
  private timerDue = 0;
  private running: Promise<void> | null = null;
  /** When the last submit came in and the last flush ended: a backlog flushes once both are quiet. */
  private lastSubmitAt = 0;
  private lastFlushEndAt = 0;
  private stopping = false;
  /** While a backlog gathers: writes waiting in the topic at the last look, and when it grew. */
  private lastWaiting = -1;
  private lastGrowthAt = 0;
  private probing = false;
  /** Ops submitted within the last BURST_WINDOW_MS, oldest first. */
  private arrivals: Array<{ at: number; count: number }> = [];
  private arrivalsInWindow = 0;
  private readonly abort = new AbortController();
  private readonly logger: Logger;
  private readonly drift: FieldDrift<Entry>;
  private readonly results: ResultRecorder<Entry>;
  private readonly orgHold: OrgHold;
  /** Writes in the flush under way (held with it while the org is paused). */
  private flushing = 0;
  /** OrgHold.resumes when the last flush began. */
  private resumesSeen = 0;

  constructor(
    private readonly deps: PipelineDeps,
    readonly orgId: string,
    private readonly options: OrgWriterOptions,
  ) {
    this.logger = deps.logger.child({ component: 'sink-salesforce', orgId });
    this.drift = new FieldDrift(deps.fields, orgId);
    this.results = new ResultRecorder(deps, orgId, this.logger, (entry) => this.done(entry));
    this.orgHold = new OrgHold(
      deps,
      orgId,
      {
        pauseCheckMs: options.pauseCheckMs,
        firstCheckMs: Math.min(options.pauseCheckMs, 2_000),
        apiReserve: options.apiReserve,
        apiFor: options.apiFor,
        heldWrites: () => this.heldWrites(),
      },
      this.logger,
      this.abort.signal,
    );
  }

  /** Why the org is held right now, or null. */
  get pausedFor(): PauseReason | null {
    return this.orgHold.reason;
  }

  /** A held org is probed now (Sync now, a settings save) rather than at its next backoff. */
  wake(): void {
    this.orgHold.wake();
  }

  /** Writes waiting here: queued, and in the flush under way. */
  heldWrites(): number {
    let queued = 0;
    for (const e of this.queue) queued += e.op.sources.length;
    return queued + this.flushing + (this.options.parkedCount?.() ?? 0);
  }

  /** Queues ops; resolves when all have an outcome, rejects when they must be redelivered. */
  submit(ops: readonly PairOp[], options: SubmitOptions = {}): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    if (this.abort.signal.aborted) {
      return Promise.reject(new SyncError('TRANSPORT_UNAVAILABLE', 'Salesforce sink is stopping'));
    }
    return new Promise<void>((resolve, reject) => {
      const job: Job = { remaining: ops.length, settled: false, resolve, reject };
      const now = Date.now();
      const run = options.run === true;
      const burst = this.arrivedAtBurstRate(now, ops.length);
      const backlog = options.backlog === true || options.saturated === true || run || burst;
      const saturated = options.saturated === true;
      const lone =
        !backlog &&
        this.queue.length === 0 &&
        !this.running &&
        now - this.lastSubmitAt > QUIET_LINGERS * this.options.lingerMs;
      for (const op of ops) {
        this.queue.push({ op, job, enqueuedAt: now, attempts: 0, backlog, saturated, run, burst });
      }
      if (lone) this.queue[0]!.lone = true;
      this.lastSubmitAt = now;
      this.schedule();
    });
  }

  /**
   * Counts `count` ops arriving now; true when the last BURST_WINDOW_MS brought a Bulk job's
   * worth (BACKLOG_BULK_MIN). Only where a burst can gather: Bulk allowed, topic observable.
   */
  private arrivedAtBurstRate(now: number, count: number): boolean {
    this.arrivals.push({ at: now, count });
    this.arrivalsInWindow += count;
    while (this.arrivals.length > 0 && now - this.arrivals[0]!.at >= BURST_WINDOW_MS) {
      this.arrivalsInWindow -= this.arrivals.shift()!.count;
    }
    return (
      this.arrivalsInWindow >= BACKLOG_BULK_MIN &&
      Number.isFinite(this.options.bulkThreshold) &&
      this.options.waitingInTopic !== undefined
    );
  }

  /** Stops waiting: queued ops flush now, and a held flush gives up (its batches are not committed). */
  beginStop(): void {
    this.stopping = true;
    if (this.orgHold.reason) this.abort.abort();
    this.schedule();
  }

  /** Releases timers and fails whatever is still queued (called after the subscription stopped). */
  close(): void {
    this.stopping = true;
    this.abort.abort();
    this.clearTimer();
    const err = new SyncError('TRANSPORT_UNAVAILABLE', 'Salesforce sink stopped');
    for (const e of this.queue.splice(0)) this.fail(e.job, err);
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const { recordsPerCall, lingerMs } = this.options;
    if (this.stopping) return this.startFlush(this.queue.length);
    if (this.queue.some((e) => e.backlog)) return this.scheduleDrain();
    if (this.queue.length >= recordsPerCall) {
      return this.startFlush(Math.floor(this.queue.length / recordsPerCall) * recordsPerCall);
    }
    if (this.timer) return;
    const head = this.queue[0]!;
    const linger = head.lone ? Math.min(lingerMs, LONE_LINGER_MS) : lingerMs;
    this.timerDue = head.enqueuedAt + linger;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        if (!this.running) this.startFlush(this.queue.length);
      },
      Math.max(0, this.timerDue - Date.now()),
    );
  }

  /** A backlog: flush once the partitions stopped handing in ops, or a Bulk job waited enough. */
  private scheduleDrain(): void {
    const { lingerMs, bulkLingerMs } = this.options;
    const now = Date.now();
    const oldest = this.queue[0]!.enqueuedAt;
    const quietAt = Math.max(this.lastSubmitAt, this.lastFlushEndAt) + lingerMs;
    // Quiet or not, nobody waits longer than a Bulk job would gather for.
    let due = Math.min(quietAt, oldest + Math.max(lingerMs, bulkLingerMs));
    // Bound for Bulk, with no way to look at the topic: let it fill for the next job too,
    // unless a partition is already fuller than one batch (waiting would then only delay).
    if (
      !this.options.waitingInTopic &&
      this.bulkRoutePending() &&
      !this.queue.some((e) => e.saturated)
    ) {
      due = oldest + bulkLingerMs;
    }
    if (due <= now) {
      if (this.gathering(now, oldest)) return this.probeWaiting();
      return this.startFlush(this.queue.length);
    }
    // A timer that fires sooner stays; one set for later (before a partition said it is full)
    // is brought forward.
    if (this.timer && this.timerDue <= due) return;
    this.clearTimer();
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.schedule();
    }, due - now);
  }

  /**
   * Worth gathering more: the queue is bound for Bulk, holds a full sync's writes or a burst's,
   * no partition says it is full (that would only come after this flush), and the oldest op has
   * waited less than `bulkLingerMs` (`runLingerMs` for a full sync's writes).
   */
  private gathering(now: number, oldest: number): boolean {
    return (
      this.options.waitingInTopic !== undefined &&
      !this.stopping &&
      (this.queue.some((e) => e.run)
        ? now < oldest + Math.max(this.options.bulkLingerMs, this.options.runLingerMs)
        : now < oldest + this.options.bulkLingerMs &&
          (this.bulkRoutePending() || this.queue.some((e) => e.burst))) &&
      !this.queue.some((e) => e.saturated)
    );
  }

  /**
   * Looks at the topic: while the writes waiting there keep growing (the reconciler is still
   * producing them), wait another linger; otherwise flush what is queued. A fixed wait would
   * hold a backlog for nothing once the burst behind it is over.
   */
  private probeWaiting(): void {
    if (this.probing) return;
    this.probing = true;
    void this.options.waitingInTopic!()
      .catch(() => -1)
      .then((waiting) => {
        this.probing = false;
        if (this.running || this.queue.length === 0) return;
        const now = Date.now();
        if (waiting > this.lastWaiting) this.lastGrowthAt = now;
        this.lastWaiting = waiting;
        // A full sync's writes come in bursts (the InitLive sink's stamps, 200 per InitLive
        // call), so only a topic quiet for a second means its run is done; a live burst that
        // stopped for one linger is over, and its writes should not wait any longer.
        const quietMs = this.queue.some((e) => e.run)
          ? Math.max(this.options.lingerMs, QUIET_MS)
          : this.options.lingerMs;
        const coming = now - this.lastGrowthAt < quietMs;
        // Bound for Bulk already: this job cannot grow (the partitions wait on it), but the next
        // one does, so wait while more comes. Not yet: once a job's worth waits in the topic,
        // flush this small lot so the partitions can hand that in.
        const worthWaiting = this.bulkRoutePending() || waiting < this.options.bulkThreshold;
        if (waiting < 0 || !coming || !worthWaiting) return this.startFlush(this.queue.length);
        this.clearTimer();
        this.timerDue = Date.now() + this.options.lingerMs;
        this.timer = setTimeout(() => {
          this.timer = null;
          const oldest = this.queue[0]?.enqueuedAt ?? 0;
          if (this.gathering(Date.now(), oldest)) this.probeWaiting();
          else this.schedule();
        }, this.options.lingerMs);
      });
  }

  /** True when the queue holds more ops of one route than a Bulk job's threshold. */
  private bulkRoutePending(): boolean {
    let upserts = 0;
    let updates = 0;
    for (const e of this.queue) {
      const route = routeOf(e.op);
      if (route === 'upsert') upserts++;
      else if (route === 'update') updates++;
    }
    return Math.max(upserts, updates) > this.options.bulkThreshold;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private startFlush(count: number): void {
    this.clearTimer();
    this.lastWaiting = -1;
    const entries = this.queue.splice(0, count);
    if (entries.length === 0) return;
    this.flushing = entries.reduce((n, e) => n + e.op.sources.length, 0);
    this.running = this.flush(entries)
      .catch((err: unknown) => {
        const failed = new Set(entries.filter((e) => !e.job.settled).map((e) => e.job));
        for (const job of failed) this.fail(job, err);
        // Their other ops would only be redone after the redelivery anyway.
        this.queue = this.queue.filter((e) => !failed.has(e.job));
      })
      .finally(() => {
        this.running = null;
        this.flushing = 0;
        this.lastFlushEndAt = Date.now();
        this.schedule();
      });
  }

  private done(entry: Entry): void {
    const job = entry.job;
    if (job.settled) return;
    job.remaining--;
    if (job.remaining === 0) {
      job.settled = true;
      job.resolve();
    }
  }

  private fail(job: Job, err: unknown): void {
    if (job.settled) return;
    job.settled = true;
    job.reject(err);
  }

  private async flush(entries: Entry[]): Promise<void> {
    // A hold ended since the last flush: the pairs may have learnt their Contacts meanwhile.
    if (this.orgHold.resumes !== this.resumesSeen) {
      this.resumesSeen = this.orgHold.resumes;
      await this.learnContacts(entries);
    }
    for (const round of planRounds(await this.matchByEmail(entries))) {
      const byRoute = new Map<OpRoute, Entry[]>();
      for (const e of round) {
        const route = routeOf(e.op);
        const list = byRoute.get(route) ?? [];
        list.push(e);
        byRoute.set(route, list);
      }
      const lookups = byRoute.get('delete-by-external-id') ?? [];
      if (lookups.length > 0) {
        const resolved = await this.resolveDeleteIds(lookups);
        byRoute.set('delete', [...(byRoute.get('delete') ?? []), ...resolved]);
      }
      // A round names no Contact twice (planRounds), so its routes are independent: they go
      // side by side, and a Bulk job's wait overlaps the other route's instead of following it.
      // All of them finish before the round (and the flush) ends, failed or not, so one flush
      // still runs at a time.
      const outcomes = await Promise.allSettled(
        (['upsert', 'update', 'delete'] as const).map((route) =>
          this.runRoute(route, byRoute.get(route) ?? []),
        ),
      );
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  /**
   * A Bulk job for many upserts or updates, else calls of `recordsPerCall`. A backlog's
   * or a full sync's ops go by Bulk from the break-even on: their writes wait anyway, so only
   * calls count. A trickle keeps Composite calls up to `bulkThreshold`, for latency.
   */
  private viaBulk(route: 'upsert' | 'update' | 'delete', entries: readonly Entry[]): boolean {
    if (route === 'delete') return false;
    const { bulkThreshold } = this.options;
    const waiting = Number.isFinite(bulkThreshold) && entries.every((e) => e.backlog);
    return entries.length > (waiting ? Math.min(bulkThreshold, BACKLOG_BULK_MIN) : bulkThreshold);
  }

  private async runRoute(
    route: 'upsert' | 'update' | 'delete',
    entries: Entry[],
    failures = 0,
  ): Promise<void> {
    if (this.viaBulk(route, entries)) return this.runChunk(route, entries, failures);
    const size = this.options.recordsPerCall;
    for (let i = 0; i < entries.length; i += size) {
      await this.runChunk(route, entries.slice(i, i + size), failures);
    }
  }

  /**
   * Sends one call (up to `recordsPerCall` records) and records each item's outcome. Retriable
   * item failures go again after a backoff; a request refused as a whole for a reason a retry
   * will not fix is split in halves until the offending record is alone, so one bad record never
   * sinks the good ones. Above `bulkThreshold` records the call is one Bulk API 2.0 job, handled
   * alike; what is left to retry after it goes again by Bulk or in Composite calls, by its size.
   */
  private async runChunk(
    route: 'upsert' | 'update' | 'delete',
    entries: Entry[],
    failuresSoFar = 0,
  ): Promise<void> {
    let pending = entries;
    let failures = failuresSoFar;
    const lastError = new Map<Entry, SyncError>();
    while (pending.length > 0) {
      const bulk = this.viaBulk(route, pending);
      if (!bulk && pending.length > this.options.recordsPerCall) {
        return this.runRoute(route, pending, failures);
      }
      for (const e of pending) e.attempts++;
      let results: SalesforceItemResult[];
      const sentAt = performance.now();
      try {
        const sending = pending;
        results = await this.call(
          (api, conn) =>
            bulk ? this.sendBulk(conn, route, sending) : this.send(api, route, sending),
          route === 'upsert' ? () => this.learnContacts(sending) : undefined,
        );
      } catch (err) {
        const e = toSyncError(err);
        if (e.context.reason === REROUTED) {
          // Held meanwhile, and some pairs' Contacts are known now: those go by Id.
          const known = pending.filter((x) => x.op.salesforceId);
          pending = pending.filter((x) => !x.op.salesforceId);
          for (const x of known) x.attempts--;
          await this.runRoute('update', known, failures);
          continue;
        }
        if (e.code !== 'SALESFORCE_REJECTED' && e.code !== 'INVALID_INPUT') throw e;
        // A field the org no longer has: once a describe holds it, all go again without it.
        if (await this.drift.resendAll(pending, e, sentAt)) continue;
        if (pending.length === 1) return this.results.failed(pending[0]!, e);
        const half = Math.ceil(pending.length / 2);
        await this.runRoute(route, pending.slice(0, half));
        return this.runRoute(route, pending.slice(half));
      }
      const succeeded: Array<{ entry: Entry; id: string | null; created: boolean }> = [];
      const again: Entry[] = [];
      const refused: Array<Refused<Entry>> = [];
      const gone: Entry[] = [];
      let hold: SyncError | null = null;
      for (let i = 0; i < pending.length; i++) {
        const entry = pending[i]!;
        const r = results[i]!;
        if (r.success) succeeded.push({ entry, id: r.id, created: r.created });
        else if (route === 'delete' && r.errors.some((x) => goneCodes.has(x.statusCode))) {
          succeeded.push({ entry, id: null, created: false });
        } else if (
          route === 'update' &&
          r.errors.some((x) => x.statusCode === 'ENTITY_IS_DELETED')
        ) {
          gone.push(entry);
        } else if (pauseReasons[r.error.code]) {
          hold ??= r.error;
          again.push(entry);
        } else if (r.error.retriable) {
          lastError.set(entry, r.error);
          again.push(entry);
        } else refused.push({ entry, error: r.error, items: r.errors });
      }
      await this.results.succeeded(succeeded);
      await this.results.gone(gone);
      const drift = await this.drift.resend(refused, sentAt);
      for (const f of drift.failed) await this.results.failed(f.entry, f.error);
      pending = [...again, ...drift.again];
      if (pending.length === 0) return;
      if (hold) {
        await this.hold(pauseReasons[hold.code]!, hold);
        if (route === 'upsert' && (await this.learnContacts(pending))) {
          const known = pending.filter((x) => x.op.salesforceId);
          pending = pending.filter((x) => !x.op.salesforceId);
          await this.runRoute('update', known, failures);
        }
        continue;
      }
      // Only writes going again without a held field: no backoff, no failure counted.
      if (again.length === 0) continue;
      failures++;
      if (failures >= this.options.retryPolicy.maxAttempts) {
        // The record itself keeps failing (a lock that never frees): park it, keep the rest flowing.
        for (const entry of pending) {
          await this.results.failed(
            entry,
            lastError.get(entry) ?? new SyncError('UPSTREAM_UNAVAILABLE', 'retries exhausted'),
          );
        }
        return;
      }
      await sleep(backoffDelayMs(this.options.retryPolicy, failures), this.abort.signal);
    }
  }

  /** The records of an upsert or update call, without the fields drift holds back. */
  private records(route: 'upsert' | 'update', entries: readonly Entry[]): ContactFields[] {
    const ops = entries.map((e) => e.op);
    return callRecords(route, ops, this.externalIdField(), this.drift.held());
  }

  private async send(
    api: SalesforceApi,
    route: 'upsert' | 'update' | 'delete',
    entries: readonly Entry[],
  ): Promise<SalesforceItemResult[]> {
    if (route === 'delete') return api.deleteContacts(entries.map((e) => e.op.salesforceId!));
    const records = this.records(route, entries);
    return route === 'upsert'
      ? api.upsertContacts(records, this.externalIdField())
      : api.updateContacts(records as Array<ContactFields & { Id: string }>);
  }

  private async sendBulk(
    conn: Connection,
    route: 'upsert' | 'update' | 'delete',
    entries: readonly Entry[],
  ): Promise<SalesforceItemResult[]> {
    if (route === 'delete') throw new SyncError('INTERNAL', 'deletes are not sent by Bulk');
    const bulk = this.options.bulkFor(conn);
    const records = this.records(route, entries);
    return route === 'upsert'
      ? bulk.upsertContacts(records, this.externalIdField(), this.abort.signal)
      : bulk.updateContacts(records as Array<ContactFields & { Id: string }>, this.abort.signal);
  }

  /**
   * Deletes that name only the external id: one query finds their Ids. A Contact that is not
   * there is already deleted (the goal is met); two Contacts with one external id are not guessed.
   */
  private async resolveDeleteIds(entries: Entry[]): Promise<Entry[]> {
    const extField = this.externalIdField();
    const found = await this.call((api) =>
      contactIdsByExternalId(
        api,
        entries.map((e) => e.op.externalId!),
        extField,
        this.options.flushSize,
      ),
    );
    const out: Entry[] = [];
    const gone: Array<{ entry: Entry; id: string | null; created: boolean }> = [];
    for (const entry of entries) {
      const ids = found.get(entry.op.externalId!.toLowerCase()) ?? [];
      if (ids.length === 0) gone.push({ entry, id: null, created: false });
      else if (ids.length === 1) out.push({ ...entry, op: { ...entry.op, salesforceId: ids[0]! } });
      else {
        await this.results.failed(
          entry,
          new SyncError(
            'AMBIGUOUS_MATCH',
            `${ids.length} Contacts carry ${extField} ${entry.op.externalId}`,
            {
              context: { candidates: ids.join(',') },
            },
          ),
        );
      }
    }
    await this.results.succeeded(gone);
    return out;
  }

  private externalIdField(): string {
    return this.fieldOf('initliveId');
  }

  /** The Contact field a canonical field maps to in this org. */
  private fieldOf(field: 'initliveId' | 'email'): string {
    const org = this.deps.orgs.get(this.orgId);
    return (
      org?.settings.mapping.find((m) => m.field === field)?.salesforceField ??
      fieldSpecs[field].salesforceField
    );
  }

  /**
   * One Salesforce call with the org's current connection: waits while the org is held,
   * retries 5xx and network failures with backoff, and holds on limits, auth and package
   * failures until a probe says the call can go again.
   */
  private async call<T>(
    fn: (api: SalesforceApi, conn: Connection) => Promise<T>,
    afterHold?: () => Promise<boolean>,
  ): Promise<T> {
    for (;;) {
      const { api, conn } = await this.readyApi();
      try {
        const out = await retry(
          async ({ bail }) => {
            try {
              return await fn(api, conn);
            } catch (err) {
              const e = toSalesforceError(err);
              if (pauseReasons[e.code] || !e.retriable) bail(e);
              throw e;
            }
          },
          this.options.retryPolicy,
          {
            signal: this.abort.signal,
            onRetry: (err, attempt, delayMs) =>
              this.logger.warn('salesforce call failed; retrying', {
                attempt,
                delayMs,
                code: toSyncError(err).code,
                reason: toSyncError(err).message,
              }),
          },
        );
        this.reportUsage(api);
        return out;
      } catch (err) {
        this.reportUsage(api);
        const e = toSalesforceError(err);
        const reason = pauseReasons[e.code];
        if (!reason) throw e;
        await this.hold(reason, e);
        if (afterHold && (await afterHold())) {
          throw new SyncError('CONFLICT', 'writes re-planned after a hold', {
            context: { reason: REROUTED },
          });
        }
      }
    }
  }

  /**
   * Upserts by external id whose pair knows its Contact by now go to that Contact by Id instead:
   * a write planned before a package reinstall (which wipes the external ids) would otherwise
   * create a second Contact. True when any op learnt its Contact.
   */
  private async learnContacts(entries: readonly Entry[]): Promise<boolean> {
    const upserts = entries.filter((e) => routeOf(e.op) === 'upsert');
    if (upserts.length === 0) return false;
    const links = await this.deps.store.getLinks(
      this.orgId,
      upserts.map((e) => e.op.pairId),
    );
    let learnt = false;
    upserts.forEach((e, i) => {
      const id = links[i]?.salesforceId;
      if (!id) return;
      e.op = { ...e.op, salesforceId: id };
      learnt = true;
    });
    return learnt;
  }

  /**
   * Creates whose email one unlinked Contact holds update that Contact instead, and several such
   * Contacts refuse the create (contact-lookup.ts; which creates are looked up: createsToMatch).
   * Returns the entries still to write.
   */
  private async matchByEmail(entries: Entry[]): Promise<Entry[]> {
    const creates = await createsToMatch(entries, async () =>
      Boolean(await this.deps.positions.get(linkedMarkerName(this.orgId))),
    );
    if (creates.length === 0) return entries;
    const fields = { email: this.fieldOf('email'), externalId: this.externalIdField() };
    const matches = await this.call((api) =>
      matchCreatesByEmail(
        api,
        creates.map((e) => e.op),
        fields,
      ),
    );
    const refused = applyEmailMatches(creates, matches);
    for (const [entry, err] of refused) await this.results.failed(entry, err);
    const gone = new Set(refused.map(([entry]) => entry));
    return gone.size === 0 ? entries : entries.filter((e) => !gone.has(e));
  }

  /** The org's API, once it is connected and has budget above the reserve. */
  private async readyApi(): Promise<{ api: SalesforceApi; conn: Connection }> {
    for (;;) {
      const conn = this.deps.orgs.get(this.orgId)?.salesforce;
      if (!conn) {
        await this.hold(
          'needs_reauth',
          new SyncError('AUTH_FAILED', 'The organization is not connected to Salesforce'),
        );
        continue;
      }
      const api = this.options.apiFor(conn);
      const usage = api.apiUsage();
      const refusal =
        usage && reserveRefusal(usage, this.options.apiReserve, 'writes wait until it is back');
      if (refusal) {
        await this.hold('api_limit', refusal);
        continue;
      }
      return { api, conn };
    }
  }

  /** Holds until the org can take writes again (see OrgHold); refused at once when stopping. */
  private hold(reason: PauseReason, cause: SyncError): Promise<void> {
    if (this.stopping) return Promise.reject(cause);
    const holding = this.orgHold.hold(reason, cause);
    if (!this.options.parkWhenHeld) return holding;
    // The hold probes on its own; a stop ends it with its cause, which nobody waits for here.
    holding.catch(() => undefined);
    return Promise.reject(heldError(cause, reason));
  }

  private reportUsage(api: SalesforceApi): void {
    this.orgHold.reportUsage(api);
  }
}
