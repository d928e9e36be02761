import { randomUUID } from 'node:crypto';
import { ManualClock } from '../../src/batch/clock';
import type { Lock } from '../../src/batch/lock';
import { Scheduler } from '../../src/batch/scheduler';
import { queuedRun } from '../../src/batch/run-types';
import { SyncRunner } from '../../src/batch/sync-runner';
import type { RunTrigger, SyncTrigger } from '../../src/batch/run-types';
import { recordKey } from '../../src/core/topics';
import { SyncError } from '../../src/errors';
import { MemoryLock } from '../../src/infra/memory/memory-lock';
import { MemoryRunQueue } from '../../src/infra/memory/memory-run-queue';
import { MemoryRunStore } from '../../src/infra/memory/memory-run-store';
import { silentLogger } from '../../src/logger';
import { produce } from '../../src/pipeline/deps';
import { ORG_ID, startWorld } from './batch-fixture';
import type { World } from './batch-fixture';

jest.setTimeout(90_000);

async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A second connector process: its own runner over the same transport, stores and lock backend. */
function secondProcess(w: World, clock?: ManualClock): SyncRunner {
  return new SyncRunner(
    {
      ...w.deps,
      runStore: new MemoryRunStore({ sharedWith: w.deps.runStore }),
      lock: new MemoryLock({ sharedWith: w.deps.lock }),
    },
    { job: { settlePollMs: 10 }, consumeRequests: false, ...(clock ? { clock } : {}) },
  );
}

/** After `ms` on the clock, `runner` resumes the interrupted run `runId` by itself and ends it well. */
async function resumesAfter(
  w: World,
  clock: ManualClock,
  ms: number,
  runner: SyncRunner,
  runId: string,
): Promise<void> {
  clock.advance(ms);
  await until('the interrupted run resumes', () => runner.runningHere(ORG_ID) !== null);
  expect(runner.runningHere(ORG_ID)).toBe(runId);
  await runner.whenIdle(ORG_ID);
  expect(await w.deps.runStore.get(ORG_ID, runId)).toMatchObject({ status: 'succeeded' });
}

/** The lock as a process that dies holding it sees it: it never lets go. */
function neverReleased(lock: MemoryLock): Lock {
  return {
    tryAcquire: (n, o, l) => lock.tryAcquire(n, o, l),
    renew: (n, o, l) => lock.renew(n, o, l),
    holder: (n) => lock.holder(n),
    release: async () => false,
    close: async () => undefined,
  };
}

