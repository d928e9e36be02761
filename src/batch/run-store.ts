import type { RunTally } from '../core/outcomes';
import type { Side } from '../core/pair-state';
import type { RunHistory, RunRecord } from './run-types';

/** One outcome as a run's tally takes it: its id and what it adds (src/core/outcomes.ts). */
export interface TallyEntry {
  id: string;
  increments: ReadonlyArray<[string, number]>;
}

/**
 * Where full-sync runs are kept: the public run record (history and progress), the job's
 * private checkpoint, and the ids each run has read per side (to find records missing on one
 * side without holding every id in the process).
 *
 * Adapters: RedisRunStore (src/infra/redis) and MemoryRunStore (src/infra/memory), held to one
 * conformance suite (test/conformance/run-store.conformance.ts).
 */
export interface RunStore extends RunHistory {
  /** Stores the run record whole (last writer wins; only the lock holder writes a run). */
  save(record: RunRecord): Promise<void>;
  /** The checkpoint last saved for the run, or null. Opaque JSON to the store. */
  loadCheckpoint(orgId: string, runId: string): Promise<unknown>;
  saveCheckpoint(orgId: string, runId: string, checkpoint: unknown): Promise<void>;
  /** Remembers that the run read these record ids on `side`. Idempotent. */
  markSeen(orgId: string, runId: string, side: Side, ids: readonly string[]): Promise<void>;
  /** Of `ids`, those the run has not read on `side`, in the given order. */
  unseen(orgId: string, runId: string, side: Side, ids: readonly string[]): Promise<string[]>;
  /**
   * Adds key -> value entries to one of the run's maps. A key given two different values
   * (now or earlier) becomes ambiguous and looks up as null from then on. Idempotent.
   */
  putUnique(
    orgId: string,
    runId: string,
    map: RunMap,
    entries: ReadonlyArray<readonly [string, string]>,
  ): Promise<void>;
  /** The value of each key, in order; null when absent or ambiguous. */
  lookup(
    orgId: string,
    runId: string,
    map: RunMap,
    keys: readonly string[],
  ): Promise<Array<string | null>>;
  /**
   * Adds outcomes to the run's tally, each id once however often it is given (outcomes are
   * read at least once, and a redelivered decision or write keeps its id). Atomic per call.
   */
  addOutcomes(orgId: string, runId: string, entries: readonly TallyEntry[]): Promise<void>;
  /** The run's tally: every process sees the same counters, whichever counted them. */
  tally(orgId: string, runId: string): Promise<RunTally>;
  /** Drops the run's seen ids, maps, checkpoint and tally (the record stays in history). */
  forgetWork(orgId: string, runId: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The run's lookup maps: InitLive emails -> staff id (first pass), and staff id -> the
 * Contact matched to it by email (second pass).
 */
export type RunMap = 'initlive-email' | 'staff-contact';
export const runMaps: readonly RunMap[] = ['initlive-email', 'staff-contact'];

/** Runs kept per organization; older ones are dropped from history. */
export const RUN_HISTORY_LIMIT = 200;
