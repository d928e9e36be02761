import { HISTORY_LIMIT, mergeStatus } from '../../core/record-status';
import type { StatusChange, StatusKey } from '../../core/record-status';
import { assertKeyParts } from '../../core/version-store';
import { SyncError } from '../../errors';
import type {
  RecordStatus,
  RecordStatusLimits,
  RecordStatusStore,
} from '../../outcomes/record-status-store';
import { DEFAULT_STATUS_TTL_MS, statusKeySuffix } from '../../outcomes/record-status-store';

interface Entry extends RecordStatus {
  expiresAt: number;
}

/**
 * RecordStatusStore in process memory, for the embedded mode and unit tests. Expired records are
 * dropped when read and swept as new ones come in, so a long-running process stays bounded.
 */
export class MemoryRecordStatusStore implements RecordStatusStore {
  private readonly records: Map<string, Entry>;
  private readonly historyLimit: number;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private closed = false;
  private writesSinceSweep = 0;

  constructor(
    options: RecordStatusLimits & { now?: () => number; sharedWith?: MemoryRecordStatusStore } = {},
  ) {
    this.records = options.sharedWith?.records ?? new Map();
    this.historyLimit = options.historyLimit ?? HISTORY_LIMIT;
    this.ttlMs = options.ttlMs ?? DEFAULT_STATUS_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  private check(orgId: string): void {
    assertKeyParts({ orgId });
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'record status store is closed', {
        retriable: false,
      });
    }
  }

  async apply(orgId: string, changes: readonly StatusChange[]): Promise<void> {
    this.check(orgId);
    const now = this.now();
    for (const change of changes) {
      const key = `${orgId}/${statusKeySuffix(change.key)}`;
      const old = this.live(key, now);
      const history = [...[...change.history].reverse(), ...(old?.history ?? [])].slice(
        0,
        this.historyLimit,
      );
      this.records.set(key, {
        fields: mergeStatus(old?.fields ?? {}, change.set),
        history,
        expiresAt: now + this.ttlMs,
      });
    }
    this.writesSinceSweep += changes.length;
    if (this.writesSinceSweep > 10_000) this.sweep(now);
  }

  async get(orgId: string, key: StatusKey): Promise<RecordStatus | null> {
    this.check(orgId);
    const entry = this.live(`${orgId}/${statusKeySuffix(key)}`, this.now());
    return entry ? structuredClone({ fields: entry.fields, history: entry.history }) : null;
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.records.get(key);
    if (entry && entry.expiresAt <= now) {
      this.records.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(now: number): void {
    this.writesSinceSweep = 0;
    for (const [key, entry] of this.records) if (entry.expiresAt <= now) this.records.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
