/**
 * The admin action audit log (issue 17): who changed what, when, through which request. It is
 * about people's actions, never records' data (the record status history is apart), and holds
 * no credential: a token appears by name and id.
 *
 * Adapters: MemoryAuditLog (embedded mode) and RedisAuditLog (a stream per organization,
 * shared by every process, surviving restarts), held to one conformance suite
 * (test/conformance/audit-log.conformance.ts).
 */

export interface AuditActor {
  kind: 'admin' | 'org' | 'oauth';
  /** The token's name (`root` for ADMIN_TOKEN; `oauth-callback` for a completed callback). */
  name: string;
  tokenId: string | null;
}

export interface AuditChange {
  field: string;
  before: unknown;
  after: unknown;
}

export interface AuditEntry {
  /** Assigned by the log: ordered, newest greatest; pass as `before` to page. */
  id: string;
  at: number;
  orgId: string;
  action: string;
  actor: AuditActor;
  /** The answer's HTTP status. */
  status: number;
  outcome: 'succeeded' | 'refused' | 'failed';
  requestId: string;
  /** Settings changes, field by field. */
  changes?: AuditChange[];
  /** What else names the action's object (a token's id, name and role). */
  detail?: Record<string, string>;
}

export interface AuditLog {
  append(entry: Omit<AuditEntry, 'id'>): Promise<void>;
  /** Newest first; `before` an entry id to page on. */
  list(orgId: string, options: { limit: number; before?: string }): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

/** Orders entry ids `<ms>-<seq>` (the form Redis stream ids take). */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}

export const ENTRY_ID = /^\d{1,15}-\d{1,10}$/;
