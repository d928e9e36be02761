import Redis from 'ioredis';
import { RedisEmailIndex } from '../../src/infra/redis/redis-email-index';
import { describeEmailIndexConformance } from '../conformance/email-index.conformance';
import { integrationEnv, uniqueName } from '../harness/env';

describeEmailIndexConformance('redis', async () => {
  const redis = new Redis(integrationEnv().redisUrl);
  const keyPrefix = `${uniqueName('email')}:`;
  return {
    index: new RedisEmailIndex({ redis, keyPrefix }),
    cleanup: async () => {
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
});
