import { emptyPair } from '../../src/core/pair-state';
import { topicNames } from '../../src/core/topics';
import { createRegistryCodec } from '../../src/infra/avro/avro-codec';
import { KafkaTransport } from '../../src/infra/kafka/kafka-transport';
import { closeRedis, createRedis } from '../../src/infra/redis/connect';
import { RedisPositionStore } from '../../src/infra/redis/redis-position-store';
import { RedisVersionStore } from '../../src/infra/redis/redis-version-store';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import type { PipelineDeps } from '../../src/pipeline/deps';
import { SyncEvents } from '../../src/pipeline/events';
import { fastRetryPolicy } from '../../src/retry';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import { SalesforceSink } from '../../src/sink/salesforce-sink';
import { integrationEnv, uniqueName } from '../harness/env';
import {
  CLIENT_TAG,
  ORG_ID,
  contactsByStaffId,
  groupLag,
  orgRuntime,
  produceWrites,
  sandboxConnection,
  staffId,
  testLogger,
  upsertWrite,
  waitFor,
  waitUntil,
} from '../unit/sink-salesforce-fixture';

describe('Salesforce sink on Kafka, the schema registry and Redis', () => {
  it('writes 500 decided writes into the sandbox, links created Contacts and commits', async () => {
    const env = integrationEnv();
    const name = uniqueName('sf-sink');
    const sb = await startSalesforceSandbox({ streaming: false });
    const transport = new KafkaTransport({
      brokers: env.kafkaBrokers,
      clientId: name,
      logger: testLogger,
      consumer: {
        sessionTimeoutMs: 6_000,
        heartbeatIntervalMs: 500,
        maxWaitTimeMs: 200,
        partitionsConsumedConcurrently: 3,
      },
    });
    const redis = createRedis(env.redisUrl, { connectionName: name });
    const keyPrefix = `${name}:`;
    const topics = topicNames(name);
    let sink: SalesforceSink | undefined;
    const clients: string[] = [];
    const stopWatching = sb.control.onWrite((events) =>
      clients.push(...events.map((e) => String(e.client))),
    );
    try {
      await transport.ensureTopics(Object.values(topics).map((t) => ({ name: t, partitions: 3 })));
      const deps: PipelineDeps = {
        transport,
        codec: createRegistryCodec(env.schemaRegistryUrl, 'BACKWARD', {
          subjectPrefix: `${name}.`,
        }),
        store: new RedisVersionStore({ redis, keyPrefix }),
        positions: new RedisPositionStore({ redis, keyPrefix }),
        orgs: new StaticOrgDirectory([orgRuntime(await sandboxConnection(sb))]),
        topics,
        logger: testLogger,
        events: new SyncEvents(),
        groupPrefix: name,
        now: Date.now,
      };
      const writes = Array.from({ length: 500 }, (_, i) => upsertWrite(i));
      for (const w of writes.slice(0, 20)) {
        await deps.store.compareAndApply(
          { ...emptyPair(ORG_ID, w.pairId, Date.now()), initliveId: w.externalId },
          0,
        );
      }
      const letters: string[] = [];
      deps.events.on('dead-letter', (e) => letters.push(e.code));
      await produceWrites(deps, writes);
      sb.control.resetApiUsage();

      sink = new SalesforceSink(deps, { retryPolicy: fastRetryPolicy, lingerMs: 300 });
      await sink.start();
      await waitFor('500 contacts', () => sb.control.listContacts().length === 500, 60_000);
      await waitUntil(
        'committed',
        async () => (await groupLag(transport, sink!.groupId, topics.salesforceWrites)) === 0,
        60_000,
      );

      const byStaff = contactsByStaffId(sb);
      expect(byStaff.get(staffId(499))).toMatchObject({
        LastName: 'Last499',
        Email: 'person499@example.org',
      });
      for (const w of writes.slice(0, 20)) {
        const stored = await deps.store.get(ORG_ID, w.pairId);
        expect(stored?.state.salesforceId).toBe(byStaff.get(w.externalId!)!.Id);
      }
      // At most one partial call per partition beyond the three full ones.
      expect(sb.control.counters().apiCallsUsed).toBeLessThanOrEqual(6);
      expect(new Set(clients)).toEqual(new Set([CLIENT_TAG]));
      expect(letters).toEqual([]);
    } finally {
      stopWatching();
      await sink?.stop();
      await transport.deleteGroups([`${name}.sink-salesforce`]).catch(() => undefined);
      await transport.deleteTopics(Object.values(topics)).catch(() => undefined);
      await transport.close();
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await closeRedis(redis);
      await sb.close();
    }
  });
});
