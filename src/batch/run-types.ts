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
}

export interface RunCounts {
  /** Records read from each system. */
  read: PerSide;
  /** Creates decided for each system (write commands the reconciler produced). */
  created: PerSide;
  /** Updates (and delete-policy archives/deletes) decided for each system. */
  updated: PerSide;
  /** Snapshot records that changed nothing (already in sync, or older than what streaming saw). */
  unchanged: number;
  /** Fields both sides changed differently, settled by the default system. */
  conflicts: number;
  /** Records from each system that could not be reconciled (dead-lettered or refused). */
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
    progress: { phase: 'queued', read: zeroSides(), done: 0, total: null },
    counts: emptyCounts(),
  };
}

export function isFinished(status: RunStatus): boolean {
  return status === 'succeeded' || status === 'partially_succeeded' || status === 'failed';
}
