import type { Admin, Kafka } from 'kafkajs';
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
  options: {
    groupId: string;
    tuning: { sessionTimeoutMs: number; heartbeatIntervalMs: number; maxWaitTimeMs: number };
  },
): Promise<Map<string, Buffer>> {
  const latest = new Map<string, Buffer>();
  if (!(await admin.listTopics()).includes(topic)) return latest;
  const remaining = new Map<number, bigint>();
  for (const w of await admin.fetchTopicOffsets(topic)) {
    if (BigInt(w.high) > BigInt(w.low)) remaining.set(w.partition, BigInt(w.high));
  }
  if (remaining.size === 0) return latest;

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
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (m.key && m.value) latest.set(m.key.toString('utf8'), m.value);
        }
        const end = remaining.get(batch.partition);
        if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) {
          remaining.delete(batch.partition);
          if (remaining.size === 0) finish();
        }
      },
    });
    await Promise.race([done, deadline]);
    return latest;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([options.groupId]).catch(() => undefined);
  }
}
