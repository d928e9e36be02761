import { ManualClock } from '../../src/batch/clock';
import type { ScheduledRunner } from '../../src/batch/scheduler';
import { Scheduler } from '../../src/batch/scheduler';
import type { RunTrigger } from '../../src/batch/run-types';
import { SyncError } from '../../src/errors';
import { MemoryRunQueue } from '../../src/infra/memory/memory-run-queue';
import { silentLogger } from '../../src/logger';

/**
 * A runner whose runs go on until the test ends them, keeping one run per org like the
 * SyncRunner's lock does (a second request while one runs is a conflict).
 */
class GatedRunner implements ScheduledRunner {
  readonly started: Array<{ orgId: string; reason?: string }> = [];
  readonly running = new Map<string, { runId: string; end: () => void; done: Promise<void> }>();
  maxRunning = 0;
  failNext: SyncError | null = null;

  async requestRun(
    orgId: string,
    _trigger: RunTrigger,
    reason?: string,
  ): Promise<{ runId: string } | { conflict: string }> {
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = null;
      throw err;
    }
    const going = this.running.get(orgId);
    if (going) return { conflict: going.runId };
    const runId = `run_${this.started.length + 1}`;
    let end = (): void => undefined;
    const done = new Promise<void>((r) => (end = r));
    this.running.set(orgId, { runId, end, done });
    this.started.push({ orgId, reason });
    this.maxRunning = Math.max(this.maxRunning, this.running.size);
    return { runId };
  }

  async whenIdle(orgId: string): Promise<void> {
    await this.running.get(orgId)?.done;
  }

  end(orgId: string): void {
    const run = this.running.get(orgId);
    if (!run) throw new Error(`${orgId} is not running`);
    this.running.delete(orgId);
    run.end();
  }
}

/** Lets every promise chain started so far settle (memory adapters resolve in microtasks). */
async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

/**
 * Wraps a store so each call is answered some turns of the event loop after it was sent, in
 * no particular order: a busy process's event loop, a script reloaded after NOSCRIPT, another
 * process's clock a little behind.
 */
