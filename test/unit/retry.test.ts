import { SyncError } from '../../src/errors';
import { backoffDelayMs, retry, type RetryPolicy } from '../../src/retry';

const policy: RetryPolicy = {
  maxAttempts: 4,
  initialDelayMs: 100,
  maxDelayMs: 250,
  factor: 2,
  jitter: 0.5,
};
const noSleep = (waits: number[]) => async (ms: number) => void waits.push(ms);

describe('retry', () => {
  it('retries retriable errors with growing, capped, jittered delays and then succeeds', async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await retry(
      async () => {
        calls++;
        if (calls < 4) throw new SyncError('UPSTREAM_UNAVAILABLE', 'try later');
        return 'done';
      },
      policy,
      { sleep: noSleep(waits), random: () => 1 },
    );
    expect(result).toBe('done');
    expect(calls).toBe(4);
    // random()=1 gives the top of each jitter band: base * 1.5, base capped at 250.
    expect(waits).toEqual([150, 300, 375]);
  });

  it('spreads delays over the jitter band', () => {
    expect(backoffDelayMs(policy, 1, () => 0)).toBe(50);
    expect(backoffDelayMs(policy, 1, () => 0.5)).toBe(100);
    expect(backoffDelayMs(policy, 5, () => 0)).toBe(125);
  });

  it('gives up after maxAttempts with the last error', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new SyncError('TRANSPORT_UNAVAILABLE', `down ${calls}`);
        },
        policy,
        { sleep: noSleep([]) },
      ),
    ).rejects.toThrow('down 4');
    expect(calls).toBe(4);
  });

  it('never retries programmer errors or non-retriable codes', async () => {
    let calls = 0;
    await expect(
      retry(async () => {
        calls++;
        throw new TypeError('x is undefined');
      }, policy),
    ).rejects.toThrow(TypeError);
    await expect(
      retry(async () => {
        calls++;
        throw new SyncError('SALESFORCE_REJECTED', 'bad email');
      }, policy),
    ).rejects.toMatchObject({ code: 'SALESFORCE_REJECTED' });
    expect(calls).toBe(2);
  });

  it('bail() stops at once even for a retriable error', async () => {
    let calls = 0;
    await expect(
      retry(async ({ bail }) => {
        calls++;
        return bail(new SyncError('UPSTREAM_UNAVAILABLE', 'permanent after all'));
      }, policy),
    ).rejects.toThrow('permanent after all');
    expect(calls).toBe(1);
  });

  it('waits at least the Retry-After the error carries', async () => {
    const waits: number[] = [];
    let calls = 0;
    await retry(
      async () => {
        if (calls++ === 0)
          throw new SyncError('RATE_LIMITED', 'slow down', { context: { retryAfterMs: 2000 } });
      },
      policy,
      { sleep: noSleep(waits), random: () => 0 },
    );
    expect(waits).toEqual([2000]);
  });
});
