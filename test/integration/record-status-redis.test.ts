import { RedisParkedWriteStore } from '../../src/infra/redis/redis-parked-write-store';
import { describeParkedWriteStoreConformance } from '../conformance/parked-write-store.conformance';
import { RedisWriteHoldStore } from '../../src/infra/redis/redis-write-hold-store';
import { describeWriteHoldStoreConformance } from '../conformance/write-hold-store.conformance';
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

describeWriteHoldStoreConformance('redis', async () => {
  const scope = redisScope('holds');
  const make = (): RedisWriteHoldStore =>
    new RedisWriteHoldStore({ redis: scope.open(), keyPrefix: scope.prefix });
  return { store: make(), openAnother: async () => make(), cleanup: scope.cleanup };
});

describeParkedWriteStoreConformance('redis', async () => {
  const scope = redisScope('parked');
  const make = (): RedisParkedWriteStore =>
    new RedisParkedWriteStore({ redis: scope.open(), keyPrefix: scope.prefix, sink: 'salesforce' });
  return { store: make(), openAnother: async () => make(), cleanup: scope.cleanup };
});
