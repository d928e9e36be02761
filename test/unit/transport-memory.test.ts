import { fastRetryPolicy } from '../../src/retry';
import { MemoryTransport } from '../../src/infra/memory/memory-transport';
import { partitionForKey } from '../../src/core/transport';
import type { RecordBatch } from '../../src/core/transport';
import { describeTransportConformance } from '../conformance/transport.conformance';

describeTransportConformance(
  'memory',
  async () => {
    const transport = new MemoryTransport({ redeliveryBackoff: fastRetryPolicy });
    return {
      transport,
      partitionCount: async (topic) => transport.partitionCount(topic),
      cleanup: (topics) => transport.deleteTopics(topics),
      close: () => transport.close(),
    };
  },
  { deliveryTimeoutMs: 5_000 },
);

const keysCovering = (partitions: number): string[] => {
  const keys: string[] = [];
  const seen = new Set<number>();
  for (let i = 0; seen.size < partitions; i++) {
    keys.push(`k${i}`);
    seen.add(partitionForKey(`k${i}`, partitions));
  }
  return keys;
};

describe('MemoryTransport specifics', () => {
  let transport: MemoryTransport;

  beforeEach(() => {
    transport = new MemoryTransport({ redeliveryBackoff: fastRetryPolicy });
  });

  afterEach(async () => {
    await transport.close();
  });

  // Polls until the transport's background loops got there; the bound only guards a hang.
  const until = async (condition: () => boolean): Promise<void> => {
    for (let i = 0; i < 2000 && !condition(); i++) await new Promise((r) => setTimeout(r, 1));
    if (!condition()) throw new Error('condition not reached');
  };

  it('crash() abandons the in-flight batch uncommitted; the next member gets it again', async () => {
    await transport.ensureTopics([{ name: 't', partitions: 1 }]);
    await transport.send(
      't',
      [1, 2, 3].map((i) => ({ key: 'k', value: Buffer.from(`r${i}`) })),
    );
    let entered = false;
    const crashed = await transport.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      // Never resolves: the "process" died while handling the batch.
      handleBatch: () => {
        entered = true;
        return new Promise<void>(() => undefined);
      },
    });
    await until(() => entered);
    await crashed.crash();
    expect(transport.committedOffset('g', 't', 0)).toBe(0);

    const got: RecordBatch[] = [];
    await transport.subscribe({
      groupId: 'g',
      topics: ['t'],
      handleBatch: async (b) => void got.push(b),
    });
    await until(() => got.length > 0);
    expect(got[0]!.records.map((r) => r.value.toString())).toEqual(['r1', 'r2', 'r3']);
    await until(() => transport.committedOffset('g', 't', 0) === 3);
  });

  it('a crashed member whose handler later succeeds does not commit', async () => {
    await transport.ensureTopics([{ name: 't', partitions: 1 }]);
    await transport.send('t', [{ key: 'k', value: Buffer.from('x') }]);
    let finish: () => void = () => undefined;
    let entered = false;
    const zombie = await transport.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      handleBatch: () =>
        new Promise<void>((resolve) => {
          entered = true;
          finish = resolve;
        }),
    });
    await until(() => entered);
    await zombie.crash();
    finish();
    await new Promise((r) => setImmediate(r));
    expect(transport.committedOffset('g', 't', 0)).toBe(0);
  });

  it("moves a stopped member's partitions to the remaining member", async () => {
    await transport.ensureTopics([{ name: 't', partitions: 4 }]);
    const seenByB = new Set<number>();
    const a = await transport.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      handleBatch: async () => undefined,
    });
    const b = await transport.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      handleBatch: async (batch) => void seenByB.add(batch.partition),
    });
    expect(a.assignment()).toHaveLength(2);
    expect(b.assignment()).toHaveLength(2);
    await a.stop();
    expect(b.assignment()).toHaveLength(4);
    const keys = keysCovering(4);
    await transport.send(
      't',
      keys.map((key) => ({ key, value: Buffer.from(key) })),
    );
    await until(() => seenByB.size === 4);
    await b.stop();
    expect((await transport.lag('g', ['t'])).map((l) => l.lag)).toEqual([0, 0, 0, 0]);
  });

  it('keeps retrying a failing partition while other partitions go on', async () => {
    await transport.ensureTopics([{ name: 't', partitions: 2 }]);
    let attempts = 0;
    const okPartitions: number[] = [];
    const errors: unknown[] = [];
    await transport.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      handleBatch: async (batch) => {
        if (batch.records.some((r) => r.value.toString() === 'poison')) {
          attempts++;
          throw new Error('poison');
        }
        okPartitions.push(batch.partition);
      },
      onError: (err) => errors.push(err),
    });
    // 'a' and 'd' hash to different partitions of 2.
    expect(partitionForKey('a', 2)).not.toBe(partitionForKey('d', 2));
    await transport.send('t', [
      { key: 'a', value: Buffer.from('poison') },
      { key: 'd', value: Buffer.from('fine') },
    ]);
    await until(() => attempts >= 3 && okPartitions.length === 1);
    expect(errors.length).toBe(attempts);
    expect(transport.committedOffset('g', 't', okPartitions[0]!)).toBe(1);
    expect(transport.committedOffset('g', 't', 1 - okPartitions[0]!)).toBe(0);
  });

  it('copies values on send, so a caller reusing its buffer cannot change stored records', async () => {
    await transport.ensureTopics([{ name: 't', partitions: 1 }]);
    const buf = Buffer.from('abc');
    await transport.send('t', [{ key: 'k', value: buf }]);
    buf.write('xyz');
    const got: string[] = [];
    await transport.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      handleBatch: async (b) => void got.push(...b.records.map((r) => r.value.toString())),
    });
    await until(() => got.length === 1);
    expect(got).toEqual(['abc']);
  });

  it('rejects sends to unknown topics and use after close', async () => {
    await expect(
      transport.send('nope', [{ key: 'k', value: Buffer.alloc(1) }]),
    ).rejects.toMatchObject({ code: 'TRANSPORT_UNAVAILABLE' });
    await transport.close();
    await expect(transport.ensureTopics([{ name: 't', partitions: 1 }])).rejects.toMatchObject({
      code: 'TRANSPORT_UNAVAILABLE',
    });
  });
});
