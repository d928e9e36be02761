import { z } from 'zod';
import type { RouteDef } from '../context';
import { orgIdOf, validate } from '../http';

const querySchema = z.object({ limit: z.coerce.number().int().min(1).max(200).default(20) });

/** GET /api/orgs/:orgId/salesforce/runs?limit=20: run history, newest first. */
export const getRuns: RouteDef = {
  method: 'get',
  path: '/api/orgs/:orgId/salesforce/runs',
  auth: true,
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const { limit } = validate(querySchema, req.query, 'query');
    res.json({ runs: await ctx.runHistory.list(orgId, limit) });
  },
};
