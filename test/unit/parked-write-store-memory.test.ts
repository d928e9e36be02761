import { MemoryParkedWriteStore } from '../../src/infra/memory/memory-parked-write-store';
import { describeParkedWriteStoreConformance } from '../conformance/parked-write-store.conformance';

describeParkedWriteStoreConformance('memory', async () => {
  const store = new MemoryParkedWriteStore();
  return { store, openAnother: async () => store, cleanup: async () => undefined };
});
