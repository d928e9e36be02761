import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { integrationEnv, uniqueName } from '../harness/env';

// Proves the harness hands every worker services that really answer; if any of these fails,
// no other integration test result can be trusted.
describe('integration harness', () => {
  const env = integrationEnv();

  it('gives a Kafka cluster that creates, lists and deletes a topic', async () => {
    const kafka = new Kafka({
      clientId: 'harness-test',
      brokers: env.kafkaBrokers,
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    const topic = uniqueName('harness-topic');
    try {
      const cluster = await admin.describeCluster();
      expect(cluster.brokers.length).toBeGreaterThanOrEqual(1);

      await expect(
        admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }),
      ).resolves.toBe(true);
      expect(await admin.listTopics()).toContain(topic);

      await admin.deleteTopics({ topics: [topic] });
      // Deletion is asynchronous on the broker side; the topic must be gone within a few seconds.
      const deadline = Date.now() + 10_000;
      let topics = await admin.listTopics();
      while (topics.includes(topic) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        topics = await admin.listTopics();
      }
      expect(topics).not.toContain(topic);
    } finally {
      await admin.disconnect();
    }
  });

  it('gives a schema registry that registers an Avro schema and round-trips a record', async () => {
    const registry = new SchemaRegistry({ host: env.schemaRegistryUrl });
    const subject = uniqueName('harness-subject');
    const name = `Probe_${subject.replace(/-/g, '_')}`;
    try {
      const { id } = await registry.register(
        {
          type: SchemaType.AVRO,
          schema: JSON.stringify({ type: 'record', name, fields: [{ name: 'n', type: 'int' }] }),
        },
        { subject },
      );
      expect(Number.isInteger(id)).toBe(true);
      expect(id).toBeGreaterThan(0);

      const encoded = await registry.encode(id, { n: 42 });
      // Confluent wire format: magic byte 0, then the 4-byte schema id.
      expect(encoded[0]).toBe(0);
      expect(encoded.readInt32BE(1)).toBe(id);
      expect(await registry.decode(encoded)).toEqual({ n: 42 });
    } finally {
      // Best effort: a registry started by the harness allows deletes, an existing one may not.
      await fetch(`${env.schemaRegistryUrl}/subjects/${subject}`, { method: 'DELETE' }).catch(
        () => undefined,
      );
    }
  });

  it('gives a Redis that answers PING and stores a value', async () => {
    const redis = new Redis(env.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const key = uniqueName('harness-test:key');
    try {
      expect(await redis.ping()).toBe('PONG');
      const value = uniqueName('value');
      expect(await redis.set(key, value)).toBe('OK');
      expect(await redis.get(key)).toBe(value);
    } finally {
      await redis.del(key);
      await redis.quit();
    }
  });
});
