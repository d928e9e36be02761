import { defaultMapping } from '../../src/core/mapping';
import type { InitLiveStaffChange } from '../../src/core/records';
import { topicNames } from '../../src/core/topics';
import type { Subscription } from '../../src/core/transport';
import { createRegistryCodec } from '../../src/infra/avro/avro-codec';
import { createInitLiveClient } from '../../src/infra/initlive';
import { KafkaTransport } from '../../src/infra/kafka/kafka-transport';
import { MemoryVersionStore } from '../../src/infra/memory/memory-version-store';
import { closeRedis, createRedis } from '../../src/infra/redis/connect';
import { RedisPositionStore } from '../../src/infra/redis/redis-position-store';
import { silentLogger } from '../../src/logger';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import type { PipelineDeps } from '../../src/pipeline/deps';
import { SyncEvents } from '../../src/pipeline/events';
import { fastRetryPolicy } from '../../src/retry';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import { InitLiveSource, initLivePositionName } from '../../src/source-initlive';
import { integrationEnv, uniqueName } from '../harness/env';

const ORG_ID = 'org_demo';
const ORIGIN = 'salesforce-sync';

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('InitLive source on Kafka, the schema registry and Redis', () => {
  it('reads the feed onto a real topic, resumes from the Redis cursor, and the records decode', async () => {
    const env = integrationEnv();
    const name = uniqueName('il-pipeline');
    const sandbox = await startInitLiveSandbox({ rateLimit: false });
    const transport = new KafkaTransport({
      brokers: env.kafkaBrokers,
      clientId: name,
      consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, maxWaitTimeMs: 200 },
    });
    const redis = createRedis(env.redisUrl, { connectionName: name });
    const keyPrefix = `${name}:`;
    const topics = topicNames(name);
    const groups: string[] = [];
    const subscriptions: Subscription[] = [];
    const sources: InitLiveSource[] = [];
    try {
      await transport.ensureTopics(Object.values(topics).map((t) => ({ name: t, partitions: 3 })));
      const initlive = createInitLiveClient({
        baseUrl: sandbox.baseUrl,
        apiKey: 'sandbox-key',
        orgId: ORG_ID,
        changeOrigin: ORIGIN,
        retryPolicy: fastRetryPolicy,
      });
      const deps: PipelineDeps = {
        transport,
        codec: createRegistryCodec(env.schemaRegistryUrl, 'BACKWARD', {
          subjectPrefix: `${name}.`,
        }),
        store: new MemoryVersionStore(),
        positions: new RedisPositionStore({ redis, keyPrefix }),
        orgs: new StaticOrgDirectory([
          {
            orgId: ORG_ID,
            settings: {
              direction: 'two_way',
              defaultSystem: 'initlive',
              deletePolicy: 'archive',
              mapping: defaultMapping,
            },
            streaming: true,
            salesforce: null,
            initlive,
            initliveOrigin: ORIGIN,
            salesforceClientTag: 'initlive-sync',
          },
        ]),
        topics,
        logger: silentLogger,
        events: new SyncEvents(),
        groupPrefix: name,
        now: Date.now,
      };

      const received: InitLiveStaffChange[] = [];
      const group = `${name}-reader`;
      groups.push(group);
      subscriptions.push(
        await transport.subscribe({
          groupId: group,
          topics: [topics.staffChanges],
          fromBeginning: true,
          handleBatch: async (batch) => {
            for (const r of batch.records) {
              received.push(await deps.codec.decode('InitLiveStaffChange', r.value));
            }
          },
        }),
      );
      await subscriptions[0]!.ready();

      const dana = sandbox.control.createStaff({
        firstName: 'Dana',
        lastName: 'Lee',
        email: 'dana@example.org',
        address: {
          street: '1 Main St',
          city: 'Springfield',
          region: null,
          postalCode: null,
          country: 'US',
        },
      });
      await initlive.updateStaff(dana.id, { tags: ['Greeter', 'First Aid'] });
      const first = new InitLiveSource(deps, { pollIntervalMs: 50 });
      sources.push(first);
      await first.start();
      await until(() => received.length === 2, 'two records');
      await first.stop();

      // Written while no reader runs; a new reader resumes from the cursor kept in Redis.
      sandbox.control.archiveStaff(dana.id);
      const second = new InitLiveSource(deps, { pollIntervalMs: 50 });
      sources.push(second);
      await second.start();
      await until(() => received.length === 3, 'the third record');

      const byPosition = [...received].sort(
        (a, b) => Number(a.sourcePosition) - Number(b.sourcePosition),
      );
      expect(byPosition.map((r) => [r.sourcePosition, r.operation, r.origin])).toEqual([
        ['1', 'CREATE', null],
        ['2', 'UPDATE', ORIGIN],
        ['3', 'ARCHIVE', null],
      ]);
      expect(byPosition[0]!.values).toMatchObject({
        initliveId: dana.id,
        firstName: 'Dana',
        city: 'Springfield',
        region: null,
        status: 'active',
      });
      expect(byPosition[1]).toMatchObject({
        changedFields: ['tags'],
        values: { tags: ['Greeter', 'First Aid'] },
      });
      expect(await deps.positions.get(initLivePositionName(ORG_ID))).toBe('3');
      expect(await redis.get(`${keyPrefix}pos:${initLivePositionName(ORG_ID)}`)).toBe('3');
    } finally {
      await Promise.all(sources.map((s) => s.stop()));
      await Promise.all(subscriptions.map((s) => s.stop()));
      await transport.deleteGroups(groups).catch(() => undefined);
      await transport.deleteTopics(Object.values(topics)).catch(() => undefined);
      await transport.close();
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await closeRedis(redis);
      await sandbox.close();
    }
  });
});
