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