describe('SyncRunner', () => {
  let w: World | null = null;
  afterEach(async () => {
    await w?.close();
    w = null;
  });

  it('Sync now runs in the background, answers a conflict while running, and counts in history', async () => {
    w = await startWorld({ staff: 40, contacts: 30, shared: 10 });
    const runner = new SyncRunner(w.deps, { job: { settlePollMs: 10 }, consumeRequests: false });
    await runner.start();
    const first = await runner.requestRun(ORG_ID, 'manual', 'admin clicked Sync now');
    expect('runId' in first).toBe(true);
    const runId = (first as { runId: string }).runId;
    expect(await runner.requestRun(ORG_ID, 'manual')).toEqual({ conflict: runId });
    await runner.whenIdle(ORG_ID);
    const record = await w.deps.runStore.get(ORG_ID, runId);
    expect(record).toMatchObject({
      status: 'succeeded',
      trigger: 'manual',
      reason: 'admin clicked Sync now',
      // The 10 shared people differ in phone: InitLive, the default system, wins each.
      counts: {
        read: { initlive: 40, salesforce: 30 },
        created: { initlive: 20, salesforce: 30 },
        conflicts: 10,
      },
    });
    expect(record!.endedAt).toBeGreaterThanOrEqual(record!.startedAt!);
    expect(await w.deps.lock.holder(`sync:${ORG_ID}`)).toBeNull();
    await runner.stop();
  });

  it('a Sync now asked the moment the last run says it is done starts, not a conflict', async () => {
    w = await startWorld({ staff: 2, contacts: 2, shared: 0 });
    const runner = new SyncRunner(w.deps, { job: { settlePollMs: 10 }, consumeRequests: false });
    // Another process's run has recorded its end and is about to let the lock go.
    await w.deps.lock.tryAcquire(`sync:${ORG_ID}`, 'run_done', 30_000);
    await w.deps.runStore.save({
      ...queuedRun(ORG_ID, 'run_done', 'manual', null),
      status: 'succeeded',
      endedAt: Date.now(),
    });
    setTimeout(() => void w!.deps.lock.release(`sync:${ORG_ID}`, 'run_done'), 150);
    const asked = await runner.requestRun(ORG_ID, 'manual');
    expect('runId' in asked).toBe(true);
    await runner.whenIdle(ORG_ID);
    // A run that is really running is still a conflict.
    await w.deps.lock.tryAcquire(`sync:${ORG_ID}`, 'run_busy', 30_000);
    await w.deps.runStore.save({
      ...queuedRun(ORG_ID, 'run_busy', 'manual', null),
      status: 'running',
    });
    expect(await runner.requestRun(ORG_ID, 'manual')).toEqual({ conflict: 'run_busy' });
    await runner.stop();
  });

  it('two processes asking at once start exactly one run', async () => {
    w = await startWorld({ staff: 20, contacts: 20, shared: 5 });
    const a = new SyncRunner(w.deps, { job: { settlePollMs: 10 }, consumeRequests: false });
    const b = secondProcess(w);
    const answers = await Promise.all([
      a.requestRun(ORG_ID, 'manual'),
      b.requestRun(ORG_ID, 'manual'),
    ]);
    const started = answers.filter((x) => 'runId' in x);
    expect(started).toHaveLength(1);
    const conflict = answers.find((x) => 'conflict' in x) as { conflict: string };
    expect(conflict.conflict).toBe((started[0] as { runId: string }).runId);
    await Promise.all([a.whenIdle(ORG_ID), b.whenIdle(ORG_ID)]);
    expect(await w.deps.runStore.list(ORG_ID)).toHaveLength(1);
  });

  it('starts a run for a recovery request from a source, once', async () => {
    w = await startWorld({ staff: 10, contacts: 10, shared: 0 });
    const runner = new SyncRunner(w.deps, { job: { settlePollMs: 10 } });
    await runner.start();
    const requestId = randomUUID();
    await produce(w.deps, 'syncRuns', [
      {
        key: recordKey(ORG_ID, requestId),
        value: {
          orgId: ORG_ID,
          runId: requestId,
          kind: 'REQUESTED',
          trigger: 'RECOVERY',
          reason: 'cursor_expired',
          at: Date.now(),
          counts: {},
        },
      },
    ]);
    await until('a recovery run', async () =>
      (await w!.deps.runStore.list(ORG_ID)).some((r) => r.status === 'succeeded'),
    );
    const runs = await w.deps.runStore.list(ORG_ID);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      trigger: 'recovery',
      reason: 'cursor_expired',
      status: 'succeeded',
    });
    await runner.stop();
  });

  it('after a crash, another process takes over once the lease ran out and resumes the run', async () => {
    w = await startWorld({ staff: 60, contacts: 40, shared: 10 });
    let now = Date.now();
    const lock = new MemoryLock({ now: () => now });
    // The crashing process dies mid-run: its run stops and it never releases its lease.
    const dyingLock = neverReleased(lock);
    const crashed: SyncRunner = new SyncRunner(
      { ...w.deps, lock: dyingLock },
      {
        leaseMs: 30_000,
        consumeRequests: false,
        job: {
          initlivePageSize: 10,
          onCheckpoint: (cp) => void (cp.pages === 3 && crashed.stop()),
        },
      },
    );
    const started = (await crashed.requestRun(ORG_ID, 'manual')) as { runId: string };
    await crashed.whenIdle(ORG_ID);
    const left = await w.deps.runStore.get(ORG_ID, started.runId);
    expect(left?.status).toBe('running');

    const survivor = new SyncRunner(
      { ...w.deps, lock: new MemoryLock({ sharedWith: lock }) },
      { leaseMs: 30_000, consumeRequests: false, job: { settlePollMs: 10 } },
    );
    expect(await survivor.requestRun(ORG_ID, 'manual')).toEqual({ conflict: started.runId });
    now += 31_000;
    await survivor.start();
    expect(survivor.runningHere(ORG_ID)).toBe(started.runId);
    await survivor.whenIdle(ORG_ID);
    const done = await w.deps.runStore.get(ORG_ID, started.runId);
    expect(done).toMatchObject({
      status: 'succeeded',
      counts: { read: { initlive: 60, salesforce: 40 } },
    });
    expect(await w.deps.runStore.list(ORG_ID)).toHaveLength(1);
  });

  it('asks again, later, for a recovery run that failed for a passing reason; not for others', async () => {
    w = await startWorld({ staff: 30, contacts: 20, shared: 5 });
    const clock = new ManualClock(Date.now());
    let refuse: SyncError | null = new SyncError('RATE_LIMITED', 'InitLive answered 429');
    const runner = new SyncRunner(w.deps, {
      consumeRequests: false,
      clock,
      failedRecoveryRetryMs: 60_000,
      sweepMs: 0,
      job: {
        settlePollMs: 10,
        onCheckpoint: () => {
          if (refuse) throw refuse;
        },
      },
    });
    await runner.start();
    const first = (await runner.requestRun(ORG_ID, 'recovery', 'replay id lost')) as {
      runId: string;
    };
    await runner.whenIdle(ORG_ID);
    expect(await w.deps.runStore.get(ORG_ID, first.runId)).toMatchObject({ status: 'failed' });
    await until('the retry is armed', () => clock.pending === 1);

    const ended = async (n: number): Promise<boolean> => {
      const runs = await w!.deps.runStore.list(ORG_ID);
      return runs.length === n && runs.every((r) => r.endedAt !== null);
    };
    // It fails again: the next wait is twice as long.
    clock.advance(60_000);
    await until('the second try ended', () => ended(2));
    await until('the next retry is armed', () => clock.pending === 1);
    clock.advance(60_000);
    await flush();
    expect(await w.deps.runStore.list(ORG_ID)).toHaveLength(2);
    refuse = null;
    clock.advance(60_000);
    await until('the third try ended', () => ended(3));
    await runner.whenIdle(ORG_ID);
    const runs = await w.deps.runStore.list(ORG_ID);
    expect(runs.map((r) => [r.trigger, r.status])).toEqual([
      ['recovery', 'succeeded'],
      ['recovery', 'failed'],
      ['recovery', 'failed'],
    ]);
    expect(runs[0]!.reason).toContain(`again: ${runs[1]!.runId} failed`);
    expect(clock.pending).toBe(0);

    // A manual run, or a failure another try would meet again, is left to the admin.
    refuse = new SyncError('RATE_LIMITED', 'InitLive answered 429');
    await runner.requestRun(ORG_ID, 'manual');
    await runner.whenIdle(ORG_ID);
    refuse = new SyncError('INVALID_INPUT', 'a setting InitLive refuses');
    await runner.requestRun(ORG_ID, 'recovery', 'replay id lost');
    await runner.whenIdle(ORG_ID);
    await flush();
    expect((await w.deps.runStore.list(ORG_ID)).slice(0, 2).map((r) => r.status)).toEqual([
      'failed',
      'failed',
    ]);
    expect(clock.pending).toBe(0);
    await runner.stop();
  });

  it('a failed recovery is tried again when its process is gone: by a survivor, by a restart, once', async () => {
    w = await startWorld({ staff: 30, contacts: 20, shared: 5 });
    const world = w;
    const clock = new ManualClock(Date.now());
    let refuse: SyncError | null = new SyncError('RATE_LIMITED', 'InitLive answered 429');
    const process = (sweepMs: number, shared = true): SyncRunner =>
      new SyncRunner(
        // Runs end on the same clock the retries wait on.
        shared
          ? {
              ...world.deps,
              now: () => clock.now(),
              runStore: new MemoryRunStore({ sharedWith: world.deps.runStore }),
              lock: new MemoryLock({ sharedWith: world.deps.lock }),
            }
          : { ...world.deps, now: () => clock.now() },
        {
          clock,
          failedRecoveryRetryMs: 60_000,
          consumeRequests: false,
          sweepMs,
          job: {
            settlePollMs: 10,
            onCheckpoint: () => {
              if (refuse) throw refuse;
            },
          },
        },
      );
    const ended = async (n: number): Promise<boolean> => {
      const runs = await world.deps.runStore.list(ORG_ID);
      return runs.length === n && runs.every((r) => r.endedAt !== null);
    };
    const failing = process(0, false);
    // Started before the failure: only its look at every org's runs can find it.
    const survivor = process(10_000);
    await survivor.start();
    const first = (await failing.requestRun(ORG_ID, 'recovery', 'replay id lost')) as {
      runId: string;
    };
    await failing.whenIdle(ORG_ID);
    // Its process stops before the try again it armed.
    await failing.stop();
    clock.advance(10_000);
    await flush();
    expect(await world.deps.runStore.list(ORG_ID)).toHaveLength(1);
    clock.advance(50_000);
    await until('the survivor tried again', () => ended(2));
    await survivor.whenIdle(ORG_ID);

    // The survivor stops too; a process that starts then, and another beside it, find the
    // next try (twice as late) in the history and make it one run.
    await survivor.stop();
    refuse = null;
    const restarted = process(0);
    const beside = process(10_000);
    await Promise.all([restarted.start(), beside.start()]);
    clock.advance(60_000);
    await flush();
    expect(await world.deps.runStore.list(ORG_ID)).toHaveLength(2);
    clock.advance(60_000);
    await until('the restart tried again', () => ended(3));
    await Promise.all([restarted.whenIdle(ORG_ID), beside.whenIdle(ORG_ID)]);
    clock.advance(120_000);
    await flush();
    const runs = await world.deps.runStore.list(ORG_ID);
    expect(runs.map((r) => [r.trigger, r.status])).toEqual([
      ['recovery', 'succeeded'],
      ['recovery', 'failed'],
      ['recovery', 'failed'],
    ]);
    expect(runs[2]!.runId).toBe(first.runId);
    expect(runs[1]!.reason).toBe(`replay id lost (again: ${first.runId} failed)`);
    expect(runs[0]!.reason).toBe(`replay id lost (again: ${runs[1]!.runId} failed)`);
    await Promise.all([restarted.stop(), beside.stop()]);
  });

  it('a process restarted within the dead holder lease resumes the run once the lease runs out', async () => {
    w = await startWorld({ staff: 60, contacts: 40, shared: 10 });
    const clock = new ManualClock(Date.now());
    const lock = new MemoryLock({ now: () => clock.now() });
    const dyingLock = neverReleased(lock);
    const crashed: SyncRunner = new SyncRunner(
      { ...w.deps, lock: dyingLock },
      {
        leaseMs: 30_000,
        consumeRequests: false,
        clock,
        job: {
          initlivePageSize: 10,
          onCheckpoint: (cp) => void (cp.pages === 3 && crashed.stop()),
        },
      },
    );
    const started = (await crashed.requestRun(ORG_ID, 'manual')) as { runId: string };
    await crashed.whenIdle(ORG_ID);

    // Back 5 s after the kill: the lease is still held, so start() cannot take the run.
    clock.advance(5_000);
    const restarted = new SyncRunner(
      { ...w.deps, lock: new MemoryLock({ sharedWith: lock }) },
      { leaseMs: 30_000, consumeRequests: false, clock, sweepMs: 0, job: { settlePollMs: 10 } },
    );
    await restarted.start();
    expect(restarted.runningHere(ORG_ID)).toBeNull();

    // Nobody asks again: the runner itself looks once the lease has run out.
    await resumesAfter(w, clock, 30_000, restarted, started.runId);
    // Nothing left to watch once the run has ended.
    expect(clock.pending).toBe(0);
    await restarted.stop();
  });

  /**
   * A process that dies for good three pages into a Sync now, holding the run's lock until its
   * lease runs out, and a survivor started before it (`sweepMs` its look at every organization).
   */
  async function diesMidRun(sweepMs?: number) {
    w = await startWorld({ staff: 60, contacts: 40, shared: 10 });
    const clock = new ManualClock(Date.now());
    const lock = new MemoryLock({ now: () => clock.now() });
    const dead: SyncRunner = new SyncRunner(
      { ...w.deps, lock: neverReleased(lock) },
      {
        leaseMs: 30_000,
        consumeRequests: false,
        clock,
        sweepMs: 0,
        job: {
          initlivePageSize: 10,
          onCheckpoint: (cp) => void (cp.pages === 3 && dead.stop()),
        },
      },
    );
    const survivor = new SyncRunner(
      { ...w.deps, lock: new MemoryLock({ sharedWith: lock }) },
      {
        leaseMs: 30_000,
        consumeRequests: false,
        clock,
        ...(sweepMs === undefined ? {} : { sweepMs }),
        job: { settlePollMs: 10 },
      },
    );
    await survivor.start();
    const started = (await dead.requestRun(ORG_ID, 'manual')) as { runId: string };
    await dead.whenIdle(ORG_ID);
    expect(await w.deps.runStore.get(ORG_ID, started.runId)).toMatchObject({ status: 'running' });
    return { world: w, clock, survivor, runId: started.runId };
  }

  it('a run whose process died for good is resumed by a survivor that nobody asks', async () => {
    const { world, clock, survivor, runId } = await diesMidRun(60_000);
    await resumesAfter(world, clock, 60_000, survivor, runId);
    await survivor.stop();
  });

  it('when a process leaves, a survivor resumes its run once the lease runs out, not at the next sweep', async () => {
    const { world, clock, survivor, runId } = await diesMidRun();
    // What the source lease says once the dead process's membership runs out; the sweep
    // (default every 5 minutes) is never due in this test.
    world.deps.events.emit('members.left', { members: ['dead'] });
    // Its look finds the lock still held and arms a look again beside the sweep's timer.
    await until('the survivor watches the locked run', () => clock.pending > 1);
    await resumesAfter(world, clock, 30_000, survivor, runId);
    await survivor.stop();
  });
});

