/**
 * Durable source positions: the InitLive change-feed sequence, the Salesforce CDC replay id.
 * A position is committed only after what was read up to it is safely on the topic, so a
 * restart resumes from there. Values are opaque strings to the store.
 *
 * Adapters: RedisPositionStore and MemoryPositionStore, held to one conformance suite
 * (test/conformance/position-store.conformance.ts).
 */
export interface PositionStore {
  /** The stored position, or null when none was ever set. */
  get(name: string): Promise<string | null>;
  /** Stores `value` unconditionally (last writer wins). */
  set(name: string, value: string): Promise<void>;
  /**
   * Atomically stores `value` when the stored position equals `expected` (null: none is
   * stored). Returns false and changes nothing otherwise, so two processes reading the same
   * source cannot move one cursor past each other unnoticed.
   */
  compareAndSet(name: string, expected: string | null, value: string): Promise<boolean>;
  /** Releases what the store owns; later calls reject. */
  close(): Promise<void>;
}

/**
 * Set (to its run id) by a full sync that met every record both systems held when it began, in
 * the store that holds the links it made. While it is missing (before an organization's first
 * full sync, or after the store lost its data) a Contact may exist that no link names yet, so
 * the Salesforce sink looks for one by email before it creates.
 */
export function linkedMarkerName(orgId: string): string {
  return `linked:${orgId}`;
}
