import { MemoryTransport } from '../../src/infra/memory/memory-transport';
import { PendingChangeTransport } from '../../src/pipeline/pending-changes';
import { eventually } from '../fixtures/e2e';

/**
 * The oldest change a stage holds: noted when a batch is handed over, forgotten when its
 * handler resolves, kept for a grace while a failed batch waits to come again.
 */
describe('PendingChangeTransport', () => {
  let clock: number;
  let transport: PendingChangeTransport;

  /** A tracker over an in-memory transport that redelivers a failed batch after `backoffMs`. */
  async function start(backoffMs: number): Promise<void> {
    const inner = new MemoryTransport({
      now: () => clock,
      redeliveryBackoff: {
        maxAttempts: Infinity,
        initialDelayMs: backoffMs,
        maxDelayMs: backoffMs,
        factor: 1,
        jitter: 0,
      },
    });
    transport = new PendingChangeTransport(inner, {
      topics: ['changes'],
      retryGraceMs: 60_000,
      now: () => clock,
    });
    await transport.ensureTopics([
      { name: 'changes', partitions: 1 },
      { name: 'other', partitions: 1 },
    ]);
  }

  beforeEach(() => {
    clock = 1_000_000;
  });

  afterEach(async () => {
    await transport.close();
  });

  test('a batch in hand is pending per organization with its oldest record time, until its handler resolves', async () => {
    await start(5);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const sub = await transport.subscribe({
      groupId: 'g',
      topics: ['changes'],
      fromBeginning: true,
      handleBatch: () => held,
    });
    await transport.send('changes', [
      { key: 'o1/a', value: Buffer.from('1') },
      { key: 'o2/b', value: Buffer.from('2') },
    ]);
    clock += 500;
    await transport.send('changes', [{ key: 'o1/c', value: Buffer.from('3') }]);
    await eventually(() => expect(transport.oldest()).toHaveLength(2));
    expect(transport.oldest()).toEqual(
      expect.arrayContaining([
        { orgId: 'o1', topic: 'changes', timestamp: 1_000_000 },
        { orgId: 'o2', topic: 'changes', timestamp: 1_000_000 },
      ]),
    );
    release();
    await eventually(() => expect(transport.oldest()).toEqual([]));
    await sub.stop();
  });

  test('a failed batch stays pending while it waits to come again, and expires if it does not come back', async () => {
    await start(600_000);
    let calls = 0;
    const sub = await transport.subscribe({
      groupId: 'g',
      topics: ['changes'],
      fromBeginning: true,
      handleBatch: async () => {
        calls++;
        throw new Error('not yet');
      },
    });
    await transport.send('changes', [{ key: 'o1/a', value: Buffer.from('1') }]);
    // The next delivery is ten minutes away: what is seen now is the wait between the two.
    await eventually(() => expect(calls).toBe(1));
    clock += 59_000;
    expect(transport.oldest()).toEqual([{ orgId: 'o1', topic: 'changes', timestamp: 1_000_000 }]);
    await sub.stop();
    // Its partition went elsewhere (here: the member left): past the grace it is forgotten.
    clock += 1_001;
    expect(transport.oldest()).toEqual([]);
  });

  test('a batch that fails and then succeeds is no longer pending', async () => {
    await start(5);
    let calls = 0;
    const sub = await transport.subscribe({
      groupId: 'g',
      topics: ['changes'],
      fromBeginning: true,
      handleBatch: async () => {
        calls++;
        if (calls < 3) throw new Error('not yet');
      },
    });
    await transport.send('changes', [{ key: 'o1/a', value: Buffer.from('1') }]);
    await eventually(() => expect(calls).toBe(3));
    await eventually(() => expect(transport.oldest()).toEqual([]));
    await sub.stop();
  });

  test('topics not named, and keys without an organization, are not tracked', async () => {
    await start(5);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const handed: string[] = [];
    const sub = await transport.subscribe({
      groupId: 'g',
      topics: ['changes', 'other'],
      fromBeginning: true,
      handleBatch: async (batch) => {
        handed.push(batch.topic);
        await held;
      },
    });
    await transport.send('other', [{ key: 'o1/a', value: Buffer.from('1') }]);
    await transport.send('changes', [{ key: 'no-org', value: Buffer.from('1') }]);
    await eventually(() => expect(handed.sort()).toEqual(['changes', 'other']));
    expect(transport.oldest()).toEqual([]);
    release();
    await sub.stop();
  });
});
