import { RedisRecordStatusStore } from '../../src/infra/redis/redis-record-status-store';
import { describeRecordStatusStoreConformance } from '../conformance/record-status-store.conformance';
import { redisScope } from '../fixtures/redis-scope';

describeRecordStatusStoreConformance('redis', async () => {
  const scope = redisScope('status');
  return {
    open: (limits) =>
      new RedisRecordStatusStore({ redis: scope.open(), keyPrefix: scope.prefix, ...limits }),
    cleanup: scope.cleanup,
  };
});
