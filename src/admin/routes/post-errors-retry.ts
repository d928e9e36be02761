import { z } from 'zod';
import type { RouteDef } from '../context';
import { orgIdOf, validate } from '../http';

const bodySchema = z
  .object({
    code: z
      .string()
      .regex(/^[A-Z_]+$/, 'must be an error code like SALESFORCE_REJECTED')
      .optional(),
  })
  .strict();

/** POST /api/orgs/:orgId/salesforce/errors/retry `{code?}`: retries every dead letter (of one code). */
export const postErrorsRetry: RouteDef = {
  method: 'post',
  path: '/api/orgs/:orgId/salesforce/errors/retry',
  auth: true,
  audit: 'dead-letters.retried',
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const body = validate(bodySchema, req.body ?? {}, 'retry request');
    res.json(await ctx.deadLetters.retryAll(orgId, body.code ? { code: body.code } : {}));
  },
};
