import { randomUUID } from 'node:crypto';
import { KafkaTransport } from '../../src/infra/kafka/kafka-transport';
import { createLogger } from '../../src/logger';
import { describeTransportConformance } from '../conformance/transport.conformance';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');

// Small group timings keep joins and hand-overs quick; 6 s is the broker's minimum session.
const newTransport = (): KafkaTransport =>
  new KafkaTransport({
    brokers,
    clientId: 'transport-conformance',
    logger: createLogger({ level: 'warn', write: (line) => process.stderr.write(line + '\n') }),
    consumer: {
      sessionTimeoutMs: 6_000,
      rebalanceTimeoutMs: 10_000,
      heartbeatIntervalMs: 500,
      maxWaitTimeMs: 200,
    },
    redeliveryBackoff: {
      maxAttempts: Number.POSITIVE_INFINITY,
      initialDelayMs: 50,
      maxDelayMs: 500,
      factor: 2,
      jitter: 0.5,
    },
  });

describeTransportConformance(
  'kafka',
  async () => {
    const transport = newTransport();
    return {
      transport,
      partitionCount: (topic) => transport.partitionCount(topic),
      cleanup: async (topics, groups) => {
        await transport.deleteGroups(groups);
        await transport.deleteTopics(topics);
      },
      close: () => transport.close(),
    };
  },
  { deliveryTimeoutMs: 60_000 },
);

describe('KafkaTransport specifics', () => {
  const run = randomUUID().slice(0, 8);

  it('keeps a member alive with heartbeats while one batch runs longer than the session timeout', async () => {
    const transport = newTransport();
    const topic = `kafka-specific.${run}.heartbeat`;
    const group = `kafka-specific-${run}-heartbeat`;
    try {
      await transport.ensureTopics([{ name: topic, partitions: 1 }]);
      await transport.send(topic, [{ key: 'k', value: Buffer.from('slow') }]);
      let deliveries = 0;
      const errors: unknown[] = [];
      let done: () => void = () => undefined;
      const handled = new Promise<void>((resolve) => (done = resolve));
      const sub = await transport.subscribe({
        groupId: group,
        topics: [topic],
        fromBeginning: true,
        handleBatch: async () => {
          deliveries++;
          // Longer than sessionTimeoutMs (6 s): without heartbeats the broker would drop the
          // member, the commit would fail and the record would come again.
          await new Promise((r) => setTimeout(r, 7_500));
          done();
        },
        onError: (err) => errors.push(err),
      });
      await sub.ready();
      await handled;
      await sub.stop();
      expect(deliveries).toBe(1);
      expect(errors).toEqual([]);
      expect((await transport.lag(group, [topic])).map((l) => l.lag)).toEqual([0]);
    } finally {
      await transport.deleteGroups([group]).catch(() => undefined);
      await transport.deleteTopics([topic]);
      await transport.close();
    }
  });

  it('sends that come in while a request is out land together, in order, and a refused one fails alone', async () => {
    const transport = new KafkaTransport({
      brokers,
      clientId: 'transport-send-groups',
      logger: createLogger({ level: 'error', write: () => undefined }),
      clientRetry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
    });
    const [a, b] = [`kafka-specific.${run}.group-a`, `kafka-specific.${run}.group-b`];
    const missing = `kafka-specific.${run}.group-missing`;
    try {
      await transport.ensureTopics([
        { name: a, partitions: 2 },
        { name: b, partitions: 2 },
      ]);
      const one = (topic: string, key: string, value: string) =>
        transport.send(topic, [{ key, value: Buffer.from(value) }]);
      // The first send goes alone; the rest queue behind it and go as one group, which the
      // missing topic fails, so they go again one at a time.
      const sends = Array.from({ length: 60 }, (_, i) =>
        one(i % 2 ? a : b, `k${i % 3}`, String(i)),
      );
      const refused = one(missing, 'x', 'x');
      const after = Array.from({ length: 20 }, (_, i) => one(a, 'k1', String(60 + i)));
      const settled = await Promise.allSettled([...sends, refused, ...after]);
      expect(settled.filter((s) => s.status === 'rejected')).toEqual([
        { status: 'rejected', reason: expect.objectContaining({ code: 'TRANSPORT_UNAVAILABLE' }) },
      ]);
      expect(settled[60]?.status).toBe('rejected');

      const from = new Map([
        [0, '0'],
        [1, '0'],
      ]);
      const byKey = async (topic: string) => {
        const keys = new Map<string, number[]>();
        for (const r of (await transport.readFrom(topic, from)).records) {
          keys.set(r.key, [...(keys.get(r.key) ?? []), Number(r.value.toString())]);
        }
        return keys;
      };
      const expected = (odd: boolean) => {
        const keys = new Map<string, number[]>();
        for (let i = 0; i < 60; i++) {
          if (i % 2 === (odd ? 1 : 0)) {
            keys.set(`k${i % 3}`, [...(keys.get(`k${i % 3}`) ?? []), i]);
          }
        }
        return keys;
      };
      const inA = expected(true);
      inA.set('k1', [...(inA.get('k1') ?? []), ...Array.from({ length: 20 }, (_, i) => 60 + i)]);
      // Every record once, each key's in the order sent.
      expect(await byKey(a)).toEqual(inA);
      expect(await byKey(b)).toEqual(expected(false));
    } finally {
      await transport.deleteTopics([a, b]);
      await transport.close();
    }
  });

  it('maps kafkajs failures to retriable TRANSPORT_UNAVAILABLE and logs kafkajs errors through the project logger', async () => {
    const lines: string[] = [];
    const transport = new KafkaTransport({
      brokers,
      clientId: 'transport-errors',
      logger: createLogger({ level: 'warn', write: (line) => lines.push(line) }),
      clientRetry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
    });
    try {
      const err = await transport
        .send(`kafka-specific.${run}.missing`, [{ key: 'k', value: Buffer.from('x') }])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toMatchObject({
        name: 'SyncError',
        code: 'TRANSPORT_UNAVAILABLE',
        retriable: true,
      });
      expect((err as Error).cause).toMatchObject({ name: expect.stringMatching(/^KafkaJS/) });
      const kafkaLines = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.component === 'kafkajs');
      expect(kafkaLines.length).toBeGreaterThan(0);
      expect(kafkaLines.every((l) => l.level === 'warn' || l.level === 'error')).toBe(true);
    } finally {
      await transport.close();
    }
  });
});
