import type { RunQueue } from '../../src/batch/run-queue';

export interface RunQueueFixture {
  queue: RunQueue;
  /** Another handle on the same queue, as a second process would have one. */
  openAnother: () => Promise<RunQueue>;
  /** Lets `ms` pass for claims (a fake clock, or real waiting). */
  pass: (ms: number) => Promise<void>;
  cleanup: () => Promise<void>;
}

/** The contract every RunQueue adapter keeps. */
export function describeRunQueueConformance(
  name: string,
  factory: () => Promise<RunQueueFixture>,
): void {
  describe(`RunQueue conformance: ${name}`, () => {
    let fx: RunQueueFixture;
    let queue: RunQueue;

    beforeEach(async () => {
      fx = await factory();
      queue = fx.queue;
    });

    afterEach(async () => {
      await fx.cleanup();
    });

    it('gives runs back earliest due first, ties by org id', async () => {
      expect(await queue.take('p', 60_000)).toBeNull();
      expect(await queue.enqueue('org_c', 2_000)).toBe(true);
      expect(await queue.enqueue('org_b', 1_000)).toBe(true);
      expect(await queue.enqueue('org_z', 1_000)).toBe(true);
      expect(await queue.enqueue('org_a', 3_000)).toBe(true);
      expect(await queue.enqueue('org_a2', 1_000)).toBe(true);
      expect(await queue.list()).toEqual([
        { orgId: 'org_a2', dueAt: 1_000 },
        { orgId: 'org_b', dueAt: 1_000 },
        { orgId: 'org_z', dueAt: 1_000 },
        { orgId: 'org_c', dueAt: 2_000 },
        { orgId: 'org_a', dueAt: 3_000 },
      ]);
      const taken = [];
      for (let r = await queue.take('p', 60_000); r; r = await queue.take('p', 60_000))
        taken.push(r.orgId);
      expect(taken).toEqual(['org_a2', 'org_b', 'org_z', 'org_c', 'org_a']);
      expect(await queue.list()).toEqual([]);
    });

    it('queues an org once, keeping its first due instant', async () => {
      expect(await queue.enqueue('org_a', 5_000)).toBe(true);
      expect(await queue.enqueue('org_a', 1_000)).toBe(false);
      expect(await queue.enqueue('org_a', 9_000)).toBe(false);
      expect(await queue.list()).toEqual([{ orgId: 'org_a', dueAt: 5_000 }]);
      expect(await queue.take('p', 60_000)).toEqual({ orgId: 'org_a', dueAt: 5_000 });
      // Taken, it may be queued again (the next slot).
      expect(await queue.enqueue('org_a', 6_000)).toBe(true);
    });

    it('tells an org its place, and forgets a removed or taken one', async () => {
      await queue.enqueue('org_b', 2_000);
      await queue.enqueue('org_a', 1_000);
      await queue.enqueue('org_c', 3_000);
      expect(await queue.position('org_a')).toBe(1);
      expect(await queue.position('org_c')).toBe(3);
      expect(await queue.position('org_x')).toBeNull();
      expect(await queue.remove('org_b')).toBe(true);
      expect(await queue.remove('org_b')).toBe(false);
      expect(await queue.position('org_c')).toBe(2);
      await queue.take('p', 60_000);
      expect(await queue.position('org_a')).toBeNull();
      expect(await queue.position('org_c')).toBe(1);
    });

    it('is shared between processes, and racing takers never get the same run', async () => {
      const other = await fx.openAnother();
      for (let i = 0; i < 50; i++) await other.enqueue(`org_${String(i).padStart(2, '0')}`, 1_000);
      expect(await queue.position('org_00')).toBe(1);
      const taken = await Promise.all(
        Array.from({ length: 60 }, (_, i) => (i % 2 ? queue : other).take('p', 60_000)),
      );
      const orgs = taken.flatMap((r) => (r ? [r.orgId] : []));
      expect(orgs).toHaveLength(50);
      expect(new Set(orgs).size).toBe(50);
      expect(await queue.list()).toEqual([]);
    });

    it('puts a run whose starter died before settling back in its place, and only that one', async () => {
      await queue.enqueue('org_a', 1_000);
      await queue.enqueue('org_b', 2_000);
      await queue.enqueue('org_c', 3_000);
      expect(await queue.take('dying', 200)).toEqual({ orgId: 'org_a', dueAt: 1_000 });
      expect(await queue.take('alive', 200)).toEqual({ orgId: 'org_b', dueAt: 2_000 });
      expect(await queue.settle('org_b', 'dying')).toBe(false);
      expect(await queue.settle('org_b', 'alive')).toBe(true);
      expect(await queue.settle('org_b', 'alive')).toBe(false);
      await fx.pass(400);
      const other = await fx.openAnother();
      // org_a's claim ran out: it is first again; org_b was settled and stays gone.
      expect(await other.take('next', 10_000)).toEqual({ orgId: 'org_a', dueAt: 1_000 });
      expect(await queue.settle('org_a', 'dying')).toBe(false);
      expect(await other.settle('org_a', 'next')).toBe(true);
      expect(await queue.list()).toEqual([{ orgId: 'org_c', dueAt: 3_000 }]);
    });

    it('keeps a run claimed while its lease lasts', async () => {
      await queue.enqueue('org_a', 1_000);
      expect(await queue.take('a', 10_000)).toEqual({ orgId: 'org_a', dueAt: 1_000 });
      await fx.pass(100);
      expect(await queue.take('b', 10_000)).toBeNull();
      expect(await queue.position('org_a')).toBeNull();
    });

    it('claims a fire slot once across processes and queues its run in the same step', async () => {
      const other = await fx.openAnother();
      const fires = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? queue : other).queueFire('org_a', 1_000, 60_000),
        ),
      );
      expect(fires.filter((f) => f === 'queued')).toHaveLength(1);
      expect(fires.filter((f) => f === 'slot-taken')).toHaveLength(9);
      // Whoever heard "taken" finds the run queued already.
      expect(await other.list()).toEqual([{ orgId: 'org_a', dueAt: 1_000 }]);
      // Taken and started, the slot is still claimed: a late fire does not queue a second run.
      expect(await queue.take('p', 60_000)).toEqual({ orgId: 'org_a', dueAt: 1_000 });
      expect(await other.queueFire('org_a', 1_000, 60_000)).toBe('slot-taken');
      expect(await queue.list()).toEqual([]);
      // Another org's slot at the same instant, and this org's next slot, are their own.
      expect(await other.queueFire('org_b', 1_000, 60_000)).toBe('queued');
      expect(await queue.queueFire('org_a', 2_000, 60_000)).toBe('queued');
    });

    it('claims the slot but queues no second run for an org still waiting from an earlier one', async () => {
      expect(await queue.queueFire('org_a', 1_000, 60_000)).toBe('queued');
      expect(await queue.queueFire('org_a', 2_000, 60_000)).toBe('already-queued');
      expect(await queue.queueFire('org_a', 2_000, 60_000)).toBe('slot-taken');
      expect(await queue.list()).toEqual([{ orgId: 'org_a', dueAt: 1_000 }]);
    });

    it('forgets a claimed fire slot once its time has passed', async () => {
      expect(await queue.queueFire('org_a', 1_000, 200)).toBe('queued');
      await queue.take('p', 60_000);
      expect(await queue.queueFire('org_a', 1_000, 200)).toBe('slot-taken');
      await fx.pass(400);
      expect(await queue.queueFire('org_a', 1_000, 200)).toBe('queued');
    });

    it('refuses an empty org id and a due instant that is not an integer', async () => {
      await expect(queue.enqueue('', 1)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(queue.enqueue('org_a', Number.NaN)).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      await expect(queue.take('', 1000)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(queue.take('a', 0)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(queue.queueFire('', 1, 1000)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(queue.queueFire('org_a', 1.5, 1000)).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      await expect(queue.queueFire('org_a', 1, 0)).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
    });
  });
}
