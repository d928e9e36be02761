import { authOf } from '../auth';
import type { RouteDef } from '../context';

/**
 * GET /api/orgs: the organizations the caller may see (with the root token every one the
 * connection store knows; with an organization's token that one), in id order, with their connection state and the settings an overview shows. No secrets.
 */
export const getOrgs: RouteDef = {
  method: 'get',
  path: '/api/orgs',
  auth: true,
  handler: (ctx) => async (_req, res) => {
    const { principal } = authOf(res);
    const orgs = ctx.directory
      .states()
      // An organization's token sees its own organization only.
      .filter(({ orgId }) => principal.kind === 'admin' || principal.orgId === orgId)
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
