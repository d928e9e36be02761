import { authOf, clearSessionCookie } from '../auth';
import type { RouteDef } from '../context';

/**
 * DELETE /api/session: Sign out. Ends the session in the store (its cookie opens nothing from
 * now on, wherever a copy of it is) and clears the cookie. 204; harmless for a bearer caller.
 */
export const deleteSession: RouteDef = {
  method: 'delete',
  path: '/api/session',
  auth: true,
  handler: (ctx) => async (req, res) => {
    const { session } = authOf(res);
    if (session) {
      await ctx.sessions.delete(session.idHash);
      ctx.logger.info('console signed out');
    }
    clearSessionCookie(req, res);
    res.status(204).end();
  },
};
