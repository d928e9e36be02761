import type { QueuedRun, RunQueue } from '../../batch/run-queue';
import { SyncError } from '../../errors';

function before(a: QueuedRun, b: QueuedRun): number {
  if (a.dueAt !== b.dueAt) return a.dueAt - b.dueAt;
  return a.orgId < b.orgId ? -1 : a.orgId > b.orgId ? 1 : 0;
}

/** RunQueue in process memory; handles made with `sharedWith` see the same queue. */
export class MemoryRunQueue implements RunQueue {
  private readonly entries: Map<string, number>;
  private closed = false;

  constructor(options: { sharedWith?: MemoryRunQueue } = {}) {
    this.entries = options.sharedWith?.entries ?? new Map();
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

  async take(): Promise<QueuedRun | null> {
    this.check();
    const first = this.ordered()[0] ?? null;
    if (first) this.entries.delete(first.orgId);
    return first;
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
