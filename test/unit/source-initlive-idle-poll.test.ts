import type { InitLiveStaffChange } from '../../src/core/records';
import { InitLiveSource, idlePollCeilingMs, idlePollDelayMs } from '../../src/source-initlive';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox } from '../../src/sandbox/initlive';
import {
  client,
  collect,
  eventually,
  fastBackoff,
  orgRuntime,
  testPipeline,
} from './source-initlive-helpers';
import type { Collected, TestPipeline } from './source-initlive-helpers';

/**
 * An idle feed is polled less and less often (up to `idlePollMaxMs`), so a thousand idle
 * organizations do not cost a thousand requests a second; a read that finds changes brings
 * the poll back to `pollIntervalMs`.
 */
describe('InitLive feed poll backoff', () => {
  test('the wait doubles per empty read from the interval up to the ceiling, and a read with changes resets it', () => {
    const waits = [0, 1, 2, 3, 4, 5, 6].map((n) => idlePollDelayMs(n, 1_000, 8_000));
    expect(waits).toEqual([1_000, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    // A feed idle for years still waits the ceiling, not Infinity or NaN.
    expect(idlePollDelayMs(10_000_000, 1_000, 8_000)).toBe(8_000);
    // No ceiling above the interval: no backoff (the default).
    expect([1, 5, 50].map((n) => idlePollDelayMs(n, 1_000, 1_000))).toEqual([1_000, 1_000, 1_000]);
    expect(idlePollDelayMs(5, 1_000, 10)).toBe(1_000);
  });

  test('a deployment whose webhooks are registered polls an idle feed every 15 s at most; without them, every second', () => {
    expect(idlePollCeilingMs(undefined, true)).toBe(15_000);
    expect(idlePollCeilingMs(undefined, false)).toBeUndefined();
    // A configured ceiling wins either way.
    expect(idlePollCeilingMs(4_000, true)).toBe(4_000);
    expect(idlePollCeilingMs(60_000, false)).toBe(60_000);
  });

  describe('a reader', () => {
    let sandbox: InitLiveSandbox;
    let pipeline: TestPipeline;
    let changes: Collected<InitLiveStaffChange>;
    let source: InitLiveSource | null = null;

    beforeEach(async () => {
      sandbox = await startInitLiveSandbox({ rateLimit: false });
      pipeline = await testPipeline([orgRuntime(client(sandbox.baseUrl))]);
      changes = await collect(pipeline.deps, 'staffChanges');
    });

    afterEach(async () => {
      await source?.stop();
      await changes.stop();
      await pipeline.memory.close();
      await sandbox.close();
    });

    const feedReads = (): number =>
      sandbox.control.counters().requests['GET /organizations/:orgId/staff/changes'] ?? 0;

    test('reads an idle feed ever less often, and still picks up a change without a webhook', async () => {
      source = new InitLiveSource(pipeline.deps, {
        pollIntervalMs: 20,
        idlePollMaxMs: 320,
        errorBackoff: fastBackoff,
      });
      await source.start();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      // Waits of 20, 20, 40, 80, 160, then 320 ms: about ten reads in 1.5 s, against 75 at a
      // steady 20 ms (a loaded machine makes fewer, never more).
      const idleReads = feedReads();
      expect(idleReads).toBeGreaterThanOrEqual(3);
      expect(idleReads).toBeLessThanOrEqual(15);

      const staff = sandbox.control.createStaff({
        firstName: 'Idle',
        lastName: 'Feed',
        email: 'idle.feed@example.org',
      });
      await eventually(
        () => changes.values.some((c) => c.initliveId === staff.id),
        'the change read after the idle backoff',
      );
    });
  });
});
