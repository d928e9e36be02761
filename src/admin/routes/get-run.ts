import { SyncError } from '../../errors';
import type { RouteDef } from '../context';
import { orgIdOf } from '../http';

/** GET /api/orgs/:orgId/salesforce/runs/:runId: one run with its progress and counts. */
export const getRun: RouteDef = {
  method: 'get',
  path: '/api/orgs/:orgId/salesforce/runs/:runId',
  auth: true,
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const runId = String(req.params.runId);
    const run = await ctx.runHistory.get(orgId, runId);
    if (!run) throw new SyncError('NOT_FOUND', `no run ${runId} for organization ${orgId}`);
    res.json(run);
  },
};
