/**
 * A token bucket per integration key: `burst` requests at once, refilled at `perSecond`.
 * An empty bucket answers with how many whole seconds until one token is back, which is
 * what the API sends as `Retry-After`.
 */
export interface RateLimitOptions {
  perSecond: number;
  /** Bucket size; defaults to twice `perSecond`. */
  burst?: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class KeyRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly burst: number;

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number = () => Date.now(),
  ) {
    if (!(options.perSecond > 0)) throw new Error('rateLimit.perSecond must be > 0');
    this.burst = options.burst ?? options.perSecond * 2;
    if (!(this.burst >= 1)) throw new Error('rateLimit.burst must be >= 1');
  }

  /** Takes one token for `key`; when none is left, says how long to wait (>= 1 s). */
  take(key: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, updatedMs: now };
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + (Math.max(0, now - bucket.updatedMs) / 1000) * this.options.perSecond,
    );
    bucket.updatedMs = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    const seconds = (1 - bucket.tokens) / this.options.perSecond;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(seconds)) };
  }
}
