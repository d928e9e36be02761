/**
 * What the pipeline asks of whoever watches an organization's Contact fields for drift (a
 * mapped field deleted, or changed to a type that no longer holds its values): which fields are
 * held back right now, and a fresh look when a write or an event suggests the fields changed.
 * src/orgs/contact-fields.ts implements it; without one, nothing is ever held.
 */
export interface ContactFieldWatch {
  /** Lower-cased Salesforce fields held back for this organization; null when none (usual). */
  held(orgId: string): ReadonlySet<string> | null;
  /**
   * Reads Contact's describe again, unless one started at or after `since` (a
   * `performance.now()` reading; default now) is done or under way, applies what it shows (holds or releases fields), and resolves with the
   * fields held then.
   */
  recheck(orgId: string, reason: string, since?: number): Promise<ReadonlySet<string>>;
  /** Whether this organization's change events are worth checking for fields (see noticeFields). */
  watching(orgId: string): boolean;
  /**
   * Told the Salesforce fields a change event names: one the last describe did not list, or a
   * held one, leads to a recheck (at most one every few seconds per organization).
   */
  noticeFields(orgId: string, fields: readonly string[]): void;
}