class RecordingTrigger implements SyncTrigger {
  calls: Array<{ orgId: string; trigger: RunTrigger; reason?: string }> = [];
  async requestRun(
    orgId: string,
    trigger: RunTrigger,
    reason?: string,
  ): Promise<{ runId: string }> {
    this.calls.push({ orgId, trigger, reason });
    return { runId: `run_${this.calls.length}` };
  }
  async whenIdle(): Promise<void> {}
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Scheduler', () => {
  it('fires an interval schedule every N minutes under a fake clock, and nothing in manual mode', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:07:00Z'));
    const runner = new RecordingTrigger();
    const scheduler = new Scheduler({
      runner,
      queue: new MemoryRunQueue(),
      logger: silentLogger,
      clock,
    });
    scheduler.set('org_a', { mode: 'interval', everyMinutes: 15 });
    scheduler.set('org_b', { mode: 'manual' });
    await scheduler.start();
    expect(scheduler.nextRunAt('org_a')).toBe(Date.parse('2026-01-01T00:15:00Z'));
    expect(scheduler.nextRunAt('org_b')).toBeNull();
    for (let i = 0; i < 4; i++) {
      clock.advance(15 * 60_000);
      await flush();
    }
    expect(runner.calls.map((c) => c.orgId)).toEqual(['org_a', 'org_a', 'org_a', 'org_a']);
    expect(runner.calls[0]).toMatchObject({
      trigger: 'scheduled',
      reason: 'schedule@2026-01-01T00:15:00.000Z',
    });
    scheduler.set('org_a', { mode: 'manual' });
    clock.advance(60 * 60_000);
    await flush();
    expect(runner.calls).toHaveLength(4);
    await scheduler.stop();
  });

  it('fires a daily schedule once a day across the Los Angeles DST changes', async () => {
    const clock = new ManualClock(Date.parse('2026-03-06T12:00:00Z'));
    const runner = new RecordingTrigger();
    const scheduler = new Scheduler({
      runner,
      queue: new MemoryRunQueue(),
      logger: silentLogger,
      clock,
    });
    scheduler.set('org_a', { mode: 'daily', at: '02:30', timezone: 'America/Los_Angeles' });
    await scheduler.start();
    for (let h = 0; h < 4 * 24; h++) {
      clock.advance(3_600_000);
      await flush();
    }
    expect(scheduler.fires().map((f) => new Date(f.at).toISOString())).toEqual([
      '2026-03-07T10:30:00.000Z', // 02:30 PST
      '2026-03-08T10:00:00.000Z', // 02:30 does not exist: 03:00 PDT
      '2026-03-09T09:30:00.000Z', // 02:30 PDT
      '2026-03-10T09:30:00.000Z',
    ]);
    scheduler.set('org_a', { mode: 'daily', at: '01:30', timezone: 'America/Los_Angeles' });
    clock.advanceTo(Date.parse('2026-10-31T12:00:00Z'));
    await flush();
    for (let h = 0; h < 48; h++) {
      clock.advance(3_600_000);
      await flush();
    }
    const fall = scheduler
      .fires()
      .filter((f) => f.at > Date.parse('2026-10-31T12:00:00Z'))
      .map((f) => new Date(f.at).toISOString());
    expect(fall).toEqual(['2026-11-01T08:30:00.000Z', '2026-11-02T09:30:00.000Z']);
    expect(runner.calls.every((c) => c.trigger === 'scheduled')).toBe(true);
    await scheduler.stop();
  });

  it('two processes firing at the same instant start exactly one run', async () => {
    const w = await startWorld({ staff: 20, contacts: 10, shared: 5 });
    try {
      const clock = new ManualClock(Date.parse('2026-01-01T00:00:30Z'));
      const runnerA = new SyncRunner(w.deps, {
        clock,
        consumeRequests: false,
        job: { settlePollMs: 10 },
      });
      const runnerB = secondProcess(w, clock);
      const queue = new MemoryRunQueue();
      const schedA = new Scheduler(
        { runner: runnerA, queue, logger: silentLogger, clock },
        'proc-a',
      );
      const schedB = new Scheduler(
        {
          runner: runnerB,
          queue: new MemoryRunQueue({ sharedWith: queue }),
          logger: silentLogger,
          clock,
        },
        'proc-b',
      );
      for (const s of [schedA, schedB]) {
        s.set(ORG_ID, { mode: 'interval', everyMinutes: 5 });
        await s.start();
      }
      clock.advance(5 * 60_000);
      await until(
        'both schedulers to fire',
        () => schedA.fires().length + schedB.fires().length === 2,
      );
      await Promise.all([runnerA.whenIdle(ORG_ID), runnerB.whenIdle(ORG_ID)]);
      const runs = await w.deps.runStore.list(ORG_ID);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ trigger: 'scheduled', status: 'succeeded' });
      expect(await queue.list()).toEqual([]);
      await Promise.all([schedA.stop(), schedB.stop()]);
    } finally {
      await w.close();
    }
  });
});
