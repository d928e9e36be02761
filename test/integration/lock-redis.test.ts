import { RedisLock } from '../../src/infra/redis/redis-lock';
import { RedisRunStore } from '../../src/infra/redis/redis-run-store';
import { describeLockConformance } from '../conformance/lock.conformance';
import { describeRunStoreConformance } from '../conformance/run-store.conformance';
import { redisScope } from '../fixtures/redis-scope';

describeLockConformance('redis', async () => {
  const scope = redisScope('lock');
  const make = (): RedisLock => new RedisLock({ redis: scope.open(), keyPrefix: scope.prefix });
  return {
    lock: make(),
    openAnother: async () => make(),
    // Leases run on the Redis server's clock: real waiting.
    pass: (ms) => new Promise((r) => setTimeout(r, ms)),
    cleanup: scope.cleanup,
  };
});

describeRunStoreConformance('redis', async () => {
  const scope = redisScope('lock');
  const make = (): RedisRunStore =>
    new RedisRunStore({ redis: scope.open(), keyPrefix: scope.prefix });
  return { store: make(), openAnother: async () => make(), cleanup: scope.cleanup };
});

describe('RedisRunStore specifics', () => {
  it("expires a run's work keys after workTtlMs but keeps the record", async () => {
    const scope = redisScope('lock');
    const store = new RedisRunStore({
      redis: scope.open(),
      keyPrefix: scope.prefix,
      workTtlMs: 200,
    });
    try {
      await store.save({
        runId: 'run_1',
        orgId: 'org',
        status: 'running',
        trigger: 'manual',
        reason: null,
        startedAt: 1,
        endedAt: null,
        progress: {
          phase: 'reading-initlive',
          read: { initlive: 0, salesforce: 0 },
          done: 0,
          total: null,
        },
        counts: {
          read: { initlive: 0, salesforce: 0 },
          created: { initlive: 0, salesforce: 0 },
          updated: { initlive: 0, salesforce: 0 },
          deleted: { initlive: 0, salesforce: 0 },
          repaired: { initlive: 0, salesforce: 0 },
          unchanged: 0,
          conflicts: 0,
          failed: { initlive: 0, salesforce: 0 },
        },
      });
      await store.saveCheckpoint('org', 'run_1', { a: 1 });
      await store.markSeen('org', 'run_1', 'initlive', ['s1']);
      await store.putUnique('org', 'run_1', 'initlive-email', [['a@x.org', 's1']]);
      await new Promise((r) => setTimeout(r, 400));
      expect(await store.loadCheckpoint('org', 'run_1')).toBeNull();
      expect(await store.unseen('org', 'run_1', 'initlive', ['s1'])).toEqual(['s1']);
      expect(await store.lookup('org', 'run_1', 'initlive-email', ['a@x.org'])).toEqual([null]);
      expect(await store.get('org', 'run_1')).not.toBeNull();
    } finally {
      await scope.cleanup();
    }
  });
});
