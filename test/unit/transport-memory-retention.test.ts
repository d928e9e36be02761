import { fastRetryPolicy } from '../../src/retry';
import { MemoryTransport } from '../../src/infra/memory/memory-transport';
import type { RecordBatch } from '../../src/core/transport';
import { describeTransportConformance } from '../conformance/transport.conformance';

// The port's semantics hold with records dropped once consumed.
describeTransportConformance(
  'memory (dropCommitted)',
  async () => {
    const transport = new MemoryTransport({
      redeliveryBackoff: fastRetryPolicy,
      dropCommitted: true,
    });
    return {
      transport,
      partitionCount: async (topic) => transport.partitionCount(topic),
      cleanup: (topics) => transport.deleteTopics(topics),
      close: () => transport.close(),
    };
  },
  { deliveryTimeoutMs: 5_000 },
);

describe('MemoryTransport dropCommitted', () => {
  let transport: MemoryTransport;

  const until = async (condition: () => boolean): Promise<void> => {
    for (let i = 0; i < 2000 && !condition(); i++) await new Promise((r) => setTimeout(r, 1));
    if (!condition()) throw new Error('condition not reached');
  };

  const send = (values: string[]): Promise<void> =>
    transport.send(
      't',
      values.map((v) => ({ key: 'k', value: Buffer.from(v) })),
    );

  const consume = async (
    groupId: string,
    got: string[],
    fromBeginning = true,
  ): Promise<{ stop: () => Promise<void> }> =>
    transport.subscribe({
      groupId,
      topics: ['t'],
      fromBeginning,
      handleBatch: async (b: RecordBatch) => {
        got.push(...b.records.map((r) => `${r.offset}:${r.value.toString()}`));
      },
    });

  beforeEach(async () => {
    transport = new MemoryTransport({ redeliveryBackoff: fastRetryPolicy, dropCommitted: true });
    await transport.ensureTopics([{ name: 't', partitions: 1 }]);
  });

  afterEach(async () => {
    await transport.close();
  });

  it('keeps everything while no group subscribed', async () => {
    await send(['a', 'b']);
    expect(transport.heldOffsets('t', 0)).toEqual({ oldest: 0, next: 2 });
  });

  it('drops what every known group committed, and keeps what a stopped group still lacks', async () => {
    const fast: string[] = [];
    const slow: string[] = [];
    const slowSub = await consume('slow', slow);
    await send(['a', 'b']);
    await until(() => slow.length === 2);
    await slowSub.stop();
    expect(transport.heldOffsets('t', 0)).toEqual({ oldest: 2, next: 2 });
    // The stopped group is still known: it committed 2, so c and d stay for it.
    const fastSub = await consume('fast', fast);
    await send(['c', 'd']);
    await until(() => fast.length === 2);
    expect(fast).toEqual(['2:c', '3:d']);
    await until(() => transport.committedOffset('fast', 't', 0) === 4);
    expect(transport.heldOffsets('t', 0)).toEqual({ oldest: 2, next: 4 });
    await fastSub.stop();

    // The slow group comes back and gets exactly what it had not committed, offsets intact.
    await consume('slow', slow);
    await until(() => slow.length === 4);
    expect(slow).toEqual(['0:a', '1:b', '2:c', '3:d']);
    await until(() => transport.heldOffsets('t', 0)?.oldest === 4);
    expect(await transport.lag('slow', ['t'])).toEqual([{ topic: 't', partition: 0, lag: 0 }]);
  });

  it('starts a group that subscribes later from the oldest record still held', async () => {
    const first: string[] = [];
    await consume('first', first);
    await send(['a', 'b', 'c']);
    await until(() => transport.heldOffsets('t', 0)?.oldest === 3);
    await send(['d']);
    const late: string[] = [];
    expect(await transport.lag('late', ['t'])).toEqual([{ topic: 't', partition: 0, lag: 1 }]);
    await consume('late', late);
    await until(() => late.length === 1);
    expect(late).toEqual(['3:d']);
  });

  it('compacts its storage and keeps offsets after thousands of dropped records', async () => {
    const got: string[] = [];
    await consume('g', got);
    for (let round = 0; round < 5; round++) {
      await send(Array.from({ length: 1000 }, (_, i) => `v${round * 1000 + i}`));
      await until(() => got.length === (round + 1) * 1000);
    }
    await until(() => transport.heldOffsets('t', 0)?.oldest === 5000);
    expect(got[4999]).toBe('4999:v4999');
    await send(['last']);
    await until(() => got.length === 5001);
    expect(got[5000]).toBe('5000:last');
  });
});
