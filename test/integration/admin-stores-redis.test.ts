import { RedisAuditLog } from '../../src/infra/redis/redis-audit-log';
import { describeAuditLogConformance } from '../conformance/audit-log.conformance';
import { RedisApiTokenStore } from '../../src/infra/redis/redis-api-token-store';
import { describeApiTokenStoreConformance } from '../conformance/api-token-store.conformance';
import { RedisConnectionStore } from '../../src/infra/redis/redis-connection-store';
import { RedisDeadLetterStore } from '../../src/infra/redis/redis-dead-letter-store';
import { RedisSessionStore } from '../../src/infra/redis/redis-session-store';
import { createSecretBox, generateEncryptionKey } from '../../src/infra/secrets';
import { describeConnectionStoreConformance } from '../conformance/connection-store.conformance';
import { describeDeadLetterStoreConformance } from '../conformance/dead-letter-store.conformance';
import { describeSessionStoreConformance } from '../conformance/session-store.conformance';
import { redisScope } from '../fixtures/redis-scope';

describeConnectionStoreConformance('redis', async () => {
  const scope = redisScope('admin');
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
  const scope = redisScope('admin');
  const make = (): RedisDeadLetterStore =>
    new RedisDeadLetterStore({ redis: scope.open(), keyPrefix: scope.prefix });
  return { store: make(), openAnother: async () => make(), cleanup: scope.cleanup };
});

describeAuditLogConformance('redis', async ({ maxEntries }) => {
  const scope = redisScope('admin');
  const make = (): RedisAuditLog =>
    new RedisAuditLog({ redis: scope.open(), keyPrefix: scope.prefix, maxEntries });
  return { log: make(), reopen: async () => make(), cleanup: scope.cleanup };
});

describeApiTokenStoreConformance('redis', async () => {
  const scope = redisScope('admin');
  const make = (): RedisApiTokenStore =>
    new RedisApiTokenStore({ redis: scope.open(), keyPrefix: scope.prefix });
  const reader = scope.open();
  return {
    store: make(),
    openAnother: async () => make(),
    dump: async () => {
      const keys = await reader.keys(`${scope.prefix}*`);
      const values = await Promise.all(
        keys.map(async (k) => {
          const type = await reader.type(k);
          if (type === 'string') return (await reader.get(k)) ?? '';
          if (type === 'set') return (await reader.smembers(k)).join(',');
          return JSON.stringify(await reader.hgetall(k));
        }),
      );
      return keys.join(',') + values.join(',');
    },
    cleanup: scope.cleanup,
  };
});

describeSessionStoreConformance('redis', async () => {
  const scope = redisScope('admin');
  const clock = { now: Date.now() };
  const make = (): RedisSessionStore =>
    new RedisSessionStore({ redis: scope.open(), keyPrefix: scope.prefix, now: () => clock.now });
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

describe('Redis admin stores specifics', () => {
  it('keep the documented key layout, records sealed, pending states with a TTL', async () => {
    const scope = redisScope('admin');
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
