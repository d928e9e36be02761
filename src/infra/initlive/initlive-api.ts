import type { SyncError } from '../../errors';
import type {
  NewStaff,
  Organization,
  Staff,
  StaffChange,
  StaffPatch,
  StaffStatus,
  WebhookRegistration,
} from './types';

/**
 * The port through which the connector talks to InitLive. Every InitLive detail (paths, field
 * names, headers, error codes) lives behind it, in this folder; callers see `Staff`,
 * `StaffChange` and `SyncError` codes only.
 *
 * Errors (always `SyncError`, branch on `code`):
 * - `RATE_LIMITED` / `UPSTREAM_UNAVAILABLE`: retriable; the adapter has already retried them
 *   per its policy before giving up.
 * - `POSITION_EXPIRED`: the feed position is gone; run a full sync.
 * - `STALE_VERSION`: an `ifMatch` did not match; re-read and reconcile.
 * - `INITLIVE_REJECTED`: InitLive refused the write (`context.initliveCode` says why, e.g.
 *   `duplicate_email`, `invalid_request`; `context.details` names the fields).
 * - `NOT_FOUND`, `AUTH_FAILED`, and `INVALID_INPUT` for a response that breaks the contract.
 */
export interface InitLiveApi {
  getOrganization(): Promise<Organization>;

  /**
   * Pages through all staff in stable id order, one array per page. Pages are fetched lazily
   * as the iterator advances; each page is retried on its own. `status` defaults to `all`.
   */
  listStaff(options?: ListStaffOptions): AsyncIterable<Staff[]>;

  /** One staff member; `NOT_FOUND` when it does not exist (deleted or never created). */
  getStaff(id: string): Promise<Staff>;

  /** Creates; `INITLIVE_REJECTED` with `initliveCode: 'duplicate_email'` if the email is taken. */
  createStaff(staff: NewStaff): Promise<Staff>;

  /**
   * Partial update: only the fields present are written. With `ifMatch`, InitLive applies it
   * only if the record is still at that version (`STALE_VERSION` otherwise). A patch that
   * changes nothing returns the record with its version unchanged.
   */
  updateStaff(id: string, patch: StaffPatch, options?: { ifMatch?: number }): Promise<Staff>;

  /** Deletes for good (archiving via `updateStaff` is the usual removal). */
  deleteStaff(id: string, options?: { ifMatch?: number }): Promise<void>;

  /**
   * Runs operations in order and returns one outcome per operation, in the same order. A
   * failed operation does not stop the others. Lists longer than one InitLive batch are split.
   * Not idempotent: if a batch is retried after a 5xx that InitLive had in fact applied, a
   * create may come back `duplicate_email` (or be duplicated when it has no email).
   */
  batch(operations: readonly BatchOperation[]): Promise<BatchOutcome[]>;

  /**
   * Reads the change feed after position `after` (0 = the oldest retained change). Resume
   * from `nextAfter`; `hasMore` says another page is ready now. `POSITION_EXPIRED` when
   * `after` is older than the retention window (or unknown to the feed).
   */
  readChanges(after: number, limit?: number): Promise<ChangesPage>;

  /** Asks InitLive to POST a signed `staff.changed` nudge to `url` on every change. */
  registerWebhook(url: string, secret: string): Promise<WebhookRegistration>;

  unregisterWebhook(id: string): Promise<void>;
}

export interface ListStaffOptions {
  status?: StaffStatus | 'all';
  /** Staff per page, 1..1000; default 500. */
  pageSize?: number;
}

export interface ChangesPage {
  changes: StaffChange[];
  nextAfter: number;
  hasMore: boolean;
}

export type BatchOperation =
  | { op: 'create'; staff: NewStaff }
  | { op: 'update'; id: string; patch: StaffPatch; ifMatch?: number }
  | { op: 'archive'; id: string; ifMatch?: number }
  | { op: 'delete'; id: string; ifMatch?: number };

/** `staff` is the record after the operation, or null for a delete. */
export type BatchOutcome = { ok: true; staff: Staff | null } | { ok: false; error: SyncError };
