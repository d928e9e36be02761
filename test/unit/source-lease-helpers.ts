import type { Lock } from '../../src/batch/lock';
import { SyncError } from '../../src/errors';
import type { Membership } from '../../src/pipeline/membership';

/** Test helpers shared by the source-lease unit tests. */

/** A Lock handle whose calls can be made to fail (Redis down) or to never answer (frozen). */
export class ControllableLock implements Lock {
  mode: 'ok' | 'fail' | 'freeze' = 'ok';
  /** Each release: when it was asked for, and when the lock had let go (`done`). */
  releases: Array<{ name: string; at: number; done?: number }> = [];
  /** Every tryAcquire that got an answer, in order, with what it got. */
  acquires: Array<{ name: string; at: number; got: boolean }> = [];
  private frozen: Array<() => void> = [];

  constructor(private readonly inner: Lock) {}

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.mode === 'fail') {
      throw new SyncError('STORE_UNAVAILABLE', 'injected: lock unavailable', { retriable: true });
    }
    if (this.mode === 'freeze') {
      // Answered only when thawed, and then with what the lock says at that time.
      await new Promise<void>((resolve) => this.frozen.push(resolve));
    }
    return fn();
  }

  thaw(): void {
    this.mode = 'ok';
    for (const resume of this.frozen.splice(0)) resume();
  }

  async tryAcquire(name: string, owner: string, leaseMs: number): Promise<boolean> {
    const at = Date.now();
    const got = await this.call(() => this.inner.tryAcquire(name, owner, leaseMs));
    this.acquires.push({ name, at, got });
    return got;
  }
  renew(name: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.call(() => this.inner.renew(name, owner, leaseMs));
  }
  async release(name: string, owner: string): Promise<boolean> {
    const entry: { name: string; at: number; done?: number } = { name, at: Date.now() };
    this.releases.push(entry);
    const released = await this.call(() => this.inner.release(name, owner));
    entry.done = Date.now();
    return released;
  }
  holder(name: string): Promise<string | null> {
    return this.call(() => this.inner.holder(name));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A Membership handle whose calls can be made to never answer (a process cut off or killed). */
export class ControllableMembership implements Membership {
  frozen = false;
  private waiting: Array<() => void> = [];

  constructor(private readonly inner: Membership) {}

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.frozen) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return fn();
  }

  thaw(): void {
    this.frozen = false;
    for (const resume of this.waiting.splice(0)) resume();
  }

  heartbeat(group: string, member: string, ttlMs: number): Promise<string[]> {
    return this.call(() => this.inner.heartbeat(group, member, ttlMs));
  }
  members(group: string): Promise<string[]> {
    return this.call(() => this.inner.members(group));
  }
  leave(group: string, member: string): Promise<void> {
    return this.call(() => this.inner.leave(group, member));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
