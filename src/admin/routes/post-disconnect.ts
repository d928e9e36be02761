import type { RouteDef } from '../context';
import { orgIdOf } from '../http';

/**
 * POST /api/orgs/:orgId/salesforce/disconnect: revokes the grant at Salesforce and stops the
 * organization's streaming (the directory's `changed` event). Settings, links, version vectors
 * and source positions are kept for a reconnect. Idempotent.
 */
export const postDisconnect: RouteDef = {
  method: 'post',
  path: '/api/orgs/:orgId/salesforce/disconnect',
  auth: true,
  audit: 'disconnected',
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const { revoked } = await ctx.directory.disconnect(orgId);
    res.json({ orgId, connection: ctx.directory.state(orgId), revoked });
  },
};
