import { checkClaim, checkFire } from '../../batch/run-queue';
import type { FireQueued, QueuedRun, RunQueue } from '../../batch/run-queue';
import { SyncError } from '../../errors';

function before(a: QueuedRun, b: QueuedRun): number {
  if (a.dueAt !== b.dueAt) return a.dueAt - b.dueAt;
  return a.orgId < b.orgId ? -1 : a.orgId > b.orgId ? 1 : 0;
}

interface Claim {
  owner: string;
  dueAt: number;
  expiresAt: number;
}

/**
 * RunQueue in process memory; handles made with `sharedWith` see the same queue, as
 * processes sharing one Redis would; `now` lets tests run claims out without waiting.
 */
export class MemoryRunQueue implements RunQueue {
  private readonly entries: Map<string, number>;
  private readonly claims: Map<string, Claim>;
  /** Claimed fire slots, `<orgId> <dueAt>` -> when the claim is forgotten. */
  private readonly slots: Map<string, number>;
  private readonly now: () => number;
  private closed = false;

  constructor(options: { sharedWith?: MemoryRunQueue; now?: () => number } = {}) {
    this.entries = options.sharedWith?.entries ?? new Map();
    this.claims = options.sharedWith?.claims ?? new Map();
    this.slots = options.sharedWith?.slots ?? new Map();
    this.now = options.now ?? options.sharedWith?.now ?? Date.now;
  }

  private check(orgId?: string): void {
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'run queue is closed', { retriable: false });
    }
    if (orgId === '') throw new SyncError('INVALID_INPUT', 'orgId must be non-empty');
  }

  private ordered(): QueuedRun[] {
    return [...this.entries].map(([orgId, dueAt]) => ({ orgId, dueAt })).sort(before);
  }

  async enqueue(orgId: string, dueAt: number): Promise<boolean> {
    this.check(orgId);
    if (!Number.isSafeInteger(dueAt)) {
      throw new SyncError('INVALID_INPUT', 'dueAt must be an integer', { context: { dueAt } });
    }
    if (this.entries.has(orgId)) return false;
    this.entries.set(orgId, dueAt);
    return true;
  }

  async queueFire(orgId: string, dueAt: number, slotMs: number): Promise<FireQueued> {
    this.check(orgId);
    checkFire(dueAt, slotMs);
    const now = this.now();
    for (const [slot, until] of this.slots) if (until <= now) this.slots.delete(slot);
    const slot = `${orgId} ${dueAt}`;
    if (this.slots.has(slot)) return 'slot-taken';
    this.slots.set(slot, now + slotMs);
    return (await this.enqueue(orgId, dueAt)) ? 'queued' : 'already-queued';
  }

  async take(owner: string, leaseMs: number): Promise<QueuedRun | null> {
    this.check();
    checkClaim(owner, leaseMs);
    const now = this.now();
    for (const [orgId, claim] of this.claims) {
      if (claim.expiresAt > now) continue;
      this.claims.delete(orgId);
      if (!this.entries.has(orgId)) this.entries.set(orgId, claim.dueAt);
    }
    const first = this.ordered()[0] ?? null;
    if (first) {
      this.entries.delete(first.orgId);
      this.claims.set(first.orgId, { owner, dueAt: first.dueAt, expiresAt: now + leaseMs });
    }
    return first;
  }

  async settle(orgId: string, owner: string): Promise<boolean> {
    this.check(orgId);
    checkClaim(owner);
    if (this.claims.get(orgId)?.owner !== owner) return false;
    this.claims.delete(orgId);
    return true;
  }

  async position(orgId: string): Promise<number | null> {
    this.check(orgId);
    const i = this.ordered().findIndex((r) => r.orgId === orgId);
    return i < 0 ? null : i + 1;
  }

  async list(): Promise<QueuedRun[]> {
    this.check();
    return this.ordered();
  }

  async remove(orgId: string): Promise<boolean> {
    this.check(orgId);
    return this.entries.delete(orgId);
  }

  /** Closes this handle only; others sharing its data keep working. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
