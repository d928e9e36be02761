import { SyncError } from '../errors';

/**
 * Which processes of a deployment are alive, by heartbeat: each member renews its entry in a
 * group every so often with a time to live, and drops out when it stops (a crash) or leaves
 * (a clean stop). It only steers work (SourceLease spreads organizations over the members);
 * it never decides who may run something, which stays with the Lock.
 *
 * Adapters: RedisMembership (src/infra/redis, one sorted set per group, expiries on the Redis
 * server's clock) and MemoryMembership (src/infra/memory), held to one conformance suite
 * (test/conformance/membership.conformance.ts).
 */
export interface Membership {
  /**
   * Records `member` as live in `group` until `ttlMs` from now, and returns the live members
   * of the group (itself included), sorted.
   */
  heartbeat(group: string, member: string, ttlMs: number): Promise<string[]>;
  /** The live members of `group`, sorted. */
  members(group: string): Promise<string[]>;
  /** Removes `member` from `group` now. Idempotent. */
  leave(group: string, member: string): Promise<void>;
  close(): Promise<void>;
}

/** The group of the processes that run organizations' sources. */
export const SOURCE_MEMBERS_GROUP = 'sources';

/** Refuses what every adapter refuses: empty names, a time to live that is not a positive integer. */
export function checkMembershipArgs(group: string, member?: string, ttlMs?: number): void {
  if (group === '' || member === '') {
    throw new SyncError('INVALID_INPUT', 'membership group and member must be non-empty');
  }
  if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)) {
    throw new SyncError('INVALID_INPUT', 'ttlMs must be a positive integer', {
      context: { ttlMs },
    });
  }
}
