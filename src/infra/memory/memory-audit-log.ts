import type { AuditEntry, AuditLog } from '../../admin/audit-log';
import { compareEntryIds } from '../../admin/audit-log';
import { SyncError } from '../../errors';

/** AuditLog in process memory (embedded mode): the newest `maxEntries` per organization. */
export class MemoryAuditLog implements AuditLog {
  private readonly entries: Map<string, AuditEntry[]>;
  private readonly maxEntries: number;
  private last = { ms: 0, seq: 0 };
  private closed = false;

  constructor(options: { maxEntries?: number; sharedWith?: MemoryAuditLog } = {}) {
    this.entries = options.sharedWith?.entries ?? new Map();
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  private check(op: string): void {
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'audit log is closed', {
        retriable: false,
        context: { op },
      });
    }
  }

  async append(entry: Omit<AuditEntry, 'id'>): Promise<void> {
    this.check('append');
    const ms = Math.max(entry.at, this.last.ms);
    this.last = { ms, seq: ms === this.last.ms ? this.last.seq + 1 : 0 };
    const list = this.entries.get(entry.orgId) ?? [];
    list.push({ ...entry, id: `${ms}-${this.last.seq}` });
    if (list.length > this.maxEntries) list.splice(0, list.length - this.maxEntries);
    this.entries.set(entry.orgId, list);
  }

  async list(orgId: string, options: { limit: number; before?: string }): Promise<AuditEntry[]> {
    this.check('list');
    const { before } = options;
    return (this.entries.get(orgId) ?? [])
      .filter((e) => before === undefined || compareEntryIds(e.id, before) < 0)
      .slice(-options.limit)
      .reverse()
      .map((e) => structuredClone(e));
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
