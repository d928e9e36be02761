import { SyncError, isSyncError } from './errors';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Growth per attempt. */
  factor: number;
  /** 0..1: share of each delay that is randomised, so a herd of clients spreads out. */
  jitter: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 8,
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.5,
};

/** Fast settings for tests: same shape, millisecond delays. */
export const fastRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  initialDelayMs: 1,
  maxDelayMs: 20,
  factor: 2,
  jitter: 0.5,
};

export interface RetryContext {
  attempt: number;
  /** Stops retrying: the error is rethrown as is. */
  bail: (err: unknown) => never;
}

export interface RetryOptions {
  /** Called before each wait; an error with `retryAfterMs` in its context sets the wait. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

class BailSignal {
  constructor(readonly error: unknown) {}
}

export function backoffDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (attempt - 1));
  const spread = base * policy.jitter;
  return Math.max(0, Math.round(base - spread + random() * spread * 2));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` until it succeeds, with exponential backoff and jitter.
 *
 * Retries only errors that say they are retriable (SyncError.retriable); anything else,
 * including programmer errors (TypeError and friends), is rethrown at once. `bail(err)` ends
 * the loop from inside `fn` for a permanent failure. A retriable error whose context carries
 * `retryAfterMs` (from a 429 Retry-After) waits at least that long.
 */
export async function retry<T>(
  fn: (ctx: RetryContext) => Promise<T>,
  policy: RetryPolicy = defaultRetryPolicy,
  options: RetryOptions = {},
): Promise<T> {
  const random = options.random ?? Math.random;
  const wait = options.sleep ?? sleep;
  const bail = (err: unknown): never => {
    throw new BailSignal(err);
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn({ attempt, bail });
    } catch (err) {
      if (err instanceof BailSignal) throw err.error;
      const retriable = isSyncError(err) && err.retriable;
      if (!retriable || attempt >= policy.maxAttempts || options.signal?.aborted) throw err;
      const hinted = isSyncError(err) ? Number(err.context.retryAfterMs ?? 0) : 0;
      const delayMs = Math.max(
        backoffDelayMs(policy, attempt, random),
        Number.isFinite(hinted) ? hinted : 0,
      );
      options.onRetry?.(err, attempt, delayMs);
      await wait(delayMs, options.signal);
    }
  }
}

/** Wraps a non-SyncError failure of an I/O call as retriable with the given code. */
export function retriableAs(
  code:
    | 'UPSTREAM_UNAVAILABLE'
    | 'TRANSPORT_UNAVAILABLE'
    | 'STORE_UNAVAILABLE'
    | 'SCHEMA_REGISTRY_UNAVAILABLE',
  err: unknown,
): SyncError {
  if (isSyncError(err)) return err;
  return new SyncError(code, err instanceof Error ? err.message : String(err), {
    cause: err,
    retriable: true,
  });
}
