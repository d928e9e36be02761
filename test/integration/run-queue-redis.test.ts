import { RedisRunQueue } from '../../src/infra/redis/redis-run-queue';
import { describeRunQueueConformance } from '../conformance/run-queue.conformance';
import { redisScope } from '../fixtures/redis-scope';

describeRunQueueConformance('redis', async () => {
  const scope = redisScope('run-queue');
  const make = (): RedisRunQueue =>
    new RedisRunQueue({ redis: scope.open(), keyPrefix: scope.prefix });
  return {
    queue: make(),
    openAnother: async () => make(),
    // Claims run on the Redis server's clock: real waiting.
    pass: (ms) => new Promise((r) => setTimeout(r, ms)),
    cleanup: scope.cleanup,
  };
});
