import type { Outstanding } from '../core/outcomes';
import { recoveryRunId } from '../core/recovery';
import type { SyncRunEvent } from '../core/records';
import type { PerSide, RunRecord, RunStatus } from './run-types';
import { ErrorCodes } from '../errors';
import type { ErrorCode, SyncError } from '../errors';

/** What a run's progress is computed from (its checkpoint). */
export interface ProgressSource {
  phase: string;
  read: PerSide;
  /** Staff indexed and Contacts counted: the run's size, once known. */
  sizes: { initlive: number; salesforce: number | null };
}

/** How far a run is, as its record shows it, from its checkpoint (and what it waits for). */
export function progressOf(
  phase: string,
  cp: ProgressSource,
  outstanding: Outstanding | null = null,
): RunRecord['progress'] {
  const { sizes } = cp;
  return {
    phase,
    read: { ...cp.read },
    done: cp.read.initlive + cp.read.salesforce,
    total:
      sizes.salesforce === null || cp.phase === 'indexing-initlive'
        ? null
        : Math.max(sizes.initlive + sizes.salesforce, cp.read.initlive + cp.read.salesforce),
    outstanding: outstanding ? { decisions: outstanding.decisions, ...outstanding.writes } : null,
  };
}

const upper = { manual: 'MANUAL', scheduled: 'SCHEDULED', recovery: 'RECOVERY' } as const;

/** The syncRuns topic's event for a run at this point. */
export function runEventOf(
  record: RunRecord,
  kind: SyncRunEvent['kind'],
  at: number,
): SyncRunEvent {
  const c = record.counts;
  return {
    orgId: record.orgId,
    runId: record.runId,
    kind,
    trigger: upper[record.trigger],
    reason: record.reason,
    at,
    counts: {
      readInitlive: c.read.initlive,
      readSalesforce: c.read.salesforce,
      createdInitlive: c.created.initlive,
      createdSalesforce: c.created.salesforce,
      updatedInitlive: c.updated.initlive,
      updatedSalesforce: c.updated.salesforce,
      deletedInitlive: c.deleted.initlive,
      deletedSalesforce: c.deleted.salesforce,
      repairedInitlive: c.repaired.initlive,
      repairedSalesforce: c.repaired.salesforce,
      unchanged: c.unchanged,
      conflicts: c.conflicts,
      failedInitlive: c.failed.initlive,
      failedSalesforce: c.failed.salesforce,
    },
  };
}

export function kindOf(status: RunStatus): SyncRunEvent['kind'] {
  return status === 'succeeded'
    ? 'SUCCEEDED'
    : status === 'partially_succeeded'
      ? 'PARTIALLY_SUCCEEDED'
      : 'FAILED';
}

const OUTSTANDING = "the run's work stopped landing";

/** A failed run's error as its record keeps it: `CODE: message`. */
export function runErrorText(e: SyncError): string {
  return `${e.code}: ${e.message}`;
}

/**
 * Whether a failed run's error is one another try may not meet: a retriable code (runErrorText:
 * a rate limit, the API allocation, an outage) or work that stopped landing behind a hold
 * (describeOutstanding).
 */
export function failedForPassingReason(error: string | undefined): boolean {
  if (!error) return false;
  if (error.startsWith(OUTSTANDING)) return true;
  const code = /^([A-Z_]+): /.exec(error)?.[1];
  return code !== undefined && code in ErrorCodes && ErrorCodes[code as ErrorCode].retriable;
}

/** Recovery runs in a row that may fail for a passing reason before the last is left failed. */
export const MAX_RECOVERY_RETRIES = 5;

/** Another try of a recovery run that failed for a passing reason. */
export interface RecoveryRetry {
  /** The failed run it follows. */
  after: string;
  /** 1 for the first try again. */
  attempt: number;
  dueAt: number;
  /** Named by `after` (recoveryRunId): every process that finds the failure names the same run. */
  runId: string;
  reason: string;
}

function isPassingRecoveryFailure(run: RunRecord): boolean {
  return run.trigger === 'recovery' && run.status === 'failed' && failedForPassingReason(run.error);
}

/**
 * The try again a run history asks for, from the shared history alone, so the process that ran
 * the run, one restarted after it and a survivor all find the same one: when the newest n runs
 * are recovery runs that failed for a passing reason (n at most MAX_RECOVERY_RETRIES), another
 * is due `baseMs` × 2^(n-1) after the newest ended. Null otherwise (a run going, one that did
 * not fail, a manual or scheduled run, too many tries). `recent` is newest first.
 */
export function recoveryRetryDue(
  recent: readonly RunRecord[],
  baseMs: number,
): RecoveryRetry | null {
  const failed: RunRecord[] = [];
  for (const run of recent) {
    if (!isPassingRecoveryFailure(run)) break;
    failed.push(run);
  }
  const head = failed[0];
  if (!head || failed.length > MAX_RECOVERY_RETRIES) return null;
  const first = failed[failed.length - 1]!;
  return {
    after: head.runId,
    attempt: failed.length,
    dueAt: (head.endedAt ?? 0) + baseMs * 2 ** (failed.length - 1),
    runId: recoveryRunId(head.orgId, `again:${head.runId}`),
    reason: `${first.reason ?? 'recovery'} (again: ${head.runId} failed)`,
  };
}

/** What an unsettled run still waited for, in words, for its record's error. */
export function describeOutstanding(o: Outstanding, waitedMs: number): string {
  const parts: string[] = [];
  if (o.writes.salesforce > 0) parts.push(`${o.writes.salesforce} writes to Salesforce`);
  if (o.writes.initlive > 0) parts.push(`${o.writes.initlive} writes to InitLive`);
  if (o.decisions > 0) parts.push(`${o.decisions} records not yet decided by the reconciler`);
  return `${OUTSTANDING} for ${Math.round(waitedMs / 1000)} s with ${parts.join(', ')} still outstanding (a sink paused on the API budget, credentials or the package holds writes; see the organization's status)`;
}
