import type { RouteDef } from '../context';
import { orgIdOf } from '../http';

/** GET /api/orgs/:orgId/salesforce/settings: the settings (the defaults for a new organization). */
export const getSettings: RouteDef = {
  method: 'get',
  path: '/api/orgs/:orgId/salesforce/settings',
  auth: true,
  handler: (ctx) => async (req, res) => {
    res.json(ctx.directory.syncSettings(orgIdOf(req)));
  },
};
