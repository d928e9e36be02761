import type { RouteDef } from '../context';
import { orgIdOf } from '../http';
import { ReadinessReports } from '../readiness-checks';

/**
 * GET /api/orgs/:orgId/salesforce/checks[?fresh=true]: the readiness check (see
 * readiness-checks.ts). Always 200 with the report; its `status` says whether anything failed.
 * A report made in the last few seconds is answered again unless `fresh=true`.
 */
export const getChecks: RouteDef = {
  method: 'get',
  path: '/api/orgs/:orgId/salesforce/checks',
  auth: true,
  handler: (ctx) => {
    const reports = new ReadinessReports();
    return async (req, res) => {
      res.json(await reports.get(ctx, orgIdOf(req), req.query.fresh === 'true'));
    };
  },
};
