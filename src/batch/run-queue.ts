import { SyncError } from '../errors';

/** A scheduled run waiting for a free slot. */
export interface QueuedRun {
  orgId: string;
  /** The schedule instant it was due at (epoch ms). */
  dueAt: number;
}

/** What became of a schedule's fire: see `RunQueue.queueFire`. */
export type FireQueued = 'queued' | 'slot-taken' | 'already-queued';

/**
 * Scheduled runs waiting to start, shared by every process that shares the backend, so a run
 * queued by a process that then dies is started by another. Order: earliest `dueAt` first,
 * ties by `orgId` (the order a Redis sorted set keeps for equal scores). An org is queued at
 * most once. A taken run is claimed by its starter until `settle`; a claim whose lease runs
 * out (the starter died before the run was recorded) goes back in its place at the next take.
 *
 * Adapters: RedisRunQueue (src/infra/redis, a sorted set and a hash of claims) and MemoryRunQueue
 * (src/infra/memory), held to one conformance suite (test/conformance/run-queue.conformance.ts).
 */
export interface RunQueue {
  /** Queues `orgId`; false (nothing changed, its first `dueAt` kept) when it is queued already. */
  enqueue(orgId: string, dueAt: number): Promise<boolean>;
  /**
   * Claims the fire slot (`orgId`, `dueAt`) for `slotMs` and queues the run, in one step:
   * 'slot-taken' when any caller claimed that slot before (so its run is queued or taken
   * already: every process firing the same schedule gets one run), 'already-queued' when the
   * org still waits from an earlier slot, else 'queued'.
   */
  queueFire(orgId: string, dueAt: number, slotMs: number): Promise<FireQueued>;
  /**
   * Removes and returns the first run, claimed by `owner` for `leaseMs`, atomically: two takers
   * never get the same one. Expired claims are put back first.
   */
  take(owner: string, leaseMs: number): Promise<QueuedRun | null>;
  /** Ends `owner`'s claim on `orgId` (its run was recorded, or dropped); false when not held. */
  settle(orgId: string, owner: string): Promise<boolean>;
  /** 1-based place of `orgId` in the queue, or null when it is not queued. */
  position(orgId: string): Promise<number | null>;
  /** The queue in start order. */
  list(): Promise<QueuedRun[]>;
  /** Drops `orgId` (disconnect); false when it was not queued. */
  remove(orgId: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Refuses an empty claim owner, and a lease that is not a positive integer (both adapters). */
export function checkClaim(owner: string, leaseMs?: number): void {
  if (owner === '') throw new SyncError('INVALID_INPUT', 'owner must be non-empty');
  if (leaseMs !== undefined && (!Number.isSafeInteger(leaseMs) || leaseMs <= 0)) {
    throw new SyncError('INVALID_INPUT', 'leaseMs must be a positive integer', {
      context: { leaseMs },
    });
  }
}

/** Refuses a due instant that is not an integer, and a slot time that is not positive (both adapters). */
export function checkFire(dueAt: number, slotMs: number): void {
  if (!Number.isSafeInteger(dueAt)) {
    throw new SyncError('INVALID_INPUT', 'dueAt must be an integer', { context: { dueAt } });
  }
  if (!Number.isSafeInteger(slotMs) || slotMs <= 0) {
    throw new SyncError('INVALID_INPUT', 'slotMs must be a positive integer', {
      context: { slotMs },
    });
  }
}
