/**
 * The transport port: how records move between the connector's stages. Kafka is the real
 * adapter (src/infra/kafka), the in-memory one (src/infra/memory) gives one process the same
 * semantics; one conformance suite (test/conformance/transport.conformance.ts) holds both to it.
 *
 * Semantics every adapter keeps:
 * - a record's partition is `partitionForKey(key, partitions)` (Kafka's default murmur2
 *   partitioner), so records with one key stay on one partition in send order;
 * - `send` resolves only once every record is durably stored (acks=all);
 * - consumption is at-least-once: a batch's offsets are committed only after its handler
 *   resolved; a throw redelivers the same records after a backoff, never skips them.
 */

import type { RetryPolicy } from '../retry';

/**
 * Wait before a failed batch is delivered again, growing per consecutive failure of the
 * partition. `maxAttempts` is unused: a batch is never given up on (a record that can never
 * succeed is the handler's to dead-letter).
 */
export const defaultRedeliveryBackoff: RetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.5,
};

export interface OutgoingRecord {
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit; kept as a decimal string like kafkajs does. */
  offset: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  /** Milliseconds since the epoch, set when the record was produced. */
  timestamp: number;
}

/** Records of one partition, in offset order, without gaps. */
export interface RecordBatch {
  topic: string;
  partition: number;
  records: ConsumedRecord[];
  /**
   * Records already in the partition after this batch, as far as the transport knew when it
   * handed the batch over (Kafka: from the fetch's high watermark). A consumer that is behind
   * learns it here, so it need not wait for more to arrive before acting on a backlog.
   */
  behind?: number;
}

/** What Transport.readFrom read. */
export interface PartitionRead {
  records: ConsumedRecord[];
  /** Partition -> the offset after the last one the read covered (decimal string). */
  ends: Map<number, string>;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Kafka only; -1 (the default) takes the broker default. */
  replicationFactor?: number;
  /** Kafka topic configs (`cleanup.policy`, `retention.ms`, ...); ignored in memory. */
  config?: Record<string, string>;
}

/** What `ensureTopics` found or did for one topic. */
export interface TopicInfo {
  name: string;
  /** True when this call created the topic. */
  created: boolean;
  /** Partitions the topic actually has. */
  partitions: number;
  requestedPartitions: number;
  /** The topic existed with a different partition count; it was left alone. */
  partitionMismatch: boolean;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /**
   * Records after the group's committed offset. A partition the group never committed counts
   * every record it still holds.
   */
  lag: number;
}

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  /**
   * Where a group with no committed offset starts: true = the oldest record held; false (the
   * default) = only records produced after the group first subscribed.
   */
  fromBeginning?: boolean;
  /** Upper bound of records per handleBatch call (a fetched batch is split). */
  maxBatchSize?: number;
  /**
   * Kafka: how many of the member's partitions are handled side by side (each partition stays
   * in order). Default 1. Only for consumers whose output keeps its order per key whatever the
   * interleaving across partitions (the sinks); the reconciler reads one pair's changes from
   * two topics, and deciding them side by side let a pair's writes reach their topic out of
   * decision order. The in-memory transport handles partitions side by side in any case.
   */
  partitionConcurrency?: number;
  /**
   * Gets the records of ONE partition in offset order; partitions are processed one batch at a
   * time each. Offsets are committed only after it resolves. If it throws, the same records
   * come again after a backoff (the partition waits; it is never skipped).
   */
  handleBatch: (batch: RecordBatch) => Promise<void>;
  /** Handler failures (as thrown) and transport failures (as SyncError). */
  onError?: (err: unknown) => void;
}

export interface Subscription {
  /** Resolves once the member has joined its group and got its partitions. */
  ready(): Promise<void>;
  /** Stops consuming and leaves the group; the in-flight batch finishes and commits first. */
  stop(): Promise<void>;
}

export interface Transport {
  /**
   * Creates missing topics with explicit partition counts. Existing topics are left alone: a
   * partition-count mismatch is reported in the result (and logged), not thrown. Idempotent.
   */
  ensureTopics(topics: TopicSpec[]): Promise<TopicInfo[]>;
  /**
   * Produces and resolves only after the broker acknowledged every record (acks=all). Records
   * with the same key go to the same partition, in send order. Rejects with
   * TRANSPORT_UNAVAILABLE (retriable) when the records may not have been stored; a retry can
   * then duplicate records, which consumers tolerate (at-least-once).
   */
  send(topic: string, records: OutgoingRecord[]): Promise<void>;
  /**
   * Joins a consumer group; members of one group split the partitions between them. See
   * SubscribeOptions.handleBatch for delivery guarantees.
   */
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Consumer lag per topic-partition for a group (for metrics and status), every partition listed. */
  lag(groupId: string, topics: string[]): Promise<PartitionLag[]>;
  /**
   * Reads a topic from its oldest record to its end as of the call, outside any consumer
   * group, and returns the latest value per key (a key whose latest record is a tombstone is
   * left out). For small compacted topics read whole at start-up (Kafka Connect's config
   * topic pattern); an unknown topic reads as empty.
   */
  readLatest(topic: string): Promise<Map<string, Buffer>>;
  /**
   * Reads partitions of a topic, each from the given offset (or its oldest record held, if
   * that is later) to its end as of the call, outside any consumer group (nothing is
   * committed). Returns the records `keep` accepts (all by default), each partition's in
   * offset order, and per partition the offset after the last one read: what the read
   * covers, whatever `keep` took. An unknown topic or partition reads as empty.
   */
  readFrom(
    topic: string,
    from: ReadonlyMap<number, string>,
    keep?: (record: ConsumedRecord) => boolean,
  ): Promise<PartitionRead>;
  /** Stops every subscription (each finishing its in-flight batch), then releases clients. */
  close(): Promise<void>;
}

const M = 0x5bd1e995;
const SEED = 0x9747b28c;

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`, which kafkajs's DefaultPartitioner
 * reproduces) over the UTF-8 bytes of `key`. Returns a signed 32-bit integer.
 */
export function murmur2(key: string | Uint8Array): number {
  const data = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4]! & 0xff) |
      ((data[i4 + 1]! & 0xff) << 8) |
      ((data[i4 + 2]! & 0xff) << 16) |
      ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The tail bytes, in the order of Java's fall-through switch.
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition Kafka's default partitioner picks for a keyed record:
 * `(murmur2(key) & 0x7fffffff) % partitions`. Both adapters place records with it.
 */
export function partitionForKey(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  return (murmur2(key) & 0x7fffffff) % partitions;
}
