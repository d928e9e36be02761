import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { closeRedis, createRedis } from '../../src/infra/redis/connect';
import { RedisConnectionStore } from '../../src/infra/redis/redis-connection-store';
import { RedisDeadLetterStore } from '../../src/infra/redis/redis-dead-letter-store';
import { createSecretBox, generateEncryptionKey } from '../../src/infra/secrets';
import { describeConnectionStoreConformance } from '../conformance/connection-store.conformance';
import { describeDeadLetterStoreConformance } from '../conformance/dead-letter-store.conformance';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function redisScope(): {
  prefix: string;
  open: () => Redis;
  cleanup: () => Promise<void>;
  keys: () => Promise<string[]>;
} {
  const prefix = `test:admin:${randomUUID()}:`;
  const clients: Redis[] = [];
  const open = (): Redis => {
    const c = createRedis(redisUrl, { connectionName: 'admin-store-test' });
    clients.push(c);
    return c;
  };
  const keys = async (): Promise<string[]> => {
    const admin = open();
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      out.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return out.sort();
  };
  const cleanup = async (): Promise<void> => {
    try {
      const all = await keys();
      if (all.length > 0) await clients[0]!.unlink(...all);
    } finally {
      await Promise.all(clients.map((c) => closeRedis(c)));
    }
  };
  return { prefix, open, cleanup, keys };
}

describeConnectionStoreConformance('redis', async () => {
  const scope = redisScope();
  const clock = { now: Date.now() };
  const secrets = createSecretBox(generateEncryptionKey());
  const make = (): RedisConnectionStore =>
    new RedisConnectionStore({
      redis: scope.open(),
      keyPrefix: scope.prefix,
      secrets,
      now: () => clock.now,
    });
  return {
    store: make(),
    openAnother: async () => make(),
    advance: (ms) => {
      clock.now += ms;
    },
    now: () => clock.now,
    cleanup: scope.cleanup,
  };
});

describeDeadLetterStoreConformance('redis', async () => {
  const scope = redisScope();
  const make = (): RedisDeadLetterStore =>
    new RedisDeadLetterStore({ redis: scope.open(), keyPrefix: scope.prefix });
  return { store: make(), openAnother: async () => make(), cleanup: scope.cleanup };
});

describe('Redis admin stores specifics', () => {
  it('keep the documented key layout, records sealed, pending states with a TTL', async () => {
    const scope = redisScope();
    try {
      const secrets = createSecretBox(generateEncryptionKey());
      const store = new RedisConnectionStore({
        redis: scope.open(),
        keyPrefix: scope.prefix,
        secrets,
      });
      await store.update('org_1', () => ({
        orgId: 'org_1',
        state: 'disconnected',
        reason: null,
        salesforce: null,
        initlive: { baseUrl: 'https://x', apiKey: 'initlive-api-key-secret' },
        settings: {
          direction: 'initlive_to_salesforce',
          defaultSystem: 'initlive',
          streaming: true,
          schedule: { mode: 'manual' },
          deletePolicy: 'archive',
          fieldMapping: [],
        },
        updatedAt: 1,
      }));
      await store.putPending({
        state: 'st1',
        orgId: 'org_1',
        codeVerifier: 'verifier-secret-value',
        redirectUri: 'r',
        loginUrl: 'l',
        initlive: null,
        createdAt: Date.now(),
        expiresAt: Date.now() + 600_000,
      });
      const p = scope.prefix;
      expect(await scope.keys()).toEqual([`${p}conn:org_1`, `${p}conns`, `${p}oauth:st1`]);
      const admin = scope.open();
      expect(await admin.get(`${p}conn:org_1`)).not.toContain('initlive-api-key-secret');
      expect(await admin.get(`${p}oauth:st1`)).not.toContain('verifier-secret-value');
      const ttl = await admin.pttl(`${p}oauth:st1`);
      expect(ttl).toBeGreaterThan(600_000);
      expect(ttl).toBeLessThanOrEqual(600_000 + 3_600_000);
    } finally {
      await scope.cleanup();
    }
  });
});
