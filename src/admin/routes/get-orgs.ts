import type { RouteDef } from '../context';

/**
 * GET /api/orgs: the deployment's organizations (every one the connection store knows, in id
 * order) with their connection state and the settings an overview shows. No secrets.
 */
export const getOrgs: RouteDef = {
  method: 'get',
  path: '/api/orgs',
  auth: true,
  handler: (ctx) => async (_req, res) => {
    const orgs = ctx.directory
      .states()
      .map(({ orgId }) => ctx.directory.view(orgId))
      .sort((a, b) => (a.orgId < b.orgId ? -1 : a.orgId > b.orgId ? 1 : 0))
      .map((v) => ({
        orgId: v.orgId,
        connection: v.state,
        reason: v.reason,
        instanceUrl: v.instanceUrl,
        connectedAt: v.connectedAt === null ? null : new Date(v.connectedAt).toISOString(),
        direction: v.settings.direction,
        streaming: v.settings.streaming,
        schedule: v.settings.schedule.mode,
      }));
    res.json({ orgs });
  },
};
