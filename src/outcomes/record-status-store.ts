import type { HistoryEntry, StatusChange, StatusFields, StatusKey } from '../core/record-status';

/** A record's status and its history, newest first. */
export interface RecordStatus {
  fields: StatusFields;
  history: HistoryEntry[];
}

/**
 * Where each volunteer's sync status lives: per pair (or per record that never joined one),
 * the status fields outcomes set (src/core/record-status.ts) and a capped history. Written by
 * the OutcomeTracker, read by the admin API's record endpoint, shared by every process.
 *
 * Bounded: history keeps the newest `historyLimit` entries per record, and a record's status
 * and history expire `ttlMs` after their last change (the pair itself lives on in the version
 * store; an expired status reads as no news).
 *
 * Adapters: RedisRecordStatusStore and MemoryRecordStatusStore, held to one conformance suite
 * (test/conformance/record-status-store.conformance.ts).
 */
export interface RecordStatusStore {
  /** Applies changes of one organization in order: fields merged, history entries pushed. */
  apply(orgId: string, changes: readonly StatusChange[]): Promise<void>;
  /** The record's status and history, or null when nothing is known of it. */
  get(orgId: string, key: StatusKey): Promise<RecordStatus | null>;
  close(): Promise<void>;
}

export interface RecordStatusLimits {
  /** History entries kept per record. Default 20. */
  historyLimit?: number;
  /** How long a record's status and history outlive their last change. Default 30 days. */
  ttlMs?: number;
}

export const DEFAULT_STATUS_TTL_MS = 30 * 24 * 3_600_000;

/** The key suffix of a record's status: `p:<pairId>`, or `i:`/`s:` and the record id. */
export function statusKeySuffix(key: StatusKey): string {
  if ('pairId' in key) return `p:${key.pairId}`;
  return `${key.side === 'initlive' ? 'i' : 's'}:${key.recordId}`;
}
