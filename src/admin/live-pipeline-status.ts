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
}

/**
 * PipelineStatus read live from the sources and the transport. `lag` of a source is its change
 * topic's backlog for the reconciler (all organizations of the topic together). A source this
 * process does not run because another process holds the organization's source lease is
 * `standby`, not `stopped`.
 */
export class LivePipelineStatus implements PipelineStatus {
  constructor(private readonly deps: LivePipelineStatusDeps) {}

  private async topicLag(group: string, topics: string[]): Promise<ConsumerLagView[]> {
    const parts = await this.deps.transport.lag(group, topics);
    const sums = new Map<string, number>();
    for (const p of parts) sums.set(p.topic, (sums.get(p.topic) ?? 0) + p.lag);
    return topics.map((topic) => ({ group, topic, lag: sums.get(topic) ?? 0 }));
  }

  async sources(orgId: string): Promise<SourceStatusView[]> {
    const { topics, groupPrefix, pipeline } = this.deps;
    const lag = await this.topicLag(`${groupPrefix}.reconciler`, [
      topics.staffChanges,
      topics.contactChanges,
    ]).catch(() => null);
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
