import { MemoryRunQueue } from '../../src/infra/memory/memory-run-queue';
import { describeRunQueueConformance } from '../conformance/run-queue.conformance';

describeRunQueueConformance('memory', async () => {
  const queue = new MemoryRunQueue();
  return {
    queue,
    openAnother: async () => new MemoryRunQueue({ sharedWith: queue }),
    cleanup: async () => queue.close(),
  };
});
