import { authOf, principalView } from '../auth';
import type { RouteDef } from '../context';

/**
 * GET /api/session: who is signed in, and the CSRF token the console sends on unsafe requests
 * (`csrfToken` and `expiresAt` are null for a bearer-token caller, which needs neither). The
 * console calls it on load to learn whether its cookie still opens a session.
 */
export const getSession: RouteDef = {
  method: 'get',
  path: '/api/session',
  auth: true,
  handler: () => async (_req, res) => {
    const { principal, session } = authOf(res);
    res.json({
      principal: principalView(principal),
      csrfToken: session?.csrfToken ?? null,
      expiresAt: session ? new Date(session.expiresAt).toISOString() : null,
    });
  },
};
