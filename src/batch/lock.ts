/**
 * A named lock with a lease, held by one owner at a time across every process that shares
 * the backend. A holder that stops renewing (a crash) loses it when the lease runs out, so
 * another process can take over; a holder must treat a failed renew as "stop now".
 *
 * Adapters: RedisLock (src/infra/redis, Lua compare-and-renew / compare-and-delete) and
 * MemoryLock (src/infra/memory), held to one conformance suite (test/conformance/lock.conformance.ts).
 */
export interface Lock {
  /** Takes the lock for `leaseMs` when nobody holds it (or the lease ran out). */
  tryAcquire(name: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Extends the lease to `leaseMs` from now, only while `owner` still holds it. */
  renew(name: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Releases the lock when `owner` holds it; false (nothing changed) otherwise. */
  release(name: string, owner: string): Promise<boolean>;
  /** The current holder, or null. */
  holder(name: string): Promise<string | null>;
  close(): Promise<void>;
}

/** The lock that keeps one full sync per organization. */
export function syncLockName(orgId: string): string {
  return `sync:${orgId}`;
}

/**
 * The lease that keeps an organization's streaming sources (InitLive feed poller and webhooks,
 * Salesforce CDC subscription) in one process at a time.
 */
export function sourceLockName(orgId: string): string {
  return `source:${orgId}`;
}
