import type { Admin, Batch, Kafka } from 'kafkajs';
import type { ConsumedRecord, PartitionRead } from '../../core/transport';
import { toConsumedRecord } from './kafka-records';
import { SyncError } from '../../errors';

/** Longest a whole read may take before it fails (retriable): the topic is small by design. */
const READ_DEADLINE_MS = 60_000;

/**
 * Reads `topic` from its low to its high watermark as of the call and keeps the latest value
 * per key (records without a key or value are skipped). kafkajs has no assign-only consumer,
 * so the read joins a group of its own (`groupId`, never committed, deleted after).
 */
export async function readLatestWithConsumer(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  options: ReaderOptions,
): Promise<Map<string, Buffer>> {
  const latest = new Map<string, Buffer>();
  if (!(await admin.listTopics()).includes(topic)) return latest;
  const remaining = new Map<number, bigint>();
  for (const w of await admin.fetchTopicOffsets(topic)) {
    if (BigInt(w.high) > BigInt(w.low)) remaining.set(w.partition, BigInt(w.high));
  }
  if (remaining.size === 0) return latest;

  await readUntilEnds(kafka, admin, topic, remaining, options, { fromBeginning: true }, (batch) => {
    for (const m of batch.messages) {
      if (m.key && m.value) latest.set(m.key.toString('utf8'), m.value);
    }
  });
  return latest;
}

/**
 * Reads partitions of `topic`, each from an offset (or its low watermark, if later) to its
 * high watermark as of the call, and returns the records `keep` accepts in offset order per
 * partition, with the offset each partition's read ended at. Like readLatestWithConsumer it
 * joins a group of its own (never committed, deleted after), subscribes from the end and seeks
 * the partitions it reads: records past the watermarks are left for the topic's consumers.
 */
export async function readFromWithConsumer(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  from: ReadonlyMap<number, string>,
  keep: (record: ConsumedRecord) => boolean,
  options: ReaderOptions,
): Promise<PartitionRead> {
  const out: PartitionRead = { records: [], ends: new Map() };
  if (from.size === 0 || !(await admin.listTopics()).includes(topic)) return out;
  const starts = new Map<number, bigint>();
  const remaining = new Map<number, bigint>();
  for (const w of await admin.fetchTopicOffsets(topic)) {
    const asked = from.get(w.partition);
    if (asked === undefined) continue;
    const start = BigInt(asked) > BigInt(w.low) ? BigInt(asked) : BigInt(w.low);
    const end = BigInt(w.high);
    out.ends.set(w.partition, String(end > start ? end : start));
    if (end > start) {
      starts.set(w.partition, start);
      remaining.set(w.partition, end);
    }
  }
  if (remaining.size === 0) return out;
  const byPartition = new Map<number, ConsumedRecord[]>();
  await readUntilEnds(
    kafka,
    admin,
    topic,
    remaining,
    options,
    { fromBeginning: false, seek: starts },
    (batch) => {
      const start = starts.get(batch.partition)!;
      const end = remaining.get(batch.partition)!;
      const list = byPartition.get(batch.partition) ?? [];
      byPartition.set(batch.partition, list);
      for (const m of batch.messages) {
        const offset = BigInt(m.offset);
        // A fetch may start before the seek (a compressed batch) or run past the end.
        if (offset < start || offset >= end) continue;
        const record = toConsumedRecord(topic, batch.partition, m);
        if (keep(record)) list.push(record);
      }
    },
  );
  for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
    out.records.push(...byPartition.get(partition)!);
  }
  return out;
}

interface ReaderOptions {
  groupId: string;
  tuning: { sessionTimeoutMs: number; heartbeatIntervalMs: number; maxWaitTimeMs: number };
}

/**
 * Runs a consumer of a group of its own (never committed, deleted after) over `topic`, handing
 * each batch of the partitions in `ends` to `onBatch`, until every one of them was read to its
 * end offset; fails (retriable) after READ_DEADLINE_MS. `seek` starts partitions at offsets.
 */
async function readUntilEnds(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  ends: ReadonlyMap<number, bigint>,
  options: ReaderOptions,
  start: { fromBeginning: boolean; seek?: ReadonlyMap<number, bigint> },
  onBatch: (batch: Batch) => void,
): Promise<void> {
  const remaining = new Map(ends);
  const consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.tuning.sessionTimeoutMs,
    heartbeatInterval: options.tuning.heartbeatIntervalMs,
    maxWaitTimeInMs: options.tuning.maxWaitTimeMs,
    allowAutoTopicCreation: false,
  });
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new SyncError('TRANSPORT_UNAVAILABLE', `reading ${topic} did not reach its end in time`, {
            retriable: true,
            context: { topic },
          }),
        ),
      READ_DEADLINE_MS,
    );
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: start.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = remaining.get(batch.partition);
        if (end === undefined) return;
        onBatch(batch);
        if (BigInt(batch.lastOffset()) + 1n >= end) {
          remaining.delete(batch.partition);
          if (remaining.size === 0) finish();
        }
      },
    });
    for (const [partition, offset] of start.seek ?? []) {
      consumer.seek({ topic, partition, offset: String(offset) });
    }
    await Promise.race([done, deadline]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([options.groupId]).catch(() => undefined);
  }
}
