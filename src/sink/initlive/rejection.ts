import { SyncError } from '../../errors';
import type { PlannedOp } from './plan';

/**
 * Rewords InitLive's refusal of one operation for the dead-letter topic, so an administrator
 * reads what to fix (which staff member holds the email, which fields) rather than an
 * HTTP exchange. The InitLive code stays available as the dead letter's `upstreamCode`.
 */
export function describeRejection(
  op: PlannedOp,
  error: SyncError,
): { error: SyncError; upstreamCode: string | null } {
  const initliveCode =
    typeof error.context.initliveCode === 'string' ? error.context.initliveCode : null;
  const details = (error.context.details ?? {}) as Record<string, unknown>;
  // InitLive's details quote the values; the letter keeps the record itself, the reason names.
  const { details: _quoted, ...rest } = error.context;
  const context = { ...rest, pairId: op.pairId, op: op.operation.op };
  if (initliveCode === 'duplicate_email') {
    const holder = duplicateHolder(error) ?? 'another record';
    return {
      upstreamCode: initliveCode,
      error: new SyncError(
        'INITLIVE_REJECTED',
        `the email is already used by staff ${holder} in InitLive`,
        { cause: error, context },
      ),
    };
  }
  if (initliveCode === 'invalid_request') {
    const problems = Object.entries(details)
      .map(([field, problem]) => `${field} ${String(problem)}`)
      .join('; ');
    return {
      upstreamCode: initliveCode,
      error: new SyncError(
        'INITLIVE_REJECTED',
        `InitLive refused the ${op.operation.op} of pair ${op.pairId}: ${problems || error.message}`,
        { cause: error, context },
      ),
    };
  }
  return {
    upstreamCode: initliveCode,
    error: new SyncError(error.code, error.message, { cause: error, context, retriable: false }),
  };
}

/** The staff member holding the email of a create InitLive refused as a duplicate, if named. */
export function duplicateHolder(e: SyncError): string | null {
  if (e.context.initliveCode !== 'duplicate_email') return null;
  const details = (e.context.details ?? {}) as Record<string, unknown>;
  return typeof details.existingId === 'string' ? details.existingId : null;
}
