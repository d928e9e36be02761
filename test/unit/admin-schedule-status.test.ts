import { ManualClock } from '../../src/batch/clock';
import { Scheduler } from '../../src/batch/scheduler';
import { MemoryRunQueue } from '../../src/infra/memory/memory-run-queue';
import { silentLogger } from '../../src/logger';
import type { AdminFixture } from './admin-fixture';
import { INITLIVE, startAdmin } from './admin-fixture';

const ORG = 'org_http';
const T = Date.parse('2026-01-01T02:00:30Z');

describe('admin status: the scheduled run', () => {
  let fx: AdminFixture | null = null;
  let scheduler: Scheduler | null = null;
  afterEach(async () => {
    await scheduler?.stop();
    await fx?.close();
    fx = null;
  });

  it('shows the next scheduled instant, and a due run its place in the queue', async () => {
    const clock = new ManualClock(T);
    const queue = new MemoryRunQueue();
    scheduler = new Scheduler({
      // Runs that never end: the one slot stays taken and the rest wait.
      runner: {
        requestRun: async () => ({ runId: 'run_1' }),
        whenIdle: () => new Promise<void>(() => undefined),
      },
      queue,
      concurrency: 1,
      logger: silentLogger,
      clock,
    });
    fx = await startAdmin({ schedule: scheduler });
    await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, {
      body: { flow: 'jwt', username: fx.sb.username, initlive: INITLIVE },
    });
    const before = await fx.api('GET', `/api/orgs/${ORG}/salesforce`);
    expect(before.body.scheduledRun).toEqual({ nextAt: null, queued: null });

    scheduler.set(ORG, { mode: 'interval', everyMinutes: 15 });
    await queue.enqueue('org_a', T - 120_000);
    await queue.enqueue(ORG, T - 60_000);
    await queue.enqueue('org_z', T - 120_000);
    await scheduler.start(); // takes org_a, the first due; org_z and ORG wait
    await new Promise((r) => setImmediate(r));
    const status = await fx.api('GET', `/api/orgs/${ORG}/salesforce`);
    expect(status.body.scheduledRun).toEqual({
      nextAt: '2026-01-01T02:15:00.000Z',
      queued: { position: 2, dueAt: '2026-01-01T01:59:30.000Z' },
    });
  });
});
