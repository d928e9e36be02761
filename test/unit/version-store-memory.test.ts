import type { VersionStore } from '../../src/core/version-store';
import { MemoryPositionStore } from '../../src/infra/memory/memory-position-store';
import { MemoryVersionStore } from '../../src/infra/memory/memory-version-store';
import { describePositionStoreConformance } from '../conformance/position-store.conformance';
import { describeVersionStoreConformance } from '../conformance/version-store.conformance';

const roundTrip = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A handle as another process would have it: every call crosses a "network" (an event-loop
 * turn each way), so reads and writes of many handles interleave the way Redis clients do.
 */
function overTheWire(inner: VersionStore): VersionStore {
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    await roundTrip();
    const result = await fn();
    await roundTrip();
    return result;
  };
  return {
    get: (o, p) => call(() => inner.get(o, p)),
    getMany: (o, ids) => call(() => inner.getMany(o, ids)),
    getLinks: (o, ids) => call(() => inner.getLinks(o, ids)),
    findPairId: (o, side, id) => call(() => inner.findPairId(o, side, id)),
    compareAndApply: (next, rev) => call(() => inner.compareAndApply(next, rev)),
    link: (o, p, side, id) => call(() => inner.link(o, p, side, id)),
    delete: (o, p, rev) => call(() => inner.delete(o, p, rev)),
    listPairIds: (o, cursor, count) => call(() => inner.listPairIds(o, cursor, count)),
    close: () => inner.close(),
  };
}

describeVersionStoreConformance('memory', async () => {
  const store = new MemoryVersionStore();
  const handles: VersionStore[] = [store];
  return {
    store,
    openAnother: async () => {
      const handle = overTheWire(new MemoryVersionStore({ sharedWith: store }));
      handles.push(handle);
      return handle;
    },
    cleanup: async () => {
      await Promise.all(handles.map((h) => h.close()));
    },
  };
});

describePositionStoreConformance('memory', async () => {
  const store = new MemoryPositionStore();
  const handles: MemoryPositionStore[] = [store];
  return {
    store,
    openAnother: async () => {
      const handle = new MemoryPositionStore({ sharedWith: store });
      handles.push(handle);
      return handle;
    },
    cleanup: async () => {
      await Promise.all(handles.map((h) => h.close()));
    },
  };
});
