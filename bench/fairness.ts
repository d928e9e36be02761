import { randomUUID } from 'node:crypto';
import { countSeries, sleep } from './org-processes';
import {
  ADMIN_TOKEN,
  ChangeStream,
  awaitInitialSyncs,
  connectThroughAdmin,
  coresSince,
  cpuSnapshot,
  createBenchOrg,
  loadAverage,
  openBenchWorld,
  mapLimit,
  range,
  startConnectors,
  summarize,
  traceChanges,
  type BenchOrg,
  type ConnectorSettings,
  reporter,
} from './orgs';
import type { SandboxCounters } from '../src/sandbox/salesforce/control';
import { percentiles } from './streaming';

/**
 * `npm run bench -- --only=fairness`: issue 20's fairness target. One organization with
 * `bigRecords` InitLive staff and as many Salesforce Contacts (half of them the same people, as
 * the demo seeds them) runs its first full sync while `streamingOrgs` small organizations
 * stream InitLive edits at `rate`/s in total. Each edit is timed until its Contact's write
 * commits in Salesforce; the figures are given before the big run starts, while it runs, and
 * after it ended, with the big run's status and wall time. The connectors run as deployed
 * (the orgs bench's processes, sandboxes and admin-API connection). `streamingOrgs: 0` times
 * the big run alone.
 */
export interface FairnessBenchOptions extends ConnectorSettings {
  bigRecords: number;
  streamingOrgs: number;
  /** Staff (and so Contacts) of each streaming organization. Default 50. */
  staff?: number;
  /** Changes per second in total across the streaming organizations. */
  rate: number;
  /** Seconds of streaming before the big run and after it. Default 30. */
  phaseSeconds?: number;
  /** Width of the latency timeline's buckets while the big run goes. Default 15 s. */
  bucketSeconds?: number;
}

