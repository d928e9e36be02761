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
      await membership.heartbeat('sources', 'a', 200);
      await membership.heartbeat('sources', 'b', 400);
      expect(await scope.keys()).toEqual([`${scope.prefix}members:sources`]);
      await new Promise((r) => setTimeout(r, 250));
      // Still there for b.
      expect(await membership.members('sources')).toEqual(['b']);
      expect(await scope.keys()).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 250));
      expect(await scope.keys()).toEqual([]);
    } finally {
      await scope.cleanup();
    }
  });
});
