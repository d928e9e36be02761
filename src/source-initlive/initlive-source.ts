import type { IncomingMessage, ServerResponse } from 'node:http';
import { recoveryRunId } from '../core/recovery';
import type { SyncRunEvent } from '../core/records';
import { recordKey } from '../core/topics';
import { SyncError, toSyncError } from '../errors';
import type { OrgRuntime } from '../orgs/org-directory';
import { produce } from '../pipeline/deps';
import type { PipelineDeps } from '../pipeline/deps';
import { backoffDelayMs } from '../retry';
import type { RetryPolicy } from '../retry';
import { staffChangeFromFeed } from './staff-change';
import { WebhookReceiver } from './webhook-receiver';
import type {
  WakeOutcome,
  WebhookReceiverOptions,
  WebhookResponse,
  WebhookStats,
} from './webhook-receiver';

export interface InitLiveSourceOptions {
  /** Wait between feed reads once the feed is drained; webhooks cut it short. Default 1000. */
  pollIntervalMs?: number;
  /**
   * The longest wait between reads of a feed that keeps coming back empty: the wait doubles
   * from `pollIntervalMs` after each empty read, up to this, and is back at `pollIntervalMs`
   * as soon as a read finds changes. Webhooks cut any wait short. Default `pollIntervalMs`
   * (no backoff). Each streaming organization costs one request per wait, to InitLive and in
   * CPU here, which is what a higher value saves (docs/scaling.md).
   */
  idlePollMaxMs?: number;
  /** Feed entries per read, 1..1000. Default 500. */
  pageSize?: number;
  /** Enables `handleWebhook` / `webhookHttpHandler`; without it they answer 404. */
  webhook?: WebhookReceiverOptions;
  /**
   * Wait after a failed read or produce, growing per consecutive failure (`maxAttempts` is
   * unused: a reader never gives up). A 429's Retry-After is waited at least.
   */
  errorBackoff?: RetryPolicy;
  /**
   * Whether this process reads the organization now: the pipeline's source lease, so that of
   * several processes only one polls each feed. Default: every streaming organization.
   */
  readsOrg?: (orgId: string) => boolean;
}

export interface InitLiveSourceStatus {
  orgId: string;
  running: boolean;
  /** The committed feed position (last seq on the topic), null before the first commit. */
  position: string | null;
  lastReadAt: number | null;
  recordsProduced: number;
  resyncsRequested: number;
  consecutiveFailures: number;
  lastError: { code: string; message: string; at: number } | null;
  /** When the reader tries again after a failure; null when it is not backing off. */
  retryAt: number | null;
}

export interface InitLiveSourceStats {
  webhooks: WebhookStats;
}

/**
 * The wait before the next read after `emptyReads` empty reads in a row (0: the last read
 * found changes): `pollIntervalMs` for the first, then doubling, at most `idlePollMaxMs`.
 */
export function idlePollDelayMs(
  emptyReads: number,
  pollIntervalMs: number,
  idlePollMaxMs: number,
): number {
  const ceiling = Math.max(pollIntervalMs, idlePollMaxMs);
  if (emptyReads <= 1) return pollIntervalMs;
  // 2^30 is past any ceiling already: no overflow for a feed idle for years.
  return Math.min(ceiling, pollIntervalMs * 2 ** Math.min(30, emptyReads - 1));
}

/**
 * The idle-poll ceiling a deployment gets: the configured one, else 15 s where webhooks are
 * registered (they bring changes at once; the poll only catches a lost one, and polling each
 * organization every second costs a core per thousand), else none (every `pollIntervalMs`).
 */
export function idlePollCeilingMs(
  configured: number | undefined,
  webhooksRegistered: boolean,
): number | undefined {
  return configured ?? (webhooksRegistered ? 15_000 : undefined);
}

const defaultErrorBackoff: RetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  initialDelayMs: 500,
  maxDelayMs: 60_000,
  factor: 2,
  jitter: 0.5,
};

/** Durable name of an org's feed cursor in the PositionStore. */
export function initLivePositionName(orgId: string): string {
  return `source:initlive:${orgId}:feed`;
}

function parsePosition(stored: string | null, name: string): number {
  if (stored === null) return 0;
  const n = Number(stored);
  if (!/^\d+$/.test(stored) || !Number.isSafeInteger(n)) {
    // Nothing can be trusted after an unreadable cursor: treat it as lost and resync.
    throw new SyncError('POSITION_EXPIRED', `stored InitLive cursor ${name} is not a position`, {
      context: { name, stored },
    });
  }
  return n;
}