export async function benchFairness(
  options: FairnessBenchOptions,
): Promise<Record<string, unknown>> {
  const prefix = `bf${randomUUID().slice(0, 8)}`;
  const phaseSeconds = options.phaseSeconds ?? 30;
  const out: Record<string, unknown> = {
    bigRecords: options.bigRecords,
    streamingOrgs: options.streamingOrgs,
    staffPerStreamingOrg: options.staff ?? 50,
    ratePerSecond: options.rate,
    processes: options.processes,
    idlePollMaxMs: options.idlePollMaxMs ?? null,
    metricsOrgLabels: options.metricsOrgLabels ?? true,
    connectorEnv: options.extraEnv ?? {},
    benchConnectorEnv: process.env.BENCH_CONNECTOR_ENV ?? null,
    loadAverageAtStart: loadAverage(),
  };
  const report = reporter('fairness', out);

  let t = Date.now();
  const world = await openBenchWorld(options.redisUrl, prefix, 10_000_000);
  const { sf, il, procs } = world;
  try {
    const p = options.processes;
    const small = await mapLimit(range(options.streamingOrgs), 8, (i) =>
      createBenchOrg(sf, il, i % p, { staffCount: options.staff ?? 50, seed: i + 2 }),
    );
    const big = await createBenchOrg(
      sf,
      il,
      0,
      { staffCount: options.bigRecords, seed: 1 },
      { contactCount: options.bigRecords, seed: 1, offset: Math.floor(options.bigRecords / 2) },
    );
    report('sandboxOrgsCreatedMs', Date.now() - t);

    t = Date.now();
    procs.push(...(await startConnectors(options, prefix, sf, `bench-fairness-${prefix}`)));
    out.logs = procs.map((c) => c.logFile);
    report('processesStartedMs', Date.now() - t);

    // --- the streaming organizations, connected and synced once --------------------------
    t = Date.now();
    await mapLimit(small, 8, (org) => connectThroughAdmin(procs[org.via]!.url, org, il.url, {}));
    if (small.length > 0) {
      const initial = await awaitInitialSyncs(procs, small, t);
      report('streamingOrgsInitialSyncs', initial);
      if (!initial.allSucceeded) throw new Error('an initial sync of a streaming org failed');
    }

    const stream = new ChangeStream(sf, il, small);
    const trace = await traceChanges(options.kafkaBrokers, prefix, stream);
    try {
      const before = small.length > 0 ? await stream.run(options.rate, phaseSeconds) : [];

      // --- the big organization's first full sync, while the others stream ---------------
      let cpu = await cpuSnapshot(procs);
      const bigControl = sf.org(big.sfOrgId)!.control;
      const callsBefore = bigControl.counters();
      const bigStartedAt = Date.now();
      await connectThroughAdmin(procs[big.via]!.url, big, il.url, {});
      let ended = false;
      const watching = awaitInitialSyncs(procs, [big], bigStartedAt).finally(() => (ended = true));
      watching.catch(() => undefined); // awaited below
      const during: typeof before = [];
      // The connectors' longest event-loop stall between scrapes (every 5 s) while it runs.
      const loopLagMaxMs: Array<number | null> = [];
      while (!ended) {
        if (small.length > 0) during.push(...(await stream.run(options.rate, 5)));
        else await sleep(5_000);
        const scraped = await Promise.all(procs.map((c) => countSeries(c.url).catch(() => null)));
        loopLagMaxMs.push(Math.max(...scraped.map((x) => x?.eventLoopLagMaxMs ?? NaN)));
      }
      const bigRun = await watching;
      const bigEndedAt = Date.now();
      const coresDuring = await coresSince(cpu, procs);
      report('bigRun', {
        ...bigRun,
        run: await runSummary(procs[big.via]!.url, big),
        salesforceApi: apiCallsSince(callsBefore, bigControl.counters()),
      });

      cpu = await cpuSnapshot(procs);
      const after = small.length > 0 ? await stream.run(options.rate, phaseSeconds) : [];
      const coresAfter = await coresSince(cpu, procs);
      const drainMs = await stream.drain(120_000);

      report('streaming', {
        before: summarize(before, drainMs),
        during: { ...summarize(during, drainMs), coresUsed: coresDuring },
        after: { ...summarize(after, drainMs), coresUsed: coresAfter },
        duringTimeline: timeline(during, bigStartedAt, (options.bucketSeconds ?? 15) * 1000),
        bigRunWallMs: bigEndedAt - bigStartedAt,
        connectorLoopLagMaxMsEvery5s: loopLagMaxMs,
      });
      const during99 = percentiles(
        during.filter((c) => c.landedAt !== null).map((c) => c.landedAt! - c.sentAt),
      );
      report('target', {
        duringP99Ms: during99.p99,
        p99WithinTwoSeconds: small.length > 0 && during99.p99 <= 2_000,
        lostDuring: during.filter((c) => c.landedAt === null).length,
        bigRunSucceeded: bigRun.succeeded === 1,
      });
      if (small.length > 0) report('mismatches', stream.mismatches());
    } finally {
      stream.close();
      await trace.disconnect();
    }
  } finally {
    out.loadAverageAtEnd = loadAverage();
    await world.close();
  }
  return out;
}

/** The run as the admin API shows it, without its longer lists. */
async function runSummary(base: string, org: BenchOrg): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}/api/orgs/${org.orgId}/salesforce/runs/${org.runId}`, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const run = (await res.json()) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(run).filter(([, v]) => !Array.isArray(v) || v.length <= 10),
  );
}

/** The big organization's Salesforce API calls over its run, in total and by endpoint. */
function apiCallsSince(before: SandboxCounters, after: SandboxCounters) {
  const byEndpoint: Record<string, number> = {};
  for (const [name, n] of Object.entries(after.endpoints)) {
    const d = n - (before.endpoints[name] ?? 0);
    if (d > 0) byEndpoint[name] = d;
  }
  return { calls: after.apiCallsUsed - before.apiCallsUsed, byEndpoint };
}

/** Latency by when the edit was made, in buckets of `bucketMs` from `from`. */
function timeline(changes: ChangeStream['changes'], from: number, bucketMs: number) {
  const buckets = new Map<number, number[]>();
  const lost = new Map<number, number>();
  for (const c of changes) {
    const b = Math.floor((c.sentAt - from) / bucketMs);
    if (c.landedAt === null) lost.set(b, (lost.get(b) ?? 0) + 1);
    else {
      const list = buckets.get(b) ?? [];
      list.push(c.landedAt - c.sentAt);
      buckets.set(b, list);
    }
  }
  return [...buckets.keys()]
    .sort((a, b) => a - b)
    .map((b) => {
      const p = percentiles(buckets.get(b)!);
      return {
        fromS: (b * bucketMs) / 1000,
        n: buckets.get(b)!.length,
        p50: p.p50,
        p99: p.p99,
        max: p.max,
        lost: lost.get(b) ?? 0,
      };
    });
}
