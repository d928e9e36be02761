import type { RouteDef } from '../context';
import { orgIdOf } from '../http';

/** DELETE /api/orgs/:orgId/salesforce/errors/:id: dismisses a dead letter (204). */
export const deleteError: RouteDef = {
  method: 'delete',
  path: '/api/orgs/:orgId/salesforce/errors/:id',
  auth: true,
  audit: 'dead-letter.dismissed',
  handler: (ctx) => async (req, res) => {
    await ctx.deadLetters.dismiss(orgIdOf(req), String(req.params.id));
    res.status(204).end();
  },
};
