import type { Lock } from '../../batch/lock';
import { SyncError } from '../../errors';

interface Held {
  owner: string;
  expiresAt: number;
}

function checkArgs(name: string, owner: string, leaseMs?: number): void {
  if (name === '' || owner === '') {
    throw new SyncError('INVALID_INPUT', 'lock name and owner must be non-empty');
  }
  if (leaseMs !== undefined && (!Number.isSafeInteger(leaseMs) || leaseMs <= 0)) {
    throw new SyncError('INVALID_INPUT', 'leaseMs must be a positive integer', {
      context: { leaseMs },
    });
  }
}

/**
 * Lock in process memory. Handles made with `sharedWith` see the same locks, as processes
 * sharing one Redis would; `now` lets tests run leases out without waiting.
 */
export class MemoryLock implements Lock {
  private readonly locks: Map<string, Held>;
  private readonly now: () => number;
  private closed = false;

  constructor(options: { sharedWith?: MemoryLock; now?: () => number } = {}) {
    this.locks = options.sharedWith?.locks ?? new Map();
    this.now = options.now ?? options.sharedWith?.now ?? Date.now;
  }

  private live(name: string): Held | null {
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'lock is closed', { retriable: false });
    }
    const held = this.locks.get(name);
    if (!held) return null;
    if (held.expiresAt <= this.now()) {
      this.locks.delete(name);
      return null;
    }
    return held;
  }

  async tryAcquire(name: string, owner: string, leaseMs: number): Promise<boolean> {
    checkArgs(name, owner, leaseMs);
    if (this.live(name)) return false;
    this.locks.set(name, { owner, expiresAt: this.now() + leaseMs });
    return true;
  }

  async renew(name: string, owner: string, leaseMs: number): Promise<boolean> {
    checkArgs(name, owner, leaseMs);
    const held = this.live(name);
    if (held?.owner !== owner) return false;
    held.expiresAt = this.now() + leaseMs;
    return true;
  }

  async release(name: string, owner: string): Promise<boolean> {
    checkArgs(name, owner);
    if (this.live(name)?.owner !== owner) return false;
    this.locks.delete(name);
    return true;
  }

  async holder(name: string): Promise<string | null> {
    return this.live(name)?.owner ?? null;
  }

  /** Closes this handle only; others sharing its data keep working. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