/**
 * Reads every streaming organization's InitLive change feed onto the staff-changes topic.
 *
 * Per organization, one reader loop: read a page after the stored cursor, produce one change
 * record per entry (keyed `<orgId>/<staffId>`, so one staff member's changes keep their order),
 * and only once Kafka acknowledged them move the cursor (compare-and-set, so two processes
 * cannot move one cursor past each other unnoticed). A crash between produce and commit reads
 * the page again; the duplicates are harmless downstream (the reconciler drops repeated seqs).
 * Pages are read until the feed says `hasMore: false`, then the reader sleeps `pollIntervalMs`
 * or until a verified webhook wakes it.
 *
 * Failures never skip anything: a read or produce that fails (the client has already retried
 * 429 and 5xx) is retried from the same cursor after a growing backoff, at least Retry-After.
 * A cursor InitLive no longer serves (410 cursor_expired) requests a full sync (a REQUESTED /
 * RECOVERY sync-run event), then continues from the oldest retained change (`after = 0`):
 * the full sync covers whatever was purged, and replaying the retained part loses nothing.
 *
 * With `readsOrg` (the pipeline's source lease) only organizations it allows get a reader;
 * `startOrg` / `stopOrg` switch one organization when the lease comes or goes, and a reader
 * whose organization is no longer allowed ends after its current page.
 */
export class InitLiveSource {
  private readonly readers = new Map<string, OrgReader>();
  private readonly receiver: WebhookReceiver | null;
  private readonly reads: (orgId: string) => boolean;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly options: InitLiveSourceOptions = {},
  ) {
    this.reads = options.readsOrg ?? (() => true);
    this.receiver = options.webhook
      ? new WebhookReceiver(options.webhook, (orgId, seq) => this.wake(orgId, seq))
      : null;
  }

  /** Starts a reader for every organization with streaming on. Idempotent. */
  async start(): Promise<void> {
    if (this.stopping) await this.stopping;
    this.stopping = null;
    this.refreshOrgs();
  }

  /**
   * Starts readers for organizations that turned streaming on since the last call (and that
   * `readsOrg` allows); readers of organizations that went away or turned it off end by
   * themselves.
   */
  refreshOrgs(): void {
    if (this.stopping) return;
    for (const org of this.deps.orgs.list()) {
      if (!org.streaming || !this.reads(org.orgId)) continue;
      const existing = this.readers.get(org.orgId);
      if (existing?.running) continue;
      this.startReader(org.orgId);
    }
  }

  /**
   * Starts one organization's reader (it resumes from the stored cursor), once a reader still
   * finishing its last page has stopped. Nothing happens while the source is stopped, or when
   * the organization does not stream or `readsOrg` does not allow it.
   */
  async startOrg(orgId: string): Promise<void> {
    const existing = this.readers.get(orgId);
    if (existing?.stopRequested) await existing.stop();
    else if (existing?.running) return;
    const org = this.deps.orgs.get(orgId);
    if (this.stopping || !org?.streaming || !this.reads(orgId)) return;
    if (this.readers.get(orgId)?.running) return;
    this.startReader(orgId);
  }

  /** Stops one organization's reader: its in-flight page is produced and committed. */
  async stopOrg(orgId: string): Promise<void> {
    await this.readers.get(orgId)?.stop();
  }

  private startReader(orgId: string): void {
    const reader = new OrgReader(this.deps, this.options, orgId, this.reads);
    this.readers.set(orgId, reader);
    reader.start();
  }

  /** Each reader finishes its in-flight page (produce and commit), then stops. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= Promise.all([...this.readers.values()].map((r) => r.stop())).then(
      () => undefined,
    );
    return this.stopping;
  }

  /** One org's reader, or undefined when none was started for it. */
  status(orgId: string): InitLiveSourceStatus | undefined {
    return this.readers.get(orgId)?.status();
  }

  statuses(): InitLiveSourceStatus[] {
    return [...this.readers.values()].map((r) => r.status());
  }

  /**
   * Handles one InitLive webhook request (see WebhookReceiver.handle): 401 for a bad
   * signature, 400 for an unusable body, 202 after waking the org's reader. A nudge for an
   * organization another process reads (this one stands by for its lease) is answered 202 as
   * well: that process's next poll reads the change, so nothing is lost and InitLive does not
   * retry. 404 when the source was built without webhook options.
   */
  handleWebhook(
    rawBody: Buffer,
    signatureHeader: string | undefined,
    orgId?: string,
  ): WebhookResponse {
    if (!this.receiver) {
      return { status: 404, body: { ok: false, error: 'webhooks_not_configured' } };
    }
    return this.receiver.handle(rawBody, signatureHeader, orgId);
  }

  /** A plain Node (req, res) handler around `handleWebhook`; it reads the raw body itself. */
  webhookHttpHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    if (this.receiver) return this.receiver.httpHandler();
    return (_req, res) => {
      res.statusCode = 404;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ ok: false, error: 'webhooks_not_configured' }));
    };
  }

  stats(): InitLiveSourceStats {
    return {
      webhooks: this.receiver?.stats() ?? {
        accepted: 0,
        ignored: 0,
        standby: 0,
        rejected: 0,
        rejectedByReason: {},
        invalid: 0,
      },
    };
  }

  /** Wakes an org's reader unless it already read past `seq`. */
  private wake(orgId: string, seq: number): WakeOutcome {
    if (!this.reads(orgId)) return 'standby';
    const reader = this.readers.get(orgId);
    if (!reader?.running || this.stopping) return 'not_read';
    return reader.wake(seq) ? 'woken' : 'already_read';
  }
}