function slowed<T extends object>(store: T, turns: () => number): T {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function' || key === 'close') return value;
      return async (...args: unknown[]) => {
        for (let n = turns(); n > 0; n--) await new Promise((r) => setImmediate(r));
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

const T0 = Date.parse('2026-01-01T01:00:00Z');
const AT_0200 = Date.parse('2026-01-01T02:00:00Z');

function makeScheduler(
  runner: ScheduledRunner,
  clock: ManualClock,
  shared: { queue: MemoryRunQueue },
  owner: string,
  concurrency = 2,
  turns?: () => number,
): Scheduler {
  const queue = new MemoryRunQueue({ sharedWith: shared.queue });
  const via = <T extends object>(store: T): T => (turns ? slowed(store, turns) : store);
  return new Scheduler(
    {
      runner,
      queue: via(queue),
      concurrency,
      logger: silentLogger,
      clock,
    },
    owner,
  );
}

function sharedStores(clock: ManualClock): { queue: MemoryRunQueue } {
  return {
    queue: new MemoryRunQueue({ now: () => clock.now() }),
  };
}

describe('Scheduler queue', () => {
  it('300 orgs due at 02:00 with a limit of 2: never more than 2 at once, all run, in due order', async () => {
    const clock = new ManualClock(T0);
    const runner = new GatedRunner();
    const shared = sharedStores(clock);
    const scheduler = makeScheduler(runner, clock, shared, 'proc-a');
    const orgs = Array.from({ length: 300 }, (_, i) => `org_${String(i).padStart(3, '0')}`);
    // Registered in a scrambled order: start order must come from the queue, not from set().
    const scrambled = orgs.map((o, i) => ({ o, k: (i * 7919) % 300 })).sort((a, b) => a.k - b.k);
    for (const { o } of scrambled)
      scheduler.set(o, { mode: 'daily', at: '02:00', timezone: 'UTC' });
    // Lexically first, but due a minute later: it must start after all 300.
    scheduler.set('org_aaa', { mode: 'daily', at: '02:01', timezone: 'UTC' });
    await scheduler.start();

    clock.advanceTo(AT_0200);
    await settle();
    expect(runner.started.map((s) => s.orgId)).toEqual(['org_000', 'org_001']);
    expect(await scheduler.queued('org_002')).toEqual({ position: 1, dueAt: AT_0200 });
    expect(await scheduler.queued('org_299')).toEqual({ position: 298, dueAt: AT_0200 });
    expect(await scheduler.queued('org_000')).toBeNull();

    clock.advanceTo(AT_0200 + 60_000);
    await settle();
    expect(await scheduler.queued('org_aaa')).toEqual({ position: 299, dueAt: AT_0200 + 60_000 });

    for (let round = 0; round < 400 && runner.running.size > 0; round++) {
      expect(runner.running.size).toBeLessThanOrEqual(2);
      expect(scheduler.runningCount()).toBe(runner.running.size);
      runner.end([...runner.running.keys()][0]!);
      await settle();
    }
    expect(runner.running.size).toBe(0);
    expect(runner.maxRunning).toBe(2);
    expect(runner.started.map((s) => s.orgId)).toEqual([...orgs, 'org_aaa']);
    expect(runner.started[0]!.reason).toBe('schedule@2026-01-01T02:00:00.000Z');
    expect(await shared.queue.list()).toEqual([]);
    await scheduler.stop();
  });

  it('does not queue an org twice, and drops a queued run that meets one already going', async () => {
    const clock = new ManualClock(T0);
    const runner = new GatedRunner();
    const shared = sharedStores(clock);
    const scheduler = makeScheduler(runner, clock, shared, 'proc-a', 1);
    scheduler.set('org_a', { mode: 'interval', everyMinutes: 5 });
    scheduler.set('org_b', { mode: 'interval', everyMinutes: 5 });
    await scheduler.start();
    // Someone pressed Sync now for org_b: it is running outside the scheduler.
    await runner.requestRun('org_b', 'manual');
    clock.advance(5 * 60_000); // 01:05: org_a starts, org_b waits (limit 1)
    await settle();
    expect(runner.started.map((s) => s.orgId)).toEqual(['org_b', 'org_a']);
    clock.advance(5 * 60_000); // 01:10: org_a is due again but org_b's 01:05 is still queued
    await settle();
    expect(scheduler.fires().slice(-2)).toEqual([
      { orgId: 'org_a', at: T0 + 10 * 60_000, outcome: { queued: true } },
      { orgId: 'org_b', at: T0 + 10 * 60_000, outcome: { skipped: 'already-queued' } },
    ]);
    expect(await shared.queue.list()).toEqual([
      { orgId: 'org_b', dueAt: T0 + 5 * 60_000 },
      { orgId: 'org_a', dueAt: T0 + 10 * 60_000 },
    ]);
    runner.end('org_a');
    await settle();
    // org_b's queued run met the manual run: dropped, and the slot goes to org_a's next one.
    expect(scheduler.starts().at(-2)).toMatchObject({
      orgId: 'org_b',
      outcome: { conflict: 'run_1' },
    });
    expect(runner.started.map((s) => s.orgId)).toEqual(['org_b', 'org_a', 'org_a']);
    expect(await shared.queue.list()).toEqual([]);
    await scheduler.stop();
  });

  it('a run queued by a process that died is started by another, at its next look', async () => {
    const clock = new ManualClock(T0);
    const shared = sharedStores(clock);
    const runnerA = new GatedRunner();
    const runnerB = new GatedRunner();
    const a = makeScheduler(runnerA, clock, shared, 'proc-a', 1);
    // B serves the same queue but has no timer for these orgs: only its poll can find them.
    const b = makeScheduler(runnerB, clock, shared, 'proc-b', 1);
    a.set('org_a', { mode: 'daily', at: '02:00', timezone: 'UTC' });
    a.set('org_b', { mode: 'daily', at: '02:00', timezone: 'UTC' });
    await a.start();
    // B looks a millisecond after each minute, not at the instant A's fires land.
    clock.advance(1);
    await b.start();
    clock.advanceTo(AT_0200 - 1);
    await settle();
    clock.advanceTo(AT_0200);
    await settle();
    // A claimed both slots, started org_a and queued org_b; then it dies.
    expect(runnerA.started.map((s) => s.orgId)).toEqual(['org_a']);
    expect(await shared.queue.list()).toEqual([{ orgId: 'org_b', dueAt: AT_0200 }]);
    await a.stop();
    expect(runnerB.started).toEqual([]);
    clock.advance(60_000);
    await settle();
    expect(runnerB.started).toEqual([
      { orgId: 'org_b', reason: 'schedule@2026-01-01T02:00:00.000Z' },
    ]);
    await b.stop();
  });

  it('a run whose starter died between taking it and starting it is started by another', async () => {
    const clock = new ManualClock(T0);
    const shared = sharedStores(clock);
    // A's runner never answers: A died after taking the run, before it was recorded.
    const dying: ScheduledRunner = {
      requestRun: () => new Promise(() => undefined),
      whenIdle: async () => undefined,
    };
    const runnerB = new GatedRunner();
    const a = makeScheduler(dying, clock, shared, 'proc-a', 1);
    const b = makeScheduler(runnerB, clock, shared, 'proc-b', 1);
    a.set('org_a', { mode: 'daily', at: '02:00', timezone: 'UTC' });
    await a.start();
    // B looks a millisecond after each minute, not at the instant A's fire lands.
    clock.advance(1);
    await b.start();
    // Up to the minute first, so B's looks so far have landed.
    clock.advanceTo(AT_0200 - 1);
    await settle();
    clock.advanceTo(AT_0200);
    await settle();
    expect(await shared.queue.list()).toEqual([]);
    clock.advance(60_000); // B looks, but A's claim still holds
    await settle();
    expect(runnerB.started).toEqual([]);
    clock.advance(60_001); // the claim ran out at 02:02: back in its place, and B takes it
    await settle();
    expect(runnerB.started).toEqual([
      { orgId: 'org_a', reason: 'schedule@2026-01-01T02:00:00.000Z' },
    ]);
    await b.stop();
  });

  it('a run that could not start for a passing reason keeps its place and starts later', async () => {
    const clock = new ManualClock(T0);
    const runner = new GatedRunner();
    const shared = sharedStores(clock);
    const scheduler = makeScheduler(runner, clock, shared, 'proc-a', 2);
    scheduler.set('org_a', { mode: 'daily', at: '02:00', timezone: 'UTC' });
    await scheduler.start();
    runner.failNext = new SyncError('STORE_UNAVAILABLE', 'redis down', { retriable: true });
    clock.advanceTo(AT_0200);
    await settle();
    expect(runner.started).toEqual([]);
    expect(await scheduler.queued('org_a')).toEqual({ position: 1, dueAt: AT_0200 });
    clock.advance(60_000);
    await settle();
    expect(runner.started.map((s) => s.orgId)).toEqual(['org_a']);
    expect(scheduler.starts().map((s) => Object.keys(s.outcome)[0])).toEqual(['error', 'runId']);
    await scheduler.stop();
  });

  it('three processes firing 300 orgs at one minute start them in queue order', async () => {
    const clock = new ManualClock(T0);
    const shared = sharedStores(clock);
    const runner = new GatedRunner();
    // Each store call takes a few turns of the event loop, as a Redis round trip does, so
    // the processes' fires land interleaved and in no particular order.
    let seed = 7;
    const turns = (): number => {
      seed = (seed * 48271) % 2147483647;
      return 1 + (seed % 30);
    };
    const processes = ['proc-a', 'proc-b', 'proc-c'].map((owner) =>
      makeScheduler(runner, clock, shared, owner, 2, turns),
    );
    const orgs = Array.from({ length: 300 }, (_, i) => `org_${String(i).padStart(3, '0')}`);
    // Each process learned the schedules in its own order, so fires in its own order.
    for (const p of processes) {
      const order = orgs.map((o) => ({ o, k: turns() })).sort((x, y) => x.k - y.k);
      for (const { o } of order) p.set(o, { mode: 'daily', at: '02:00', timezone: 'UTC' });
      await p.start();
    }
    clock.advanceTo(AT_0200);
    await settle(4000);
    for (let round = 0; round < 400 && runner.running.size > 0; round++) {
      expect(runner.running.size).toBeLessThanOrEqual(6);
      runner.end([...runner.running.keys()][0]!);
      await settle(40);
    }
    expect(runner.running.size).toBe(0);
    const startOrder = runner.started.map((s) => s.orgId);
    expect([...startOrder].sort()).toEqual(orgs);
    // Each starts within the six slots of its turn: earlier ones may still be starting.
    const late = startOrder
      .map((orgId, place) => ({ orgId, off: Math.abs(place - orgs.indexOf(orgId)) }))
      .filter((r) => r.off >= 6);
    expect(late).toEqual([]);
    for (const p of processes) await p.stop();
  });

  it('refuses a concurrency below 1', () => {
    const clock = new ManualClock(T0);
    expect(() => makeScheduler(new GatedRunner(), clock, sharedStores(clock), 'p', 0)).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });
});
