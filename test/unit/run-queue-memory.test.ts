import { MemoryRunQueue } from '../../src/infra/memory/memory-run-queue';
import { describeRunQueueConformance } from '../conformance/run-queue.conformance';

describeRunQueueConformance('memory', async () => {
  let now = 1_000_000;
  const queue = new MemoryRunQueue({ now: () => now });
  return {
    queue,
    openAnother: async () => new MemoryRunQueue({ sharedWith: queue }),
    pass: async (ms) => {
      now += ms;
    },
    cleanup: async () => queue.close(),
  };
});
