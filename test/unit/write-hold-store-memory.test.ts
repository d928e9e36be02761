import { MemoryWriteHoldStore } from '../../src/infra/memory/memory-write-hold-store';
import { describeWriteHoldStoreConformance } from '../conformance/write-hold-store.conformance';

describeWriteHoldStoreConformance('memory', async () => {
  const store = new MemoryWriteHoldStore();
  return {
    store,
    openAnother: async () => new MemoryWriteHoldStore({ sharedWith: store }),
    cleanup: async () => undefined,
  };
});
