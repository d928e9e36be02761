import { toSyncError } from '../../errors';
import type { RouteDef } from '../context';

/** GET /readyz: 200 when the transport and stores answer, 503 naming what does not. */
export const getReadyz: RouteDef = {
  method: 'get',
  path: '/readyz',
  auth: false,
  handler: (ctx) => async (_req, res) => {
    let checks;
    try {
      checks = await ctx.readiness.check();
    } catch (err) {
      checks = [{ name: 'readiness', ok: false, detail: toSyncError(err).message }];
    }
    const ok = checks.every((c) => c.ok);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not_ready', checks });
  },
};
