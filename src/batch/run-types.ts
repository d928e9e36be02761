/**
 * The shapes of full-sync runs, as the run stores keep them and the admin API shows them
 * (src/admin/ports.ts re-exports these).
 */

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'partially_succeeded' | 'failed';
export type RunTrigger = 'manual' | 'scheduled' | 'recovery';

export interface PerSide {
  initlive: number;
  salesforce: number;
}

export interface RunProgress {
  /** Where the run is: queued, reading-initlive, reading-salesforce, finding-missing, settling, done. */
  phase: string;
  read: PerSide;
  /** Records read so far, both sides together. */
  done: number;
  /** Records to read in all, once both sides' sizes are known; null before. */
  total: number | null;
  /**
   * While settling: what has not landed yet. `decisions`: records the reconciler has not decided;
   * `initlive` / `salesforce`: decided writes to that system without an outcome. Null otherwise.
   */
  outstanding?: { decisions: number; initlive: number; salesforce: number } | null;
}

/**
 * A run's counts. Every write count is an outcome in the system written, reported by the sink
 * that wrote it (whichever process that was), not a decision.
 */
export interface RunCounts {
  /** Records read from each system. */
  read: PerSide;
  /** Records created in each system. */
  created: PerSide;
  /** Records updated in each system (archives and restores included). */
  updated: PerSide;
  /** Records deleted in each system (the delete policy `propagate`). */
  deleted: PerSide;
  /**
   * Of the writes to each system, those that repaired drift: the run read a record at the
   * version the connector knew, with other values (a change without an event, a restore, a
   * reinstalled package that wiped our fields), and wrote it right.
   */
  repaired: PerSide;
  /** Records the reconciler found nothing to write for (already in sync, or stale). */
  unchanged: number;
  /** Fields both sides changed differently, settled by the default system. */
  conflicts: number;
  /**
   * Records that did not land in each system: refused by it (dead-lettered), or refused before
   * a call because it would refuse them. Counted on the side that did not get the record.
   */
  failed: PerSide;
}

export interface RunRecord {
  runId: string;
  orgId: string;
  status: RunStatus;
  trigger: RunTrigger;
  reason: string | null;
  /** Epoch ms; null while queued. */
  startedAt: number | null;
  endedAt: number | null;
  progress: RunProgress;
  counts: RunCounts;
  error?: string;
}

/** Starts full syncs; implemented by SyncRunner. */
export interface SyncTrigger {
  /**
   * Starts a run for `orgId` unless one is running anywhere (then `conflict` names it).
   * Resolves as soon as the run is queued; it proceeds in the background.
   */
  requestRun(
    orgId: string,
    trigger: RunTrigger,
    reason?: string,
  ): Promise<{ runId: string } | { conflict: string }>;
}

/** Reads run history; implemented by the RunStore adapters. */
export interface RunHistory {
  /** Newest first; `limit` defaults to 20. */
  list(orgId: string, limit?: number): Promise<RunRecord[]>;
  get(orgId: string, runId: string): Promise<RunRecord | null>;
}

export function zeroSides(): PerSide {
  return { initlive: 0, salesforce: 0 };
}

export function emptyCounts(): RunCounts {
  return {
    read: zeroSides(),
    created: zeroSides(),
    updated: zeroSides(),
    deleted: zeroSides(),
    repaired: zeroSides(),
    unchanged: 0,
    conflicts: 0,
    failed: zeroSides(),
  };
}

/** A run as it is first recorded, before it starts. */
export function queuedRun(
  orgId: string,
  runId: string,
  trigger: RunTrigger,
  reason: string | null,
): RunRecord {
  return {
    runId,
    orgId,
    status: 'queued',
    trigger,
    reason,
    startedAt: null,
    endedAt: null,
    progress: { phase: 'queued', read: zeroSides(), done: 0, total: null, outstanding: null },
    counts: emptyCounts(),
  };
}

export function isFinished(status: RunStatus): boolean {
  return status === 'succeeded' || status === 'partially_succeeded' || status === 'failed';
}
