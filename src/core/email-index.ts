/**
 * Email -> pair ids, per organization: how a record seen for the first time finds its partner
 * on the other side without an API call per record. Kept up to date by the reconciler from
 * every change and snapshot it applies. Emails are compared case-insensitively.
 *
 * Adapters: RedisEmailIndex and MemoryEmailIndex, held to one conformance suite.
 */
export interface EmailIndex {
  /** Pair ids currently indexed under this email (any case). */
  find(orgId: string, email: string): Promise<string[]>;
  /** Indexes the pair under each added email and removes it from each removed one. */
  update(orgId: string, pairId: string, change: { add: string[]; remove: string[] }): Promise<void>;
  close(): Promise<void>;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
