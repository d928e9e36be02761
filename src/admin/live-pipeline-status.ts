import type { Side } from '../core/pair-state';
import type { TopicNames } from '../core/topics';
import type { Transport } from '../core/transport';
import type { Pipeline } from '../pipeline/connector';
import type { ConsumerLagView, PipelineStatus, SourceStatusView } from './ports';

export interface LivePipelineStatusDeps {
  transport: Transport;
  topics: TopicNames;
  groupPrefix: string;
  pipeline: Pipeline;
  /** Consumer groups beside the pipeline's (dead letters, outcomes) and the topic each reads. */
  moreGroups: Array<{ groupId: string; topic: string }>;
  /** Clock (epoch ms) for how long a lag read is reused. Default Date.now. */
  now?: () => number;
}

/** How long one read of the reconciler's lag serves every organization's source status. */
const SHARED_LAG_MS = 1_000;

/**
 * PipelineStatus read live from the sources and the transport. `lag` of a source is its change
 * topic's backlog for the reconciler (all organizations of the topic together). A source this
 * process does not run because another process holds the organization's source lease is
 * `standby`, not `stopped`.
 */
export class LivePipelineStatus implements PipelineStatus {
  private reconcilerLag: { at: number; lag: Promise<ConsumerLagView[] | null> } | null = null;

  constructor(private readonly deps: LivePipelineStatusDeps) {}

  /**
   * The reconciler's lag on the change topics, which every organization shares: read once a
   * second at most, not once per organization (a scrape asks for all of them, and each read is
   * a round of Kafka admin calls; 20 organizations made a scrape take 2 s).
   */
  private sharedReconcilerLag(): Promise<ConsumerLagView[] | null> {
    const now = (this.deps.now ?? Date.now)();
    if (this.reconcilerLag && now - this.reconcilerLag.at < SHARED_LAG_MS) {
      return this.reconcilerLag.lag;
    }
    const { topics, groupPrefix } = this.deps;
    const lag = this.topicLag(`${groupPrefix}.reconciler`, [
      topics.staffChanges,
      topics.contactChanges,
    ]).catch(() => null);
    this.reconcilerLag = { at: now, lag };
    return lag;
  }

  private async topicLag(group: string, topics: string[]): Promise<ConsumerLagView[]> {
    const parts = await this.deps.transport.lag(group, topics);
    const sums = new Map<string, number>();
    for (const p of parts) sums.set(p.topic, (sums.get(p.topic) ?? 0) + p.lag);
    return topics.map((topic) => ({ group, topic, lag: sums.get(topic) ?? 0 }));
  }

  async sources(orgId: string): Promise<SourceStatusView[]> {
    const { topics, pipeline } = this.deps;
    const lag = await this.sharedReconcilerLag();
    const lagOf = (topic: string): number | null =>
      lag?.find((l) => l.topic === topic)?.lag ?? null;
    const il = pipeline.initliveSource.status(orgId);
    const sf = pipeline.salesforceSource.status(orgId);
    const idle = pipeline.sourceLease?.state(orgId) === 'standby' ? 'standby' : 'stopped';
    const initlive: SourceStatusView = {
      source: 'initlive' satisfies Side,
      state: !il?.running ? idle : il.retryAt !== null ? 'retrying' : 'running',
      position: il?.position ?? null,
      lastEventAt: il?.lastReadAt ?? null,
      lastError: il?.lastError ? `${il.lastError.code}: ${il.lastError.message}` : null,
      lag: lagOf(topics.staffChanges),
    };
    const salesforce: SourceStatusView = {
      source: 'salesforce',
      state: sf.state === 'stopped' ? idle : sf.state,
      position: sf.lastReplayId,
      lastEventAt: sf.lastEventAt,
      lastError: sf.lastError ? `${sf.lastError.code}: ${sf.lastError.message}` : null,
      lag: lagOf(topics.contactChanges),
    };
    return [initlive, salesforce];
  }

  async consumerLag(): Promise<ConsumerLagView[]> {
    const { topics, groupPrefix, pipeline } = this.deps;
    const groups: Array<[string, string[]]> = [
      [`${groupPrefix}.reconciler`, [topics.staffChanges, topics.contactChanges]],
      [pipeline.salesforceSink.groupId, [topics.salesforceWrites]],
      [pipeline.initliveSink.groupId, [topics.initliveWrites]],
      ...this.deps.moreGroups.map((g): [string, string[]] => [g.groupId, [g.topic]]),
    ];
    const all = await Promise.all(groups.map(([g, t]) => this.topicLag(g, t)));
    return all.flat();
  }
}
