import type { RouteDef } from '../context';
import { orgIdOf } from '../http';
import { runReadinessChecks } from '../readiness-checks';

/**
 * GET /api/orgs/:orgId/salesforce/checks: the readiness check (see readiness-checks.ts). Always
 * 200 with the report; its `status` says whether anything failed.
 */
export const getChecks: RouteDef = {
  method: 'get',
  path: '/api/orgs/:orgId/salesforce/checks',
  auth: true,
  handler: (ctx) => async (req, res) => {
    res.json(await runReadinessChecks(ctx, orgIdOf(req)));
  },
};
