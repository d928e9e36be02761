import { randomUUID } from 'node:crypto';
import { topicNames } from '../../src/core/topics';
import { KafkaTransport } from '../../src/infra/kafka/kafka-transport';
import { createLogger } from '../../src/logger';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import { createRuntime } from '../../src/pipeline/runtime';
import { startTcpProxy } from '../fixtures/tcp-proxy';
import { integrationEnv } from '../harness/env';

/**
 * A connector started while its schema registry is still down (restarting, or not up yet in a
 * deployment starting everything at once) waits for it instead of exiting at once.
 */
describe('start-up while the registry is down', () => {
  const env = integrationEnv();

  it('waits, saying so, and starts once the registry answers', async () => {
    const registry = new URL(env.schemaRegistryUrl);
    const proxy = await startTcpProxy({ host: registry.hostname, port: Number(registry.port) });
    proxy.mode('reset');
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', write: (l) => lines.push(l) });
    const name = `startup-${randomUUID().slice(0, 8)}`;
    const viaProxy = new URL(env.schemaRegistryUrl);
    viaProxy.port = String(proxy.port);
    const starting = createRuntime(
      {
        kafkaBrokers: env.kafkaBrokers,
        kafkaClientId: name,
        schemaRegistryUrl: viaProxy.toString().replace(/\/$/, ''),
        subjectPrefix: `${name}.`,
        redisKeyPrefix: `${name}:`,
        topicPrefix: name,
        topicPartitions: 1,
        groupPrefix: name,
        startupRetry: {
          maxAttempts: 20,
          initialDelayMs: 200,
          maxDelayMs: 500,
          factor: 2,
          jitter: 0,
        },
      },
      new StaticOrgDirectory([]),
      logger,
    );
    try {
      // Down until start-up has said it waits.
      const deadline = Date.now() + 30_000;
      while (!lines.some((l) => l.includes('waiting for Kafka and the schema registry'))) {
        if (Date.now() > deadline)
          throw new Error(`start-up never said it waits: ${lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      proxy.mode('pass');
      const runtime = await starting;
      expect(await runtime.ready()).toBe(true);
      await runtime.close();
      const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(warned[0]).toMatchObject({
        level: 'warn',
        err: expect.objectContaining({ code: 'SCHEMA_REGISTRY_UNAVAILABLE' }),
      });
    } finally {
      await starting.then((r) => r.close()).catch(() => undefined);
      await proxy.close();
      const transport = new KafkaTransport({ brokers: env.kafkaBrokers, clientId: name });
      await transport.deleteTopics(Object.values(topicNames(name))).catch(() => undefined);
      await transport.close();
    }
  });

  it('a consumer joining while the broker cannot be reached waits for it, saying so, then consumes', async () => {
    const [host, port] = env.kafkaBrokers[0]!.split(':') as [string, string];
    const proxy = await startTcpProxy({ host, port: Number(port) });
    proxy.mode('reset');
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', write: (l) => lines.push(l) });
    const name = `join-${randomUUID().slice(0, 8)}`;
    const direct = new KafkaTransport({ brokers: env.kafkaBrokers, clientId: `${name}-direct` });
    // Bootstraps through the proxy (the broker's metadata then names its own address).
    const joining = new KafkaTransport({
      brokers: [`127.0.0.1:${proxy.port}`],
      clientId: name,
      logger,
      clientRetry: { retries: 1, initialRetryTime: 100, maxRetryTime: 200 },
    });
    try {
      await direct.ensureTopics([{ name, partitions: 1 }]);
      const got: string[] = [];
      const subscribing = joining.subscribe({
        groupId: name,
        topics: [name],
        fromBeginning: true,
        handleBatch: async (batch) => {
          got.push(...batch.records.map((r) => r.value.toString()));
        },
      });
      const deadline = Date.now() + 30_000;
      while (!lines.some((l) => l.includes('waiting for Kafka to join the consumer group'))) {
        if (Date.now() > deadline) throw new Error(`never said it waits: ${lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      proxy.mode('pass');
      const subscription = await subscribing;
      await subscription.ready();
      await direct.send(name, [{ key: 'k', value: Buffer.from('after the wait') }]);
      const until = Date.now() + 30_000;
      while (got.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(got).toEqual(['after the wait']);
      const waited = lines.find((l) => l.includes('waiting for Kafka to join'))!;
      expect(JSON.parse(waited)).toMatchObject({
        level: 'warn',
        groupId: name,
        err: expect.objectContaining({ code: 'TRANSPORT_UNAVAILABLE' }),
      });
    } finally {
      await joining.close().catch(() => undefined);
      await proxy.close();
      await direct.deleteTopics([name]).catch(() => undefined);
      await direct.deleteGroups([name]).catch(() => undefined);
      await direct.close();
    }
  });
});
