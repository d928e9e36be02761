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
  /**
   * Atomically adds the pair under the email and returns the pairs that were there before,
   * so two processes meeting the same new person from both sides at once agree on one pair.
   */
  claim(orgId: string, email: string, pairId: string): Promise<string[]>;
  /** Indexes the pair under each added email and removes it from each removed one. */
  update(orgId: string, pairId: string, change: { add: string[]; remove: string[] }): Promise<void>;
  close(): Promise<void>;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
