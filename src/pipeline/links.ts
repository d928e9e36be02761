import { copyJson, type Side } from '../core/pair-state';
import { updatePair } from '../core/version-store';
import type { PipelineDeps } from './deps';

/**
 * Records that a pair's record on `side` now has `recordId` (a sink learned it from a create).
 * Idempotent: a pair that already holds an id on that side is left alone (a later change will
 * tell which is right). Returns whether the link was added.
 */
export async function recordLink(
  deps: Pick<PipelineDeps, 'store'>,
  orgId: string,
  pairId: string,
  side: Side,
  recordId: string,
): Promise<boolean> {
  const field = side === 'initlive' ? 'initliveId' : 'salesforceId';
  const outcome = await updatePair(deps.store, orgId, pairId, (current) => {
    if (!current) return null;
    if (current.state[field] !== null) return null;
    const next = copyJson(current.state);
    next[field] = recordId;
    if (next.merge) next.merge.exists[side] = true;
    if (next.initliveId && next.salesforceId && next.status === 'unlinked') next.status = 'linked';
    return { next, result: true };
  });
  return outcome.result ?? false;
}
