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

/** Partition -> an offset of the sink's topic, as decimal strings are kept. */
export type PartitionOffsets = Array<[partition: number, offset: string]>;

/** Partitions of the sink's topic read again, each from one offset through another (inclusive). */
export type PartitionRanges = Array<[partition: number, from: string, through: string]>;

/** What a park or a restore did to an organization's list. */
export interface ParkResult {
  /** Records in the list after the call. */
  count: number;
  /**
   * Names the list in this store: made by the first park and kept while the store keeps its
   * data, so a store that lost its data answers with another one.
   */
  generation: string;
  /**
   * For each partition of the records handed in, the first offset parked from it since the
   * list was last settled (its mark): a store that loses the list can have it read again from
   * the topic from there.
   */
  marks: PartitionOffsets;
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
 * Beside each list the store keeps its generation and, per partition, the first offset parked
 * since the list was last empty (the marks, which the sink copies outside the store: the state
 * witness). When the store comes back empty, the sink reads the topic again from the copied
 * marks and `restore`s the list; a restore also remembers, per partition, the offset it read
 * through, and `park` skips records at or below it (they were read again already).
 *
 * Adapters: RedisParkedWriteStore and MemoryParkedWriteStore, held to one conformance suite
 * (test/conformance/parked-write-store.conformance.ts).
 */
export interface ParkedWriteStore {
  /** Appends records; resolves once they are durable. */
  park(orgId: string, records: readonly ParkedRecord[]): Promise<ParkResult>;
  /** Up to `max` records from the head, oldest first. */
  peek(orgId: string, max: number): Promise<ParkedRecord[]>;
  /**
   * Removes `count` records from the head, only if the list still starts with `head` (what the
   * caller peeked and wrote): two drains of one list never drop more than was written. Returns
   * how many are left.
   */
  drop(orgId: string, count: number, head: ParkedRecord): Promise<number>;
  count(orgId: string): Promise<number>;
  /** The list's generation (null: nothing was ever parked in this store) and all its marks. */
  marks(orgId: string): Promise<{ generation: string | null; marks: PartitionOffsets }>;
  /**
   * Once the list is empty, forgets the given marks (each only if still at that offset: a park
   * since set another). False, and nothing forgotten, when the list is not empty.
   */
  settle(orgId: string, marks: PartitionOffsets): Promise<boolean>;
  /**
   * Puts records read again from the topic, in their order, ahead of the list, in one step:
   * the records the list holds from the partitions read, within the ranges read (the same
   * records, parked since), are dropped; the rest stay behind in their order. Each partition's
   * mark goes down to its first record read again, and the offset it was read through is
   * remembered. Idempotent: a second restore of the same reading (another process) leaves the
   * same list.
   */
  restore(
    orgId: string,
    records: readonly ParkedRecord[],
    read: PartitionRanges,
  ): Promise<ParkResult>;
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
