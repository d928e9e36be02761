import type { PartitionOffsets } from './parked-writes';

/** Where one sink's parked writes of an organization start in one partition of its topic. */
export interface ParkMark {
  orgId: string;
  /** The list's generation in the store when it was marked (ParkResult.generation). */
  generation: string;
  partition: number;
  offset: string;
}

/**
 * A copy, outside the parked-write store, of where each organization's parked writes start
 * in the sink's topic (the store's marks): while it is kept, a store that comes back empty
 * loses no parked write, because the sink reads them again from the topic. The real adapter
 * is the state witness (a compacted Kafka topic, src/pipeline/state-witness.ts), over either
 * transport.
 *
 * Unlike the witness's other writes, these reject when they were not recorded: a batch whose
 * records were parked must not commit before their marks are kept.
 */
export interface ParkMarks {
  mark(sink: string, orgId: string, generation: string, marks: PartitionOffsets): Promise<void>;
  /** Forgets marks of a generation (its records were written). */
  clear(
    sink: string,
    orgId: string,
    generation: string,
    partitions: readonly number[],
  ): Promise<void>;
  /** Every mark kept for the sink. */
  marksOf(sink: string): Promise<ParkMark[]>;
}
