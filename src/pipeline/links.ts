import { SyncError } from '../errors';
import type { Side } from '../core/pair-state';
import type { PipelineDeps } from './deps';

/**
 * Records that a pair's record on `side` now has `recordId` (a sink learned it from a create).
 * Idempotent: a pair that already holds an id on that side is left alone (a later change will
 * tell which is right). Returns whether the link was added. Throws CONFLICT (context.reason
 * 'link-owned', ownerPairId) when another pair holds that record.
 */
export async function recordLink(
  deps: Pick<PipelineDeps, 'store'>,
  orgId: string,
  pairId: string,
  side: Side,
  recordId: string,
): Promise<boolean> {
  const result = await deps.store.link(orgId, pairId, side, recordId);
  if (result.outcome === 'link-owned') {
    throw new SyncError('CONFLICT', `${side} record is linked to another pair`, {
      context: {
        orgId,
        pairId,
        reason: 'link-owned',
        side,
        recordId,
        ownerPairId: result.ownerPairId,
      },
    });
  }
  return result.outcome === 'linked';
}
