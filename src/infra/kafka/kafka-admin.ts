import type { Admin } from 'kafkajs';
import type { Logger } from '../../logger';
import type { PartitionLag, TopicInfo, TopicSpec } from '../../core/transport';

/**
 * Creates the missing topics with explicit partition counts and waits for their leaders, then
 * reports every topic as the broker sees it. An existing topic is never altered: a different
 * partition count is logged and flagged (`partitionMismatch`), since adding partitions would
 * move keys to other partitions and break per-key order. Idempotent; a topic created by a
 * concurrent caller counts as existing.
 */
export async function ensureTopicsWithAdmin(
  admin: Admin,
  specs: TopicSpec[],
  options: { defaultReplicationFactor: number; logger: Logger },
): Promise<TopicInfo[]> {
  if (specs.length === 0) return [];
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.name));
  if (missing.length > 0) {
    // false = some topic already existed (a concurrent creator); the metadata below tells.
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({
        topic: s.name,
        numPartitions: s.partitions,
        replicationFactor: s.replicationFactor ?? options.defaultReplicationFactor,
        configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  const counts = await partitionCountsWithAdmin(
    admin,
    specs.map((s) => s.name),
  );
  return specs.map((s) => {
    const partitions = counts.get(s.name) ?? 0;
    const info: TopicInfo = {
      name: s.name,
      created: !existing.has(s.name),
      partitions,
      requestedPartitions: s.partitions,
      partitionMismatch: partitions !== s.partitions,
    };
    if (info.partitionMismatch) {
      options.logger.warn('Topic exists with another partition count; left as it is', { ...info });
    }
    return info;
  });
}

/** Partition count per topic, from the broker's metadata. */
export async function partitionCountsWithAdmin(
  admin: Admin,
  topics: string[],
): Promise<Map<string, number>> {
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
  return new Map(metadata.map((t) => [t.name, t.partitions.length]));
}

/**
 * Lag per partition: high watermark minus the group's committed offset. A partition the group
 * never committed counts every record still held (high minus low watermark).
 */
export async function consumerLagWithAdmin(
  admin: Admin,
  groupId: string,
  topics: string[],
): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({ groupId, topics });
  const byTopic = new Map(
    committed.map((t) => [t.topic, new Map(t.partitions.map((p) => [p.partition, p.offset]))]),
  );
  const result: PartitionLag[] = [];
  for (const topic of topics) {
    const watermarks = await admin.fetchTopicOffsets(topic);
    for (const w of [...watermarks].sort((a, b) => a.partition - b.partition)) {
      const high = Number(w.high);
      const committedOffset = Number(byTopic.get(topic)?.get(w.partition) ?? -1);
      const from = committedOffset >= 0 ? committedOffset : Number(w.low);
      result.push({ topic, partition: w.partition, lag: Math.max(0, high - from) });
    }
  }
  return result;
}

/**
 * Partitions of `topics` the group has no committed offset for, with their current end
 * offset. Used to pin where a `fromBeginning: false` group starts.
 */
export async function unpositionedPartitionsWithAdmin(
  admin: Admin,
  groupId: string,
  topics: string[],
): Promise<Array<{ topic: string; partition: number; offset: string }>> {
  const committed = await admin.fetchOffsets({ groupId, topics });
  const out: Array<{ topic: string; partition: number; offset: string }> = [];
  for (const { topic, partitions } of committed) {
    const unpositioned = partitions.filter((p) => Number(p.offset) < 0).map((p) => p.partition);
    if (unpositioned.length === 0) continue;
    const watermarks = await admin.fetchTopicOffsets(topic);
    for (const w of watermarks) {
      if (unpositioned.includes(w.partition))
        out.push({ topic, partition: w.partition, offset: w.high });
    }
  }
  return out;
}
