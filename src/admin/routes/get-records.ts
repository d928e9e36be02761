import { z } from 'zod';
import { SyncError } from '../../errors';
import type { RouteDef } from '../context';
import { orgIdOf, validate } from '../http';

const id = z.string().trim().min(1).max(255);
const querySchema = z
  .object({ initliveId: id.optional(), salesforceId: id.optional(), email: id.optional() })
  .strict()
  .refine((q) => [q.initliveId, q.salesforceId, q.email].filter(Boolean).length === 1, {
    message: 'give exactly one of initliveId, salesforceId or email',
  });

/**
 * GET /api/orgs/:orgId/salesforce/records?initliveId=…|salesforceId=…|email=…: one volunteer's
 * sync status (state, reason, last error, history). 404 only when neither system's record is
 * known to the connector.
 */
export const getRecords: RouteDef = {
  method: 'get',
  path: '/api/orgs/:orgId/salesforce/records',
  auth: true,
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const q = validate(querySchema, req.query, 'query');
    const query = q.initliveId
      ? { initliveId: q.initliveId }
      : q.salesforceId
        ? { salesforceId: q.salesforceId }
        : { email: q.email! };
    const view = await ctx.records.find(orgId, query);
    if (!view) {
      throw new SyncError(
        'NOT_FOUND',
        `no record known to the connector for ${Object.keys(query)[0]} in organization ${orgId}`,
      );
    }
    res.json(view);
  },
};
