import type { RouteDef } from '../context';

/** GET /metrics: Prometheus exposition; no token (scrapers), no secrets in it. */
export const getMetrics: RouteDef = {
  method: 'get',
  path: '/metrics',
  auth: false,
  handler: (ctx) => async (_req, res) => {
    const text = await ctx.metricsRegistry.metrics();
    res.type(ctx.metricsRegistry.contentType).send(text);
  },
};
