import { z } from 'zod';
import { MAX_PAGE } from '../dead-letter-store';
import type { RouteDef } from '../context';
import { orgIdOf, validate } from '../http';
import { pausedWrites } from '../paused-writes';

const querySchema = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
  code: z
    .string()
    .regex(/^[A-Z_]+$/, 'must be an error code like SALESFORCE_REJECTED')
    .optional(),
});

/**
 * GET /api/orgs/:orgId/salesforce/errors?offset&limit&code: dead letters, newest first, and the
 * writes held right now (`paused`).
 */
export const getErrors: RouteDef = {
  method: 'get',
  path: '/api/orgs/:orgId/salesforce/errors',
  auth: true,
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const q = validate(querySchema, req.query, 'query');
    const [page, holds] = await Promise.all([
      ctx.deadLetters.list(orgId, {
        offset: q.offset,
        limit: q.limit,
        ...(q.code ? { code: q.code } : {}),
      }),
      ctx.holds.list(orgId).catch(() => []),
    ]);
    // Held writes are not dead letters (nothing failed for good), but an admin looking for what
    // went wrong must see them here too.
    res.json({ ...page, paused: pausedWrites(holds) });
  },
};
