import { RedisMembership } from '../../src/infra/redis/redis-membership';
import { describeMembershipConformance } from '../conformance/membership.conformance';
import { redisScope } from '../fixtures/redis-scope';

describeMembershipConformance('redis', async () => {
  const scope = redisScope('membership');
  const make = (): RedisMembership =>
    new RedisMembership({ redis: scope.open(), keyPrefix: scope.prefix });
  return {
    membership: make(),
    openAnother: async () => make(),
    // Heartbeats run out on the Redis server's clock: real waiting.
    pass: (ms) => new Promise((r) => setTimeout(r, ms)),
    cleanup: scope.cleanup,
  };
});

describe('RedisMembership specifics', () => {
  it("leaves no key behind once every member's heartbeat ran out", async () => {
    const scope = redisScope('membership');
    const membership = new RedisMembership({ redis: scope.open(), keyPrefix: scope.prefix });
    try {
      // Lifetimes far apart, and waits that poll: a paused test process (GC, a busy machine)
      // must not see b's heartbeat run out before it looked.
      await membership.heartbeat('sources', 'a', 300);
      await membership.heartbeat('sources', 'b', 30_000);
      expect(await scope.keys()).toEqual([`${scope.prefix}members:sources`]);
      const until = async (what: () => Promise<boolean>): Promise<void> => {
        const deadline = Date.now() + 20_000;
        while (!(await what())) {
          if (Date.now() > deadline) throw new Error('timed out');
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until(async () => (await membership.members('sources')).length === 1);
      // Still there for b.
      expect(await membership.members('sources')).toEqual(['b']);
      expect(await scope.keys()).toHaveLength(1);
      // b's last heartbeat is short: the key goes when it runs out.
      await membership.heartbeat('sources', 'b', 300);
      await until(async () => (await scope.keys()).length === 0);
      expect(await scope.keys()).toEqual([]);
    } finally {
      await scope.cleanup();
    }
  });
});
