import { createHash } from 'node:crypto';

/**
 * The run id of the recovery full sync for one cause: an expired position, an overflowed change
 * stream, a lost store. The same cause always names the same run, so a request sent again (a
 * restart before the position moved, a redelivered event, another process) merges into the run
 * it already started instead of starting another: one recovery per gap.
 *
 * `cause` names the gap precisely: the source, the reason and the position it was found at.
 */
export function recoveryRunId(orgId: string, cause: string): string {
  const digest = createHash('sha256').update(`${orgId}\u0000${cause}`).digest('hex');
  return `run_recovery_${digest.slice(0, 24)}`;
}
