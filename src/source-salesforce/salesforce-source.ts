import type { OrgRuntime } from '../orgs/org-directory';
import type { PipelineDeps } from '../pipeline/deps';
import type { RetryPolicy } from '../retry';
import { OrgStream, type OrgStreamOptions, type SalesforceSourceStatus } from './org-stream';

export interface SalesforceSourceOptions {
  /** CDC channel. Default `/data/ContactChangeEvent`. */
  channel?: string;
  /** Events produced in one send at most. Default 500. */
  maxBatchSize?: number;
  /** Backoff of a failed batch (produce, gap re-read, commit); retried until it succeeds. */
  retryPolicy?: RetryPolicy;
  /** Wait between credential checks while an org needs reconnecting. Default 60 s. */
  reauthRetryMs?: number;
  /** Wait before rebuilding a client faye gave up on. Default 5 s. */
  resubscribeDelayMs?: number;
  /**
   * Whether this process subscribes for the organization now: the pipeline's source lease,
   * so that of several processes only one holds a CometD subscription per organization.
   * Default: every streaming organization.
   */
  readsOrg?: (orgId: string) => boolean;
}

const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.5,
};

/**
 * The Salesforce source: Change Data Capture over CometD (jsforce's streaming client) to
 * SalesforceContactChange records on the contactChanges topic, one subscriber per
 * organization that has streaming on and a Salesforce connection.
 *
 * Contract:
 * - per organization, records are produced in CDC order; the replay id is stored in the
 *   PositionStore (`source:salesforce:<orgId>:replay`) only after the broker acknowledged
 *   the records of every event up to it, and a (re)subscribe always starts from that stored id;
 * - at-least-once: after a crash the events since the stored id come again; within one run an
 *   event already taken in is not produced twice;
 * - a malformed event goes to dead letters; a gap event is answered by one batched re-read
 *   (SNAPSHOT / DELETE records); an overflow or a lost replay id asks for a full sync
 *   (SyncRunEvent REQUESTED / RECOVERY on syncRuns);
 * - with `readsOrg` (the pipeline's source lease) only organizations it allows are subscribed;
 *   `startOrg` / `stopOrg` switch one organization when the lease comes or goes.
 */
export class SalesforceSource {
  private readonly streams = new Map<string, OrgStream>();
  /** Status of streams that ended, so status() still says what happened last. */
  private readonly ended = new Map<string, SalesforceSourceStatus>();
  private readonly options: OrgStreamOptions;
  private readonly reads: (orgId: string) => boolean;
  private started = false;

  constructor(
    private readonly deps: PipelineDeps,
    options: SalesforceSourceOptions = {},
  ) {
    this.options = {
      channel: options.channel ?? '/data/ContactChangeEvent',
      maxBatchSize: Math.max(1, options.maxBatchSize ?? 500),
      retryPolicy: options.retryPolicy ?? defaultRetryPolicy,
      reauthRetryMs: options.reauthRetryMs ?? 60_000,
      resubscribeDelayMs: options.resubscribeDelayMs ?? 5_000,
    };
    this.reads = options.readsOrg ?? (() => true);
  }

  /**
   * Subscribes every organization that streams, has a Salesforce connection and that
   * `readsOrg` allows.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const org of this.deps.orgs.list()) await this.startStream(org);
  }

  /** Stops every subscriber: queued events are produced and committed, clients disconnected. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    const orgIds = [...this.streams.keys()];
    await Promise.all(orgIds.map((orgId) => this.stopOrg(orgId)));
  }

  /**
   * Re-reads the organization from the directory (settings, streaming switch, connection)
   * and replaces its subscriber; it resumes from the stored replay id.
   */
  async restart(orgId: string): Promise<void> {
    await this.stopOrg(orgId);
    await this.startOrg(orgId);
  }

  /**
   * Subscribes one organization from its stored replay id, unless it is subscribed already,
   * the source is stopped, or the organization does not stream, has no connection or is not
   * allowed by `readsOrg`.
   */
  async startOrg(orgId: string): Promise<void> {
    const org = this.deps.orgs.get(orgId);
    if (this.started && org) await this.startStream(org);
  }

  status(orgId: string): SalesforceSourceStatus {
    return (
      this.streams.get(orgId)?.status() ??
      this.ended.get(orgId) ?? {
        orgId,
        state: 'stopped',
        lastReplayId: null,
        lastEventAt: null,
        lastError: null,
        lastResync: null,
      }
    );
  }

  /** The running subscriber of an organization (tests hand it events directly). */
  stream(orgId: string): OrgStream | undefined {
    return this.streams.get(orgId);
  }

  private async startStream(org: OrgRuntime): Promise<void> {
    if (!org.streaming || !org.salesforce || this.streams.has(org.orgId)) return;
    if (!this.reads(org.orgId)) return;
    const stream = new OrgStream(this.deps, { ...org, salesforce: org.salesforce }, this.options);
    this.streams.set(org.orgId, stream);
    try {
      await stream.start();
    } catch (err) {
      if (this.streams.get(org.orgId) === stream) this.streams.delete(org.orgId);
      await stream.stop();
      throw err;
    }
  }

  /**
   * Stops one organization's subscriber: queued events are produced and committed, the
   * client disconnected. A start still waiting for its subscription ends at once.
   */
  async stopOrg(orgId: string): Promise<void> {
    const stream = this.streams.get(orgId);
    if (!stream) return;
    this.streams.delete(orgId);
    await stream.stop();
    this.ended.set(orgId, stream.status());
  }
}
