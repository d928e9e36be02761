import type { ConsumedRecord } from '../core/transport';

/** One write record as consumed from the writes topic, kept while its organization is held. */
export interface ParkedRecord {
  key: string;
  /** The encoded record, base64. */
  value: string;
  topic: string;
  partition: number;
  offset: string;
  timestamp: number;
  headers: Record<string, string>;
}

/**
 * Where a sink keeps the writes of an organization that cannot take them (revoked grant,
 * package removed, API allocation used up), so the partitions they share with other
 * organizations commit and move on. One list per organization, in arrival order: `park`
 * appends, `peek` reads from the head, `drop` removes from the head what was written.
 *
 * A sink parks a batch's records before the batch commits, so a crash loses none of them; a
 * record parked twice (a crash between park and commit) is written twice, in order.
 *
 * Adapters: RedisParkedWriteStore and MemoryParkedWriteStore, held to one conformance suite
 * (test/conformance/parked-write-store.conformance.ts).
 */
export interface ParkedWriteStore {
  /** Appends records; resolves once they are durable. Returns the organization's count after. */
  park(orgId: string, records: readonly ParkedRecord[]): Promise<number>;
  /** Up to `max` records from the head, oldest first. */
  peek(orgId: string, max: number): Promise<ParkedRecord[]>;
  /**
   * Removes `count` records from the head, only if the list still starts with `head` (what the
   * caller peeked and wrote): two drains of one list never drop more than was written. Returns
   * how many are left.
   */
  drop(orgId: string, count: number, head: ParkedRecord): Promise<number>;
  count(orgId: string): Promise<number>;
  close(): Promise<void>;
}

export function toParked(record: ConsumedRecord): ParkedRecord {
  return {
    key: record.key,
    value: record.value.toString('base64'),
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    headers: record.headers,
  };
}

export function fromParked(parked: ParkedRecord): ConsumedRecord {
  return { ...parked, value: Buffer.from(parked.value, 'base64') };
}
