import type { RouteDef } from '../context';
import { orgIdOf } from '../http';
import { pausedWrites } from '../paused-writes';

/**
 * GET /api/orgs/:orgId/salesforce: connection, settings, last run, the next scheduled run (and
 * its place in the queue once due), sources, API budget, and the writes held by any process's
 * sinks (cause, since, how many, what to do).
 */
function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export const getStatus: RouteDef = {
  method: 'get',
  path: '/api/orgs/:orgId/salesforce',
  auth: true,
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const view = ctx.directory.view(orgId);
    const [runs, queued, sources, holds] = await Promise.all([
      ctx.runHistory.list(orgId, 1),
      ctx.schedule?.queued(orgId) ?? null,
      ctx.status.sources(orgId),
      ctx.holds.list(orgId).catch(() => []),
    ]);
    const runtime = ctx.directory.get(orgId);
    const lag: Record<string, number | null> = {};
    for (const s of sources) lag[s.source] = s.lag;
    res.json({
      orgId,
      connection: view.state,
      reason: view.reason,
      instanceUrl: view.instanceUrl,
      salesforceOrganizationId: view.salesforceOrganizationId,
      flow: view.flow,
      connectedAt: view.connectedAt === null ? null : new Date(view.connectedAt).toISOString(),
      settings: view.settings,
      lastRun: runs[0] ?? null,
      scheduledRun: {
        nextAt: iso(ctx.schedule?.nextRunAt(orgId) ?? null),
        // Due and waiting for a free slot: position 1 starts next.
        queued: queued && { position: queued.position, dueAt: iso(queued.dueAt) },
      },
      lag,
      sources,
      apiBudget: ctx.apiBudget.get(orgId),
      // Mapped fields held back because the org's Contact no longer fits them (drift).
      mapping: { problems: ctx.contactFields?.problems(orgId) ?? [] },
      paused: pausedWrites(holds),
      streaming: {
        enabled: view.settings.streaming,
        active: runtime?.streaming ?? false,
        sources: Object.fromEntries(sources.map((s) => [s.source, s.state])),
      },
    });
  },
};
