import { MemoryRecordStatusStore } from '../../src/infra/memory/memory-record-status-store';
import { describeRecordStatusStoreConformance } from '../conformance/record-status-store.conformance';

describeRecordStatusStoreConformance('memory', async () => {
  let first: MemoryRecordStatusStore | null = null;
  return {
    // Handles opened after the first share its data, as processes share one Redis.
    open: (limits) => {
      const store = new MemoryRecordStatusStore({
        ...limits,
        ...(first ? { sharedWith: first } : {}),
      });
      first ??= store;
      return store;
    },
    cleanup: async () => undefined,
  };
});
