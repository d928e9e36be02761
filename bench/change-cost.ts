import type Redis from 'ioredis';
import type { BenchWorld } from './orgs';

/** Totals the pipeline's requests reach: Redis commands, Salesforce and InitLive API requests. */
interface CostSnapshot {
  redis: Record<string, number>;
  salesforce: Record<string, number>;
  initlive: Record<string, number>;
}

/**
 * What one change costs in requests, from the servers' own counts before and after: Redis's
 * `INFO commandstats` (every client of that server, so the bench's own few commands too) and
 * the sandboxes' per-endpoint counts over the given organizations.
 */
export class ChangeCost {
  private constructor(
    private readonly world: BenchWorld,
    private readonly sfOrgIds: string[],
    private readonly before: CostSnapshot,
  ) {}

  static async start(world: BenchWorld, sfOrgIds: string[]): Promise<ChangeCost> {
    return new ChangeCost(world, sfOrgIds, await snapshot(world, sfOrgIds));
  }

  /** Requests per change since `start`, the largest first, totals beside them. */
  async perChange(changes: number): Promise<Record<string, unknown>> {
    const after = await snapshot(this.world, this.sfOrgIds);
    const per = (a: Record<string, number>, b: Record<string, number>) => {
      const rows = Object.entries(a)
        .map(([k, v]) => [k, (v - (b[k] ?? 0)) / Math.max(1, changes)] as const)
        .filter(([, v]) => v > 0)
        .sort((x, y) => y[1] - x[1]);
      const total = rows.reduce((s, [, v]) => s + v, 0);
      return {
        total: round(total),
        top: Object.fromEntries(rows.slice(0, 12).map(([k, v]) => [k, round(v)])),
      };
    };
    return {
      changes,
      redisCommands: per(after.redis, this.before.redis),
      salesforceRequests: per(after.salesforce, this.before.salesforce),
      initliveRequests: per(after.initlive, this.before.initlive),
    };
  }
}

async function snapshot(world: BenchWorld, sfOrgIds: string[]): Promise<CostSnapshot> {
  const salesforce: Record<string, number> = {};
  for (const id of sfOrgIds) {
    const endpoints = world.sf.org(id)?.control.counters().endpoints ?? {};
    for (const [k, v] of Object.entries(endpoints)) salesforce[k] = (salesforce[k] ?? 0) + v;
  }
  const ilCounters = world.il.control.counters();
  return {
    redis: await commandStats(world.redis),
    salesforce,
    initlive: { ...ilCounters.requests, 'webhook deliveries': ilCounters.webhook.delivered },
  };
}

async function commandStats(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const out: Record<string, number> = {};
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m?.[1]) out[m[1]] = Number(m[2]);
  }
  return out;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
