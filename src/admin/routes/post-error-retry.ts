import type { RouteDef } from '../context';
import { orgIdOf } from '../http';

/** POST /api/orgs/:orgId/salesforce/errors/:id/retry: sends the original record back to its topic. */
export const postErrorRetry: RouteDef = {
  method: 'post',
  path: '/api/orgs/:orgId/salesforce/errors/:id/retry',
  auth: true,
  audit: 'dead-letter.retried',
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    res.json(await ctx.deadLetters.retry(orgId, String(req.params.id)));
  },
};