/** The reader loop of one organization. */
class OrgReader {
  private readonly name: string;
  private readonly pollIntervalMs: number;
  private readonly idlePollMaxMs: number;
  /** Reads in a row that found nothing (the feed is idle): the poll backs off. */
  private emptyReads = 0;
  private readonly pageSize: number;
  private readonly backoff: RetryPolicy;
  private readonly log: PipelineDeps['logger'];
  private done: Promise<void> = Promise.resolve();
  /** Set by stop(); the reader ends once its current page is produced and committed. */
  stopRequested = false;
  /** Set by a wake-up; cleared when a read starts, so wake-ups during a read are not lost. */
  private wakeRequested = false;
  private interrupt: (() => void) | null = null;
  private interruptible = true;
  private readonly state: InitLiveSourceStatus;

  running = false;

  constructor(
    private readonly deps: PipelineDeps,
    options: InitLiveSourceOptions,
    readonly orgId: string,
    private readonly reads: (orgId: string) => boolean,
  ) {
    this.name = initLivePositionName(orgId);
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.idlePollMaxMs = options.idlePollMaxMs ?? this.pollIntervalMs;
    this.pageSize = options.pageSize ?? 500;
    this.backoff = options.errorBackoff ?? defaultErrorBackoff;
    this.log = deps.logger.child({ component: 'source-initlive', orgId });
    this.state = {
      orgId,
      running: false,
      position: null,
      lastReadAt: null,
      recordsProduced: 0,
      resyncsRequested: 0,
      consecutiveFailures: 0,
      lastError: null,
      retryAt: null,
    };
  }

  start(): void {
    this.running = true;
    this.done = this.run()
      .catch((err: unknown) => {
        // run() handles its own failures; reaching here is a bug worth shouting about.
        this.log.error('InitLive reader crashed', { err });
      })
      .finally(() => {
        this.running = false;
      });
  }

  async stop(): Promise<void> {
    this.stopRequested = true;
    this.interruptible = true;
    this.interrupt?.();
    await this.done;
  }

  /** Returns false when `seq` is already on the topic (the nudge carries nothing new). */
  wake(seq: number): boolean {
    const position = this.state.position === null ? 0 : Number(this.state.position);
    if (seq <= position) return false;
    this.wakeRequested = true;
    if (this.interruptible) this.interrupt?.();
    return true;
  }

  status(): InitLiveSourceStatus {
    return {
      ...this.state,
      running: this.running,
      lastError: this.state.lastError && { ...this.state.lastError },
    };
  }

  private async run(): Promise<void> {
    this.state.position = await this.deps.positions.get(this.name).catch(() => null);
    while (!this.stopRequested) {
      const org = this.deps.orgs.get(this.orgId);
      if (!org?.streaming) {
        this.log.info('InitLive reader ends: organization no longer streams');
        return;
      }
      if (!this.reads(this.orgId)) {
        this.log.info('InitLive reader ends: this process no longer holds the source lease');
        return;
      }
      let delayMs = this.pollIntervalMs;
      let wakeable = true;
      try {
        this.wakeRequested = false;
        const read = await this.drain(org);
        this.emptyReads = read > 0 ? 0 : this.emptyReads + 1;
        delayMs = idlePollDelayMs(this.emptyReads, this.pollIntervalMs, this.idlePollMaxMs);
        this.state.consecutiveFailures = 0;
        this.state.lastError = null;
        this.state.retryAt = null;
      } catch (err) {
        const e = toSyncError(err);
        if (e.code === 'POSITION_EXPIRED') {
          try {
            await this.requestResync(e);
            delayMs = 0;
            this.state.consecutiveFailures = 0;
          } catch (resyncErr) {
            ({ delayMs, wakeable } = this.failed(toSyncError(resyncErr)));
          }
        } else {
          ({ delayMs, wakeable } = this.failed(e));
        }
      }
      await this.pause(delayMs, wakeable);
    }
  }

