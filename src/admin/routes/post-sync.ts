import { SyncError } from '../../errors';
import type { RouteDef } from '../context';
import { orgIdOf } from '../http';

/**
 * POST /api/orgs/:orgId/salesforce/sync ("Sync now"): 202 `{ runId }`; 409 with the running
 * run's id when one is queued or running; 409 when the organization is not connected.
 */
export const postSync: RouteDef = {
  method: 'post',
  path: '/api/orgs/:orgId/salesforce/sync',
  auth: true,
  audit: 'sync.requested',
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const state = ctx.directory.state(orgId);
    if (state !== 'connected') {
      throw new SyncError(
        'CONFLICT',
        `organization ${orgId} is ${state.replace('_', ' ')}: connect it to Salesforce first`,
        {
          context: { connection: state },
        },
      );
    }
    // Writes held for this org are looked at again now rather than at their next backoff.
    ctx.events?.emit('sink.wake', { orgId });
    const result = await ctx.syncTrigger.requestRun(orgId, 'manual');
    if ('conflict' in result) {
      res.status(409).json({
        error: {
          code: 'CONFLICT',
          message: `a sync of ${orgId} is already running`,
          details: { runId: result.conflict },
        },
        runId: result.conflict,
      });
      return;
    }
    res.status(202).json({ runId: result.runId });
  },
};
