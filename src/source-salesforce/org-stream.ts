import type { Connection } from 'jsforce';
import type { SalesforceContactChange, SyncRunEvent } from '../core/records';
import { recoveryRunId } from '../core/recovery';
import { recordKey } from '../core/topics';
import { isSyncError, toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { OrgRuntime } from '../orgs/org-directory';
import { sendToDeadLetters } from '../pipeline/dead-letters';
import { produce, type PipelineDeps } from '../pipeline/deps';
import { backoffDelayMs, sleep, type RetryPolicy } from '../retry';
import { CdcClient } from './cdc-client';
import { commitTimestampOf, parseCdcEvent, replayIdOf } from './cdc-event';
import { eventFieldNames, interpretEvent, rereadRecord, type MappingContext } from './cdc-mapping';
import { idKey, rereadContacts, salesforceError } from './reread';

export type SourceState = 'connecting' | 'streaming' | 'needs_reauth' | 'stopped';

export interface SalesforceSourceStatus {
  orgId: string;
  state: SourceState;
  /** The committed replay id: everything up to it is on the contactChanges topic. */
  lastReplayId: string | null;
  /** When the last CDC event arrived (epoch ms). */
  lastEventAt: number | null;
  lastError: { code: string; message: string; at: number } | null;
  /** The last full sync this source asked for, and why. */
  lastResync: { reason: string; at: number } | null;
}

export interface OrgStreamOptions {
  channel: string;
  /** Events produced together at most (consecutive events that arrived together). */
  maxBatchSize: number;
  /** Backoff between attempts of a failed batch (produce, re-read, commit); never gives up. */
  retryPolicy: RetryPolicy;
  /** Wait between credential checks while the org needs an admin to reconnect it. */
  reauthRetryMs: number;
  /** Wait before rebuilding a client that faye gave up on for another reason. */
  resubscribeDelayMs: number;
}

/** Name of the org's replay id in the PositionStore. */
export function replayPositionName(orgId: string): string {
  return `source:salesforce:${orgId}:replay`;
}

/** A full sync to ask for, and the position the gap was found at (which names its run). */
interface SyncRequest {
  reason: string;
  at: string;
  /** For a refused replay id: when it was refused (the position to resume from). */
  refusedAt?: number;
}

type QueueItem =
  { kind: 'event'; raw: unknown; replayId: number | null } | ({ kind: 'resync' } & SyncRequest);

interface Slot {
  records: SalesforceContactChange[];
  /** Set while the slot still waits for its re-read. */
  reread?: { ids: string[]; replayId: number; commitTimestamp: number };
  raw: unknown;
  replayId: number;
}

interface PendingDeadLetter {
  raw: unknown;
  replayId: number | null;
  error: unknown;
}

/** One batch of queue items and how far its processing got, so a retry redoes only the rest. */
interface BatchWork {
  items: QueueItem[];
  prepared: boolean;
  slots: Slot[];
  syncRequests: SyncRequest[];
  deadLetters: PendingDeadLetter[];
  rereadDone: boolean;
  changesSent: boolean;
  syncSent: boolean;
}

const REPLAY_INVALID = /replayId.*(?:invalid|wasn't found)/i;
const REPLAY_NEW = -1;
const REPLAY_ALL = -2;
/**
 * The position stored by a source that subscribed for new events and has committed none yet:
 * `since:<epoch ms>`, when it went live. A source started again before its first event then
 * replays everything retained and keeps what was committed from then on, instead of
 * subscribing for new events again and missing what happened while it was stopped.
 */
const SINCE_PREFIX = 'since:';

/** Salesforce's clock and ours may differ; replaying a little too much is harmless. */
const CLOCK_SKEW_MARGIN_MS = 60_000;

/**
 * The CDC subscriber of one organization: one CometD client, one ordered queue.
 *
 * Ordering and durability: events are processed strictly in arrival order; a batch's records
 * are produced (and acknowledged by the broker) before its replay id is committed to the
 * PositionStore, so a crash replays from the last acknowledged event: at-least-once, never a
 * gap. Events at or below the highest replay id already taken in are skipped, so the overlap a
 * re-subscribe replays is not produced twice.
 */
export class OrgStream {
  private readonly logger: Logger;
  private readonly conn: Connection;
  private readonly positionName: string;
  private readonly ctx: MappingContext;
  private readonly abort = new AbortController();
  private client: CdcClient | null = null;
  private queue: QueueItem[] = [];
  private draining: Promise<void> | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private recovering = false;
  private stopping = false;
  private subscribed = false;
  /** The value in the PositionStore as we last wrote or read it. */
  private stored: string | null = null;
  private lastCommitted: number | null = null;
  /** Highest replay id taken into the queue or committed; null after a replay-id reset. */
  private floor: number | null = null;
  /** The stored id was refused: subscribe for new events until a new id is committed. */
  private fallback = false;
  /**
   * When a subscription without a usable replay id (-1) succeeded. A client rebuilt before any
   * event was committed then replays everything retained (-2) and drops what was committed
   * before this moment (less a margin for clock skew), so the rebuild loses nothing.
   */
  private liveSince: number | null = null;
  /** Storing `since:<liveSince>` (the first subscription of a source that had no position). */
  private marking: Promise<void> | null = null;
  private readonly current: Omit<SalesforceSourceStatus, 'orgId' | 'lastReplayId'> = {
    state: 'connecting',
    lastEventAt: null,
    lastError: null,
    lastResync: null,
  };

  constructor(
    private readonly deps: PipelineDeps,
    private readonly org: OrgRuntime & { salesforce: Connection },
    private readonly options: OrgStreamOptions,
  ) {
    this.conn = org.salesforce;
    this.logger = deps.logger.child({ component: 'source-salesforce', orgId: org.orgId });
    this.positionName = replayPositionName(org.orgId);
    this.ctx = { orgId: org.orgId, mapping: org.settings.mapping, now: deps.now };
  }

  status(): SalesforceSourceStatus {
    const lastReplayId = this.stored?.startsWith(SINCE_PREFIX) ? null : this.stored;
    return { orgId: this.org.orgId, lastReplayId, ...this.current };
  }

  /** Reads the stored replay id and subscribes from it (-1, new events only, when none). */
  async start(): Promise<void> {
    const stored = await this.deps.positions.get(this.positionName);
    this.stored = stored;
    const since = stored?.startsWith(SINCE_PREFIX)
      ? Number(stored.slice(SINCE_PREFIX.length))
      : null;
    const parsed = stored === null ? null : Number(stored);
    if (since !== null && Number.isSafeInteger(since)) {
      // Live since then, nothing committed yet: replay all retained from `since` on.
      this.liveSince = since;
    } else if (stored !== null && !Number.isSafeInteger(parsed)) {
      this.logger.warn('stored replay id is not a number; subscribing for new events', {
        stored,
      });
      this.fallback = true;
    } else {
      this.lastCommitted = parsed;
      this.floor = parsed;
    }
    this.conn.on('refresh', this.onRefresh);
    this.logger.info('salesforce source starting', { replayFrom: this.replayFrom() });
    this.connect();
    // Starting means subscribed: a first start replays from -1 (new events only), so a
    // change made right after start() returned must already be seen. Bounded, because an
    // org that cannot subscribe yet (bad token) keeps retrying in the background.
    const deadline = Date.now() + 15_000;
    while (
      !this.subscribed &&
      !this.stopping &&
      this.current.state !== 'needs_reauth' &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Stops taking events, finishes what is queued (an attempt in flight completes and
   * commits; a failing one is not retried), then disconnects. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.stopping) {
      await this.draining;
      return;
    }
    this.stopping = true;
    this.abort.abort();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.conn.off('refresh', this.onRefresh);
    await this.closeClient();
    await this.draining;
    // A successor reads the position: it must find `since:` if this stream went live.
    await this.marking;
    this.current.state = 'stopped';
    this.logger.info('salesforce source stopped', { lastReplayId: this.stored });
  }

  /** Hands one raw CDC message in, as the CometD client does; exposed for tests. */
  receive(raw: unknown): void {
    if (this.stopping) return;
    this.current.lastEventAt = this.deps.now();
    const replayId = replayIdOf(raw);
    if (replayId !== null && this.floor !== null && replayId <= this.floor) {
      this.logger.debug('skipping an event already taken in', { replayId, floor: this.floor });
      return;
    }
    if (this.replayFrom() === REPLAY_ALL && this.liveSince !== null) {
      const committedAt = commitTimestampOf(raw);
      if (committedAt !== null && committedAt < this.liveSince - CLOCK_SKEW_MARGIN_MS) return;
    }
    if (replayId !== null) this.floor = replayId;
    this.enqueue({ kind: 'event', raw, replayId });
  }

  // --- streaming client ----------------------------------------------------------------------

  private replayFrom(): number {
    const committed = this.fallback ? null : this.lastCommitted;
    if (committed !== null) return committed;
    return this.liveSince === null ? REPLAY_NEW : REPLAY_ALL;
  }

  /** Replaces the client with a new one subscribing from the current stored id. */
  private connect(): void {
    if (this.stopping) return;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    void this.closeClient();
    this.subscribed = false;
    if (this.current.state !== 'needs_reauth') this.current.state = 'connecting';
    const client: CdcClient = new CdcClient(this.conn, this.options.channel, {
      replayFrom: () => this.replayFrom(),
      onEvent: (data) => this.receive(data),
      onSubscribed: () => this.whenCurrent(client, () => this.onSubscribed()),
      onSubscribeFailed: (error) => this.whenCurrent(client, () => this.onSubscribeFailed(error)),
      onHandshakeFailed: (error, reason, fatal) =>
        this.whenCurrent(client, () => this.onHandshakeFailed(error, reason, fatal)),
      onConnectFailed: (error, fatal) =>
        this.whenCurrent(client, () => this.onConnectFailed(error, fatal)),
      onTransport: (up) => this.whenCurrent(client, () => this.onTransport(up)),
    });
    this.client = client;
    client.start();
  }

  private whenCurrent(client: CdcClient, fn: () => void): void {
    if (client === this.client && !this.stopping) fn();
  }

  private async closeClient(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.close();
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.reconnectTimer || this.stopping) return;
    void this.closeClient();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delayMs);
  }

  private onSubscribed(): void {
    this.subscribed = true;
    if (this.replayFrom() === REPLAY_NEW) {
      this.liveSince = this.deps.now();
      if (this.stored === null) this.marking = this.markLiveSince(this.liveSince);
    }
    this.current.state = 'streaming';
    this.logger.info('subscribed to change events', {
      channel: this.options.channel,
      replayFrom: this.replayFrom(),
    });
  }

  /**
   * Stores `since:<at>` where no position is stored yet, so that a restart before the first
   * committed event replays from here (see SINCE_PREFIX). A failure only loses that guarantee
   * for a restart before the first event; it is logged.
   */
  private async markLiveSince(at: number): Promise<void> {
    const value = `${SINCE_PREFIX}${at}`;
    try {
      if (await this.deps.positions.compareAndSet(this.positionName, null, value)) {
        this.stored = value;
      }
    } catch (err) {
      this.logger.warn('could not store when streaming started', { err: toSyncError(err) });
    }
  }

  private onSubscribeFailed(error: string): void {
    this.subscribed = false;
    if (error.startsWith('401')) return this.recoverAuth(error);
    if (REPLAY_INVALID.test(error)) return this.onReplayInvalid(error);
    // faye re-handshakes and re-subscribes by itself after an unknown-client answer.
    if (error.startsWith('403::Unknown client')) return;
    this.noteError('UPSTREAM_UNAVAILABLE', `subscribe failed: ${error}`);
    this.scheduleReconnect(this.options.resubscribeDelayMs);
  }

  private onHandshakeFailed(error: string, reason: string | null, fatal: boolean): void {
    this.subscribed = false;
    if ((reason ?? error).startsWith('401') || error.startsWith('401')) {
      return this.recoverAuth(reason ?? error);
    }
    this.noteError('UPSTREAM_UNAVAILABLE', `handshake failed: ${reason ?? error}`);
    if (fatal) this.scheduleReconnect(this.options.resubscribeDelayMs);
  }

  private onConnectFailed(error: string, fatal: boolean): void {
    this.subscribed = false;
    if (error.startsWith('401')) return this.recoverAuth(error);
    if (error.startsWith('403::Unknown client')) {
      this.current.state = 'connecting';
      this.logger.info('CometD session dropped; re-handshaking', {
        replayFrom: this.replayFrom(),
      });
      if (fatal) this.connect();
      return;
    }
    this.noteError('UPSTREAM_UNAVAILABLE', `connect failed: ${error}`);
    if (fatal) this.scheduleReconnect(this.options.resubscribeDelayMs);
  }

  private onTransport(up: boolean): void {
    if (up) {
      if (this.subscribed && this.current.state === 'connecting') this.current.state = 'streaming';
      return;
    }
    if (this.current.state === 'streaming') this.current.state = 'connecting';
    this.noteError('UPSTREAM_UNAVAILABLE', 'CometD transport down; subscribing again');
    // Events in a long-poll answer lost with the connection are gone from faye's session,
    // which would go on after them: a new session replays from the stored replay id, and what
    // came since comes again (the reconciler drops what it has seen).
    this.floor = this.fallback ? null : this.lastCommitted;
    this.scheduleReconnect(this.options.resubscribeDelayMs);
  }

  private onReplayInvalid(error: string): void {
    const refused = this.fallback ? -1 : this.lastCommitted;
    const refusedAt = this.deps.now();
    const message =
      `stored replay id ${String(refused)} is no longer available (${error}); ` +
      'resubscribed for new events only and requested a full sync';
    this.logger.error('replay id invalid: requesting a full sync', { replayId: refused, error });
    this.noteError('POSITION_EXPIRED', message, false);
    this.fallback = true;
    this.floor = null;
    this.liveSince = null;
    // The refused stored position names the gap, and so its one recovery run.
    this.enqueue({
      kind: 'resync',
      reason: 'replay_id_invalid',
      at: this.stored ?? 'none',
      refusedAt,
    });
    this.connect();
  }

  /**
   * The token was refused. A cheap REST call lets jsforce refresh it (a 401 triggers its
   * refresh grant); then a new client is built, as jsforce sets the streaming Authorization
   * header only once. If the refresh fails, the org needs an admin: we say so and check again
   * slowly, never giving up on our own.
   */
  private recoverAuth(error: string): void {
    if (this.recovering || this.stopping) return;
    this.recovering = true;
    this.logger.warn('CometD refused the access token; refreshing it', { error });
    void this.closeClient();
    this.subscribed = false;
    if (this.current.state !== 'needs_reauth') this.current.state = 'connecting';
    const run = async (): Promise<void> => {
      while (!this.stopping) {
        try {
          await this.conn.limits();
          break;
        } catch (err) {
          const e = salesforceError(err, 'credential check failed');
          if (e.code === 'AUTH_FAILED') {
            this.current.state = 'needs_reauth';
            this.noteError(e.code, e.message, false);
            this.logger.error(
              'Salesforce refused the credentials and the token refresh failed; the org must be reconnected',
              { upstreamCode: e.context.upstreamCode, retryInMs: this.options.reauthRetryMs },
            );
          } else {
            this.noteError(e.code, e.message);
          }
          await this.pause(
            e.code === 'AUTH_FAILED' ? this.options.reauthRetryMs : this.options.resubscribeDelayMs,
          );
        }
      }
    };
    run()
      .catch((err: unknown) => this.logger.error('auth recovery failed', { err }))
      .finally(() => {
        this.recovering = false;
        if (this.stopping) return;
        if (this.current.state === 'needs_reauth') this.current.state = 'connecting';
        this.connect();
      });
  }

  private readonly onRefresh = (): void => {
    // During auth recovery the recovery itself rebuilds once the check passed.
    if (this.recovering || this.stopping) return;
    this.logger.info('access token refreshed; rebuilding the streaming client', {
      replayFrom: this.replayFrom(),
    });
    this.connect();
  };

  private noteError(code: string, message: string, log = true): void {
    this.current.lastError = { code, message, at: this.deps.now() };
    if (log) this.logger.warn(message, { code });
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, this.abort.signal).catch(() => undefined);
  }

  // --- queue ---------------------------------------------------------------------------------

  private enqueue(item: QueueItem): void {
    this.queue.push(item);
    this.kick();
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.queue.length > 0 && !this.stopping) this.kick();
    });
  }

  private async drain(): Promise<void> {
    // faye hands over the events of one long-poll answer synchronously; waiting a turn lets
    // them all into the queue, so they are produced (and gap ids re-read) together.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const work: BatchWork = {
        items: this.queue.splice(0, this.options.maxBatchSize),
        prepared: false,
        slots: [],
        syncRequests: [],
        deadLetters: [],
        rereadDone: false,
        changesSent: false,
        syncSent: false,
      };
      for (let failures = 1; ; failures++) {
        try {
          await this.process(work);
          break;
        } catch (err) {
          const e = toSyncError(err, 'UPSTREAM_UNAVAILABLE');
          this.noteError(e.code, `change batch failed, position not moved: ${e.message}`);
          if (this.stopping) {
            // The position was not committed: a restart reads these events again.
            this.queue = [];
            return;
          }
          await this.pause(backoffDelayMs(this.options.retryPolicy, failures));
        }
      }
    }
  }

  private async process(work: BatchWork): Promise<void> {
    if (!work.prepared) this.prepare(work);
    if (!work.rereadDone) await this.reread(work);
    if (!work.changesSent) await this.sendChanges(work);
    if (!work.syncSent) await this.sendSyncRequests(work);
    while (work.deadLetters.length > 0) {
      const letter = work.deadLetters[0]!;
      await sendToDeadLetters(this.deps, {
        orgId: this.org.orgId,
        original: null,
        originalValue: Buffer.from(safeJson(letter.raw)),
        originalKey: null,
        sourceTopic: `salesforce-cdc:${this.options.channel}`,
        recordType: 'SalesforceCdcEvent',
        error: letter.error,
        attempts: 1,
        context: letter.replayId === null ? {} : { replayId: String(letter.replayId) },
      });
      work.deadLetters.shift();
    }
    await this.commit(work);
  }

  private prepare(work: BatchWork): void {
    for (const item of work.items) {
      if (item.kind === 'resync') {
        const { kind: _kind, ...request } = item;
        work.syncRequests.push(request);
        continue;
      }
      let outcome;
      let replayId: number;
      try {
        const event = parseCdcEvent(item.raw);
        replayId = event.replayId;
        // Only orgs that map fields beyond the built-in table, or hold some back, are looked at.
        const watch = this.deps.fields;
        if (watch?.watching(this.org.orgId)) {
          watch.noticeFields(this.org.orgId, eventFieldNames(event));
        }
        outcome = interpretEvent(event, this.ctx);
        if (outcome.kind === 'reread') {
          work.slots.push({
            records: [],
            reread: {
              ids: outcome.recordIds,
              replayId,
              commitTimestamp: event.header.commitTimestamp,
            },
            raw: item.raw,
            replayId,
          });
          if (!outcome.reason.startsWith('GAP_')) {
            this.logger.info('change event cannot be applied; re-reading its records', {
              replayId,
              reason: outcome.reason,
            });
          }
        } else if (outcome.kind === 'overflow') {
          work.syncRequests.push({ reason: 'GAP_OVERFLOW', at: String(replayId) });
        } else {
          work.slots.push({ records: outcome.records, raw: item.raw, replayId });
        }
      } catch (err) {
        work.deadLetters.push({ raw: item.raw, replayId: item.replayId, error: err });
      }
    }
    work.prepared = true;
  }

  /** One batched `Id IN (...)` read for every record of the batch's gap events. */
  private async reread(work: BatchWork): Promise<void> {
    const waiting = work.slots.filter((s) => s.reread);
    if (waiting.length > 0) {
      const ids = waiting.flatMap((s) => s.reread!.ids);
      let rows: Map<string, Record<string, unknown>> | null = null;
      try {
        rows = await rereadContacts(this.conn, ids, this.ctx.mapping);
      } catch (err) {
        const e = salesforceError(err, 'gap re-read failed');
        if (e.retriable || e.code === 'AUTH_FAILED') throw e;
        this.logger.error('gap re-read failed for good; requesting a full sync instead', {
          code: e.code,
          reason: e.message,
          records: ids.length,
        });
        work.syncRequests.push({
          reason: 'gap_reread_failed',
          at: waiting.map((slot) => slot.replayId).join(','),
        });
      }
      for (const slot of waiting) {
        const gap = slot.reread!;
        slot.records = rows
          ? gap.ids.map((id) => rereadRecord(id, rows.get(idKey(id)), gap, this.ctx))
          : [];
        delete slot.reread;
      }
    }
    work.rereadDone = true;
  }

  private async sendChanges(work: BatchWork): Promise<void> {
    const records = work.slots.flatMap((s) => s.records);
    try {
      await produce(this.deps, 'contactChanges', records.map(this.keyed));
    } catch (err) {
      if (isSyncError(err) && (err.code === 'SCHEMA_MISMATCH' || err.code === 'INVALID_INPUT')) {
        await this.sendChangesOneByOne(work);
      } else {
        throw err;
      }
    }
    work.changesSent = true;
    if (records.length > 0) {
      this.deps.events.emit('source.records', {
        source: 'salesforce',
        orgId: this.org.orgId,
        count: records.length,
      });
    }
  }

  /** A record the codec refuses must not hold back the others: it goes to dead letters. */
  private async sendChangesOneByOne(work: BatchWork): Promise<void> {
    const kept: Slot[] = [];
    for (const slot of work.slots) {
      try {
        await produce(this.deps, 'contactChanges', slot.records.map(this.keyed));
        kept.push(slot);
      } catch (err) {
        if (!isSyncError(err) || err.retriable) throw err;
        work.deadLetters.push({ raw: slot.raw, replayId: slot.replayId, error: err });
      }
    }
    work.slots = kept;
  }

  private readonly keyed = (
    value: SalesforceContactChange,
  ): { key: string; value: SalesforceContactChange } => ({
    key: recordKey(value.orgId, value.salesforceId),
    value,
  });

  /**
   * Asks for a full sync per gap: the run id names the gap (recoveryRunId), so a request sent
   * again merges into its run. Then, for a refused replay id, stores the moment it was refused in
   * its place: a restart resumes from there instead of finding the same id refused and asking for
   * another run (the recovery run covers what came before). Only once the request is
   * acknowledged, so a crash in between asks again rather than never.
   */
  private async sendSyncRequests(work: BatchWork): Promise<void> {
    const requests = new Map(work.syncRequests.map((r) => [`${r.reason}@${r.at}`, r]));
    const at = this.deps.now();
    const events: SyncRunEvent[] = [...requests.values()].map((r) => ({
      orgId: this.org.orgId,
      runId: recoveryRunId(this.org.orgId, `salesforce:${r.reason}@${r.at}`),
      kind: 'REQUESTED',
      trigger: 'RECOVERY',
      reason: r.reason,
      at,
      counts: {},
    }));
    await produce(
      this.deps,
      'syncRuns',
      events.map((value) => ({ key: recordKey(value.orgId, value.runId), value })),
    );
    work.syncSent = true;
    for (const { reason } of requests.values()) {
      this.current.lastResync = { reason, at };
      this.logger.warn('full sync requested', { reason });
      this.deps.events.emit('source.resync', {
        source: 'salesforce',
        orgId: this.org.orgId,
        reason,
      });
    }
    const refused = [...requests.values()].find((r) => r.refusedAt !== undefined);
    if (refused) await this.replaceRefusedPosition(refused.refusedAt!);
  }

  /**
   * Replaces a refused replay id with `since:<when it was refused>`, unless an event was
   * committed meanwhile (then that id is the position). See SINCE_PREFIX.
   */
  private async replaceRefusedPosition(refusedAt: number): Promise<void> {
    if (!this.fallback || !Number.isSafeInteger(refusedAt)) return;
    if (this.stored?.startsWith(SINCE_PREFIX)) return;
    const value = `${SINCE_PREFIX}${refusedAt}`;
    if (await this.deps.positions.compareAndSet(this.positionName, this.stored, value)) {
      this.stored = value;
      this.logger.info('refused replay id replaced by the time it was refused', {
        position: value,
      });
    }
  }

  /** Moves the stored replay id to the batch's last event, once all of it is acknowledged. */
  private async commit(work: BatchWork): Promise<void> {
    let target: number | null = null;
    for (const item of work.items) {
      if (item.kind === 'event' && item.replayId !== null) {
        target = target === null ? item.replayId : Math.max(target, item.replayId);
      }
    }
    if (target === null) return;
    if (!this.fallback && this.lastCommitted !== null && target <= this.lastCommitted) return;
    // The `since:` marker goes first: the replay id replaces it below.
    if (this.marking) await this.marking;
    const value = String(target);
    const moved = await this.deps.positions.compareAndSet(this.positionName, this.stored, value);
    if (!moved) {
      const theirs = await this.deps.positions.get(this.positionName);
      this.logger.warn('replay position was moved by someone else (two subscribers?)', {
        expected: this.stored,
        found: theirs,
        ours: value,
      });
      const theirsNumber = Number(theirs);
      if (theirs !== null && Number.isSafeInteger(theirsNumber) && theirsNumber > target) {
        this.stored = theirs;
        this.lastCommitted = theirsNumber;
        return;
      }
      await this.deps.positions.set(this.positionName, value);
    }
    this.stored = value;
    this.lastCommitted = target;
    this.fallback = false;
    this.liveSince = null;
    this.deps.events.emit('source.position', {
      source: 'salesforce',
      orgId: this.org.orgId,
      position: value,
    });
  }
}

function safeJson(raw: unknown): string {
  try {
    return JSON.stringify(raw) ?? String(raw);
  } catch {
    return String(raw);
  }
}