  /** Records a failure and returns how long to wait; wake-ups never shorten a backoff. */
  private failed(e: SyncError): { delayMs: number; wakeable: boolean } {
    this.state.consecutiveFailures++;
    const hinted = Number(e.context.retryAfterMs ?? 0);
    const delayMs = Math.max(
      backoffDelayMs(this.backoff, this.state.consecutiveFailures),
      Number.isFinite(hinted) ? hinted : 0,
    );
    const at = this.deps.now();
    this.state.lastError = { code: e.code, message: e.message, at };
    this.state.retryAt = at + delayMs;
    const fields = {
      code: e.code,
      message: e.message,
      attempt: this.state.consecutiveFailures,
      delayMs,
    };
    if (e.retriable) this.log.warn('InitLive feed read failed; retrying', fields);
    else this.log.error('InitLive feed read failed; retrying, but this needs attention', fields);
    return { delayMs, wakeable: false };
  }

  /**
   * Reads pages until the feed has nothing more right now, committing after each. Answers
   * how many entries it read.
   */
  private async drain(org: OrgRuntime): Promise<number> {
    let read = 0;
    while (!this.stopRequested) {
      let stored = await this.deps.positions.get(this.name);
      if (stored === null && this.state.position !== null) {
        // The store lost the cursor with its data (StateEpoch) while this reader holds it: put
        // it back rather than read the feed again from its start.
        await this.deps.positions.compareAndSet(this.name, null, this.state.position);
        stored = await this.deps.positions.get(this.name);
        this.log.warn('stored InitLive cursor was gone; restored the one this reader holds', {
          position: stored,
        });
      }
      const after = parsePosition(stored, this.name);
      const page = await org.initlive.readChanges(after, this.pageSize);
      const observedAt = this.deps.now();
      this.state.lastReadAt = observedAt;
      read += page.changes.length;
      if (page.changes.length > 0) {
        const records = page.changes.map((entry) =>
          staffChangeFromFeed(this.orgId, entry, org.settings.mapping, observedAt),
        );
        await produce(
          this.deps,
          'staffChanges',
          records.map((value) => ({ key: recordKey(this.orgId, value.initliveId), value })),
        );
        this.state.recordsProduced += records.length;
        this.deps.events.emit('source.records', {
          source: 'initlive',
          orgId: this.orgId,
          count: records.length,
        });
      }
      if (page.nextAfter !== after) {
        const next = String(page.nextAfter);
        if (await this.deps.positions.compareAndSet(this.name, stored, next)) {
          this.state.position = next;
          this.deps.events.emit('source.position', {
            source: 'initlive',
            orgId: this.orgId,
            position: next,
          });
        } else {
          const theirs = await this.deps.positions.get(this.name);
          if (theirs === null) {
            // The store lost its data (StateEpoch) between the read and this commit: this
            // reader's cursor is the newest known, and the feed is not read again from its start.
            await this.deps.positions.compareAndSet(this.name, null, next);
            this.state.position = next;
            this.log.warn('stored InitLive cursor was gone; restored the one this reader holds', {
              position: next,
            });
          } else {
            // Another process reading the same feed moved it; carry on from where it is now.
            this.state.position = theirs;
            this.log.warn('InitLive cursor moved by another reader', { expected: stored, next });
          }
        }
      }
      if (!page.hasMore) return read;
    }
    return read;
  }

  /**
   * The cursor is gone: ask for a full sync first (acknowledged by Kafka), then restart the
   * cursor at the oldest retained change. A crash in between asks again on restart, which is
   * harmless.
   */
  private async requestResync(cause: SyncError): Promise<void> {
    const expired = await this.deps.positions.get(this.name);
    // The expired cursor names the gap: asked again (a crash before the cursor moved), the
    // request merges into the same run.
    const runId = recoveryRunId(this.orgId, `initlive:cursor_expired@${expired ?? 'none'}`);
    const event: SyncRunEvent = {
      orgId: this.orgId,
      runId,
      kind: 'REQUESTED',
      trigger: 'RECOVERY',
      reason: 'cursor_expired',
      at: this.deps.now(),
      counts: {},
    };
    await produce(this.deps, 'syncRuns', [{ key: recordKey(this.orgId, runId), value: event }]);
    this.deps.events.emit('source.resync', {
      source: 'initlive',
      orgId: this.orgId,
      reason: 'cursor_expired',
    });
    if (await this.deps.positions.compareAndSet(this.name, expired, '0')) this.state.position = '0';
    this.state.resyncsRequested++;
    this.log.warn('InitLive cursor expired; full sync requested, reading from the oldest change', {
      runId,
      expired,
      reason: cause.message,
    });
  }

  private async pause(ms: number, wakeable: boolean): Promise<void> {
    if (this.stopRequested) return;
    if (wakeable && this.wakeRequested) return;
    this.interruptible = wakeable;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, ms);
      this.interrupt = finish;
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
    });
    this.interrupt = null;
    this.interruptible = true;
  }
}
