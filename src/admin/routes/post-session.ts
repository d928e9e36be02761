import { z } from 'zod';
import { sessionOf, setSessionCookie, principalView } from '../auth';
import type { RouteDef } from '../context';
import { sendError, validate } from '../http';
import { hashSessionId, newSessionSecret } from '../session-store';

const bodySchema = z
  .object({
    token: z.string({ error: 'is required' }).min(1, 'is required').max(4096, 'is too long'),
  })
  .strict();

/**
 * POST /api/session `{ token }`: the console's sign-in. A token the API accepts as a bearer
 * token opens a session: the answer sets an HttpOnly, SameSite=Strict cookie holding a random
 * session id and returns the session's CSRF token, which unsafe requests echo in X-CSRF-Token.
 * A session the browser already had is ended first. The token is never stored or logged.
 * Needs no token itself; a JSON body is required, so a cross-site form cannot sign anyone in.
 */
export const postSession: RouteDef = {
  method: 'post',
  path: '/api/session',
  auth: false,
  handler: (ctx) => async (req, res) => {
    const { token } = validate(bodySchema, req.body ?? {}, 'sign-in');
    const principal = await ctx.authenticator.authenticate(token);
    if (!principal) {
      ctx.logger.warn('console sign-in refused');
      sendError(
        res,
        'AUTH_FAILED',
        'wrong token: use the admin token (ADMIN_TOKEN, or the one printed at start)',
        {
          fields: [{ path: 'token', message: 'is not a valid token' }],
        },
      );
      return;
    }
    const previous = await sessionOf(req, ctx.sessions);
    if (previous) await ctx.sessions.delete(previous.idHash);
    const id = newSessionSecret();
    const now = ctx.now();
    const session = {
      idHash: hashSessionId(id),
      principal,
      csrfToken: newSessionSecret(),
      createdAt: now,
      expiresAt: now + ctx.sessionTtlMs,
    };
    await ctx.sessions.put(session);
    setSessionCookie(req, res, id, ctx.sessionTtlMs);
    ctx.logger.info('console signed in', principalView(principal));
    res.status(201).json({
      principal: principalView(principal),
      csrfToken: session.csrfToken,
      expiresAt: new Date(session.expiresAt).toISOString(),
    });
  },
};
