import { MemoryLock } from '../../src/infra/memory/memory-lock';
import { describeLockConformance } from '../conformance/lock.conformance';

describeLockConformance('memory', async () => {
  let now = 1_000_000;
  const lock = new MemoryLock({ now: () => now });
  return {
    lock,
    openAnother: async () => new MemoryLock({ sharedWith: lock }),
    pass: async (ms) => {
      now += ms;
    },
    cleanup: async () => lock.close(),
  };
});
