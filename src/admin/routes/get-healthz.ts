import type { RouteDef } from '../context';

/** GET /healthz: the process is up and serving HTTP. */
export const getHealthz: RouteDef = {
  method: 'get',
  path: '/healthz',
  auth: false,
  handler: () => (_req, res) => {
    res.json({ status: 'ok' });
  },
};
