import { z } from 'zod';
import { ENTRY_ID } from '../audit-log';
import type { RouteDef } from '../context';
import { orgIdOf, validate } from '../http';

const Query = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    before: z.string().regex(ENTRY_ID, 'is not an audit entry id').optional(),
  })
  .strict();

/**
 * GET /api/orgs/:orgId/audit?limit=&before=: the organization's admin actions, newest first
 * (`limit` 1-500, default 50); `nextBefore` pages on (null at the end).
 */
export const getAudit: RouteDef = {
  method: 'get',
  path: '/api/orgs/:orgId/audit',
  auth: true,
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const query = validate(Query, req.query, 'audit query');
    const entries = await ctx.audit.list(orgId, {
      limit: query.limit,
      ...(query.before ? { before: query.before } : {}),
    });
    res.json({
      entries: entries.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
      nextBefore: entries.length === query.limit ? (entries[entries.length - 1]?.id ?? null) : null,
    });
  },
};
