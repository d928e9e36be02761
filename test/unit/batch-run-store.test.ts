import { MemoryRunStore } from '../../src/infra/memory/memory-run-store';
import { describeRunStoreConformance } from '../conformance/run-store.conformance';

describeRunStoreConformance('memory', async () => {
  const store = new MemoryRunStore();
  return {
    store,
    openAnother: async () => new MemoryRunStore({ sharedWith: store }),
    cleanup: async () => store.close(),
  };
});
