import { randomBytes, randomUUID } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { closeRedis, createRedis, deleteByPrefix } from '../src/infra/redis/connect';
import { createPrng } from '../src/sandbox/demo-people';
import { startInitLiveSandbox } from '../src/sandbox/initlive';
import { startSalesforceSandbox, type ContactWriteEvent } from '../src/sandbox/salesforce';
import { freePorts } from '../test/harness/ports';
import {
  countSeries,
  sampleProcess,
  sleep,
  startConnectorMain,
  type ConnectorMain,
  type ProcessSample,
  type SeriesCount,
} from './org-processes';
import { ChangeCost } from './change-cost';
import { percentiles, type Percentiles } from './streaming';

/**
 * `npm run bench -- --only=orgs`: many organizations in one deployment (issue 20). Both
 * sandboxes host N organizations with K staff each (this process, one clock for latency);
 * P connector processes run as deployed (`src/main.js`, configuration in the environment) on
 * Kafka, the registry and Redis. Every organization is connected through the admin API as an
 * administrator would (the OAuth web-server flow, with the org's user picked by `login_hint`,
 * then settings, then Sync now). Then:
 *
 * 1. every initial full sync must succeed;
 * 2. the source leases must spread within ±20% of N/P over the processes;
 * 3. the idle cost per organization is measured (RSS, sockets, CPU, Redis keys and bytes,
 *    metric series), against the same processes before any organization was connected;
 * 4. InitLive edits at `changeRate`/s across `changeOrgs` random organizations, each timed
 *    until the Contact's write commits in Salesforce (p99 must stay within 2 s);
 * 5. the same stream again while one process is killed with SIGKILL: its organizations' leases
 *    must be held by the others within the lease plus 10 s, and no change may be lost.
 */

export interface OrgsBenchOptions extends ConnectorSettings {
  orgs: number;
  staff: number;
  /** Changes per second in total. Default 200. */
  changeRate?: number;
  /** How many random organizations the changes go to. Default 100. */
  changeOrgs?: number;
  /** Seconds of changes before the failover step, and during it. Default 60. */
  changeSeconds?: number;
  /** Length of the idle measurement. Default 10. */
  idleSeconds?: number;
  /** Kill one process mid-stream. Default true (with 2 or more processes). */
  failover?: boolean;
  /** Admin connections in flight at once. Default 8. */
  connectConcurrency?: number;
}

export const ADMIN_TOKEN = `bench-${randomBytes(12).toString('hex')}`;
const DEFAULT_LEASE_MS = 15_000;
const FINISHED = new Set(['succeeded', 'partially_succeeded', 'failed', 'cancelled']);

export interface BenchOrg {
  /** The InitLive organization id, which is the connector's organization id. */
  orgId: string;
  initliveKey: string;
  sfOrgId: string;
  sfUsername: string;
  /** The process whose admin API connected it. */
  via: number;
  runId: string | null;
}

interface Change {
  orgId: string;
  staffId: string;
  phone: string;
  sentAt: number;
  /** When the source put it on the staff-changes topic (the record's Kafka timestamp). */
  readAt: number | null;
  /** When the reconciler put its Contact write on the Salesforce writes topic. */
  decidedAt: number | null;
  landedAt: number | null;
}

/** The 1, 5 and 15 minute load averages to a tenth: the machine is shared, and they show it. */
/** The phone numbers the change stream writes. */
const PHONE = /\+1 \d{9}/g;

export function loadAverage(): number[] {
  return loadavg().map((x) => Math.round(x * 10) / 10);
}

/** Both sandboxes, the bench's Redis client and the connector processes started on them. */
export interface BenchWorld {
  sf: Awaited<ReturnType<typeof startSalesforceSandbox>>;
  il: Awaited<ReturnType<typeof startInitLiveSandbox>>;
  redis: Redis;
  procs: ConnectorMain[];
  /** Stops the processes, deletes the run's keys (`<prefix>:`) and closes the rest. */
  close(): Promise<void>;
}

export async function openBenchWorld(
  redisUrl: string,
  prefix: string,
  apiDailyMax: number,
): Promise<BenchWorld> {
  const sf = await startSalesforceSandbox({ apiDailyMax });
  const il = await startInitLiveSandbox({});
  const redis = createRedis(redisUrl, { connectionName: `${prefix}-bench` });
  const procs: ConnectorMain[] = [];
  return {
    sf,
    il,
    redis,
    procs,
    close: async () => {
      await Promise.all(procs.map((c) => c.stop().catch(() => undefined)));
      await deleteByPrefix(redis, `${prefix}:`).catch(() => 0);
      await closeRedis(redis);
      await Promise.all([sf.close(), il.close()]);
    },
  };
}

export async function benchOrgs(options: OrgsBenchOptions): Promise<Record<string, unknown>> {
  const n = options.orgs;
  const staffPerOrg = options.staff;
  const p = options.processes;
  const leaseMs = options.sourceLeaseMs ?? DEFAULT_LEASE_MS;
  const prefix = `bo${randomUUID().slice(0, 8)}`;
  const out: Record<string, unknown> = {
    orgs: n,
    staffPerOrg,
    processes: p,
    sourceLeaseMs: leaseMs,
    metricsOrgLabels: options.metricsOrgLabels ?? true,
    idlePollMaxMs: options.idlePollMaxMs ?? null,
    // The machine is shared: what else ran shows in the load.
    loadAverageAtStart: loadAverage(),
  };
  const report = reporter('orgs', out);

  let t = Date.now();
  const world = await openBenchWorld(options.redisUrl, prefix, 1_000_000);
  const { sf, il, redis, procs } = world;
  try {
    // --- the organizations, in both sandboxes, through their control APIs -------------------
    const orgs: BenchOrg[] = await mapLimit(range(n), 8, (i) =>
      createBenchOrg(sf, il, i % p, { staffCount: staffPerOrg, seed: i + 1 }),
    );
    report('sandboxOrgsCreatedMs', Date.now() - t);

    // --- the connector processes ----------------------------------------------------------
    t = Date.now();
    procs.push(...(await startConnectors(options, prefix, sf, `bench-orgs-${prefix}`)));
    report('processesStartedMs', Date.now() - t);
    out.logs = procs.map((c) => c.logFile);
    await sleep(5_000);
    const baseline = await idleSample(procs, redis, prefix, 5_000);

    // --- connect every organization through the admin API ---------------------------------
    t = Date.now();
    let cpu = await cpuSnapshot(procs);
    const connectMs: number[] = [];
    const steps: Record<string, number[]> = {};
    await mapLimit(orgs, options.connectConcurrency ?? 8, async (org) => {
      const started = Date.now();
      await connectThroughAdmin(procs[org.via]!.url, org, il.url, steps);
      connectMs.push(Date.now() - started);
    });
    report('connect', {
      wallMs: Date.now() - t,
      perOrgMs: percentiles(connectMs),
      stepMs: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, percentiles(v)])),
    });

    // --- every initial sync ends ----------------------------------------------------------
    report('initialSyncs', {
      ...(await awaitInitialSyncs(procs, orgs, t)),
      coresUsed: await coresSince(cpu, procs),
    });

    // --- spread of the sources ------------------------------------------------------------
    t = Date.now();
    const spread = await awaitSpread(redis, prefix, orgs, procs, 6 * leaseMs);
    report('spread', { ...spread, settledMs: Date.now() - t });

    // --- idle cost ------------------------------------------------------------------------
    await sleep(Math.max(5_000, leaseMs));
    const idle = await idleSample(procs, redis, prefix, (options.idleSeconds ?? 10) * 1000);
    report('idle', { baseline, connected: idle, perOrg: perOrgCost(baseline, idle, n) });

    // --- changes at a steady rate ---------------------------------------------------------
    const rate = options.changeRate ?? 200;
    const seconds = options.changeSeconds ?? 60;
    if (seconds === 0) return out;
    const chosen = pick(orgs, Math.min(options.changeOrgs ?? 100, n), 20);
    const stream = new ChangeStream(sf, il, chosen);
    const trace = await traceChanges(options.kafkaBrokers, prefix, stream);
    try {
      cpu = await cpuSnapshot(procs);
      const cost = await ChangeCost.start(
        world,
        orgs.map((o) => o.sfOrgId),
      );
      const loop = monitorEventLoopDelay({ resolution: 20 });
      loop.enable();
      const steady = await stream.run(rate, seconds);
      loop.disable();
      const coresUsed = await coresSince(cpu, procs);
      const drained = await stream.drain(60_000);
      // Every organization's requests, idle ones too: what the change phase cost the servers.
      const requestsPerChange = await cost.perChange(steady.length);
      report('changes', {
        ratePerSecond: rate,
        seconds,
        organizations: chosen.length,
        ...summarize(steady, drained),
        coresUsed,
        // This process holds both sandboxes: a stalled loop here delays every answer.
        sandboxLoopDelayMs: {
          p99: Math.round(loop.percentile(99) / 1e6),
          max: Math.round(loop.max / 1e6),
        },
        connectorMetrics: await Promise.all(procs.map((c) => countSeries(c.url))),
        requestsPerChange,
      });

      // --- failover: kill -9 one process mid-stream ---------------------------------------
      if ((options.failover ?? true) && p >= 2) {
        report(
          'failover',
          await failover(stream, procs, redis, prefix, orgs, rate, seconds, leaseMs),
        );
      }
      report('mismatches', stream.mismatches());
    } finally {
      stream.close();
      await trace.disconnect();
    }
    report(
      'metricsAfter',
      await Promise.all(procs.filter((c) => !c.exited()).map((c) => countSeries(c.url))),
    );
  } finally {
    out.loadAverageAtEnd = loadAverage();
    await world.close();
  }
  return out;
}

/**
 * One organization in both sandboxes, through their control APIs: `initlive` is the InitLive
 * sandbox's org body (`staffCount`, `seed`), `salesforce` the Salesforce one's (`contactCount`...).
 */
/** Keeps a figure in `out` and prints it as it comes, for a bench that runs for many minutes. */
export function reporter(
  bench: string,
  out: Record<string, unknown>,
): (key: string, value: unknown) => void {
  return (key, value) => {
    out[key] = value;
    const at = new Date().toISOString().slice(11, 19);
    process.stderr.write(`[bench ${bench} ${at}] ${key}: ${JSON.stringify(value)}\n`);
  };
}

export async function createBenchOrg(
  sf: Awaited<ReturnType<typeof startSalesforceSandbox>>,
  il: Awaited<ReturnType<typeof startInitLiveSandbox>>,
  via: number,
  initlive: Record<string, unknown>,
  salesforce: Record<string, unknown> = {},
): Promise<BenchOrg> {
  const sfOrg = await postJson<{ orgId: string; username: string }>(
    `${sf.url}/__sandbox/orgs`,
    { 'X-Sandbox-Secret': sf.clientSecret },
    salesforce,
  );
  const ilOrg = await postJson<{ id: string; apiKey: string }>(
    `${il.url}/__sandbox/orgs`,
    { Authorization: 'Bearer sandbox-key' },
    initlive,
  );
  return {
    orgId: ilOrg.id,
    initliveKey: ilOrg.apiKey,
    sfOrgId: sfOrg.orgId,
    sfUsername: sfOrg.username,
    via,
    runId: null,
  };
}

/** What the connector processes need: the shared services and their settings. */
export interface ConnectorSettings {
  processes: number;
  /** Passed to the connector processes; default the product's. */
  sourceLeaseMs?: number;
  metricsOrgLabels?: boolean;
  /** INITLIVE_IDLE_POLL_MAX_MS of the connector processes; unset: the product's default. */
  idlePollMaxMs?: number;
  /** More of the connectors' environment (any setting of src/config.ts). */
  extraEnv?: Record<string, string>;
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  redisUrl: string;
}

/** `processes` connector processes as deployed, one consumer group under `prefix`. */
export async function startConnectors(
  options: ConnectorSettings,
  prefix: string,
  sf: Awaited<ReturnType<typeof startSalesforceSandbox>>,
  logName: string,
): Promise<ConnectorMain[]> {
  const procs: ConnectorMain[] = [];
  const ports = await freePorts(options.processes);
  const encryptionKey = randomBytes(32).toString('base64');
  for (let i = 0; i < options.processes; i++) {
    const port = ports[i]!;
    const env: Record<string, string> = {
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
      ADMIN_TOKEN,
      ENCRYPTION_KEY: encryptionKey,
      KAFKA_BROKERS: options.kafkaBrokers.join(','),
      KAFKA_CLIENT_ID: `${prefix}-${i}`,
      KAFKA_GROUP_ID: prefix,
      TOPIC_PREFIX: prefix,
      SCHEMA_REGISTRY_URL: options.schemaRegistryUrl,
      SCHEMA_SUBJECT_PREFIX: prefix,
      REDIS_URL: options.redisUrl,
      REDIS_KEY_PREFIX: `${prefix}:`,
      SANDBOX: 'off',
      SALESFORCE_LOGIN_URL: sf.loginUrl,
      SALESFORCE_CLIENT_ID: sf.clientId,
      SALESFORCE_CLIENT_SECRET: sf.clientSecret,
      SOURCE_LEASE_MS: String(options.sourceLeaseMs ?? DEFAULT_LEASE_MS),
      ...(options.metricsOrgLabels === false ? { METRICS_ORG_LABELS: 'false' } : {}),
      ...(options.idlePollMaxMs
        ? { INITLIVE_IDLE_POLL_MAX_MS: String(options.idlePollMaxMs) }
        : {}),
      ...options.extraEnv,
      // e.g. BENCH_CONNECTOR_ENV="TOPIC_PARTITIONS=24" to try a setting without a flag.
      ...Object.fromEntries(
        (process.env.BENCH_CONNECTOR_ENV ?? '')
          .split(' ')
          .filter((kv) => kv.includes('='))
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      ),
    };
    procs.push(await startConnectorMain(i, env, join(tmpdir(), `${logName}-${i}.log`)));
  }
  return procs;
}

/** POST .../connect, the browser's round trip through Salesforce's authorize page, settings, Sync now. */
export async function connectThroughAdmin(
  base: string,
  org: BenchOrg,
  initliveUrl: string,
  steps: Record<string, number[]>,
): Promise<void> {
  let at = Date.now();
  const step = (name: string): void => {
    (steps[name] ??= []).push(Date.now() - at);
    at = Date.now();
  };
  const api = `${base}/api/orgs/${org.orgId}/salesforce`;
  const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const { authorizeUrl } = await postJson<{ authorizeUrl: string }>(`${api}/connect`, auth, {
    initlive: { baseUrl: initliveUrl, apiKey: org.initliveKey },
  });
  step('connect');
  // The administrator logs in as the org's user: Salesforce sends the browser back with a code.
  const authorize = new URL(authorizeUrl);
  authorize.searchParams.set('login_hint', org.sfUsername);
  const consent = await fetch(authorize, { redirect: 'manual' });
  const callback = consent.headers.get('location');
  if (consent.status !== 302 || !callback) {
    throw new Error(`authorize ${org.orgId}: ${consent.status} ${await consent.text()}`);
  }
  step('authorize');
  const back = await fetch(callback, { headers: { Accept: 'application/json' } });
  const connected = (await back.json()) as { connection?: string };
  if (back.status !== 200 || connected.connection !== 'connected') {
    throw new Error(`callback ${org.orgId}: ${back.status} ${JSON.stringify(connected)}`);
  }
  step('callback');
  const settings = await fetch(`${api}/settings`, {
    method: 'PUT',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ direction: 'two_way', defaultSystem: 'initlive' }),
  });
  if (settings.status !== 200) {
    throw new Error(`settings ${org.orgId}: ${settings.status} ${await settings.text()}`);
  }
  step('settings');
  const sync = await fetch(`${api}/sync`, { method: 'POST', headers: auth });
  if (sync.status !== 202)
    throw new Error(`sync ${org.orgId}: ${sync.status} ${await sync.text()}`);
  org.runId = ((await sync.json()) as { runId: string }).runId;
  step('syncNow');
}

/** Polls each organization's initial run until it ended (or 30 minutes). */
export async function awaitInitialSyncs(procs: ConnectorMain[], orgs: BenchOrg[], since: number) {
  const ended = new Map<string, { status: string; startedAt: number; endedAt: number }>();
  const deadline = Date.now() + 30 * 60_000;
  while (ended.size < orgs.length && Date.now() < deadline) {
    const open = orgs.filter((o) => !ended.has(o.orgId));
    await mapLimit(open, 16, async (org) => {
      const res = await fetch(
        `${procs[org.via]!.url}/api/orgs/${org.orgId}/salesforce/runs/${org.runId}`,
        { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } },
      ).catch(() => null); // a busy process may drop a poll: ask again next round
      if (res?.status !== 200) return;
      const run = (await res.json()) as { status: string; startedAt: unknown; endedAt: unknown };
      if (FINISHED.has(run.status)) {
        ended.set(org.orgId, {
          status: run.status,
          startedAt: epochMs(run.startedAt),
          endedAt: epochMs(run.endedAt),
        });
      }
    });
    if (ended.size < orgs.length) await sleep(1_000);
  }
  const runs = [...ended.values()];
  const byStatus: Record<string, number> = {};
  for (const r of runs) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  return {
    requested: orgs.length,
    ended: runs.length,
    byStatus,
    succeeded: byStatus.succeeded ?? 0,
    allSucceeded: (byStatus.succeeded ?? 0) === orgs.length,
    // From the first connect until the last run ended.
    wallMs: Math.max(0, ...runs.map((r) => r.endedAt)) - since,
    runMs: percentiles(runs.map((r) => r.endedAt - r.startedAt)),
  };
}

function epochMs(v: unknown): number {
  return typeof v === 'number' ? v : Date.parse(String(v));
}

/** Who holds each organization's source lease: the lock's value names the process id. */
async function leaseHolders(
  redis: Redis,
  prefix: string,
  orgs: BenchOrg[],
  procs: ConnectorMain[],
): Promise<Array<number | null>> {
  const byPid = new Map(procs.map((c) => [c.pid, c.index]));
  const holders: Array<number | null> = [];
  for (let i = 0; i < orgs.length; i += 500) {
    const keys = orgs.slice(i, i + 500).map((o) => `${prefix}:lock:source:${o.orgId}`);
    for (const owner of await redis.mget(...keys)) {
      const pid = owner === null ? NaN : Number(owner.split(':')[1]);
      holders.push(byPid.get(pid) ?? null);
    }
  }
  return holders;
}

/** Waits until every organization's lease is held and the counts are still for a lease. */
async function awaitSpread(
  redis: Redis,
  prefix: string,
  orgs: BenchOrg[],
  procs: ConnectorMain[],
  timeoutMs: number,
) {
  const alive = procs.filter((c) => !c.exited());
  const deadline = Date.now() + timeoutMs;
  let counts: number[] = [];
  let unheld = orgs.length;
  let stableSince: number | null = null;
  let last = '';
  while (Date.now() < deadline) {
    const holders = await leaseHolders(redis, prefix, orgs, procs);
    counts = procs.map((c) => holders.filter((h) => h === c.index).length);
    unheld = holders.filter((h) => h === null).length;
    const key = counts.join(',');
    if (unheld === 0 && key === last) {
      stableSince ??= Date.now();
      if (Date.now() - stableSince >= 10_000) break;
    } else {
      stableSince = null;
    }
    last = key;
    await sleep(1_000);
  }
  const fair = orgs.length / alive.length;
  const aliveCounts = alive.map((c) => counts[c.index] ?? 0);
  const worst = Math.max(...aliveCounts.map((x) => Math.abs(x - fair) / fair));
  return {
    perProcess: procs.map((c) => ({
      index: c.index,
      pid: c.pid,
      sources: counts[c.index] ?? 0,
      alive: !c.exited(),
    })),
    unheld,
    fairShare: Math.round(fair * 10) / 10,
    worstDeviation: Math.round(worst * 1000) / 1000,
    withinTwentyPercent: unheld === 0 && worst <= 0.2,
  };
}

interface CpuSnapshot {
  at: number;
  /** This process: both sandboxes and the bench's driver. */
  bench: number;
  connectors: Map<number, number>;
}

export async function cpuSnapshot(procs: ConnectorMain[]): Promise<CpuSnapshot> {
  const alive = procs.filter((c) => !c.exited());
  const samples = await Promise.all(alive.map((c) => sampleProcess(c.pid)));
  const own = process.cpuUsage();
  return {
    at: Date.now(),
    bench: (own.user + own.system) / 1000,
    connectors: new Map(alive.map((c, i) => [c.index, samples[i]!.cpuMs])),
  };
}

/** CPU time per wall time since `from` (1 = one core busy), per connector and for this process. */
export async function coresSince(from: CpuSnapshot, procs: ConnectorMain[]) {
  const now = await cpuSnapshot(procs);
  const wall = Math.max(1, now.at - from.at);
  const share = (ms: number): number => Math.round((ms / wall) * 100) / 100;
  return {
    sandboxesAndDriver: share(now.bench - from.bench),
    connectors: [...now.connectors].map(([index, ms]) => ({
      index,
      cores: share(ms - (from.connectors.get(index) ?? ms)),
    })),
  };
}

interface IdleSample {
  windowMs: number;
  /** This process's CPU during the window: both sandboxes answering the connectors. */
  sandboxesIdleCpuMs: number;
  processes: Array<ProcessSample & { index: number; idleCpuMs: number; metrics: SeriesCount }>;
  redis: { keys: number; bytes: number; byKind: Record<string, { keys: number; bytes: number }> };
}

/** Each process's RSS, sockets and CPU over `windowMs` of idling, its /metrics, and Redis. */
async function idleSample(
  procs: ConnectorMain[],
  redis: Redis,
  prefix: string,
  windowMs: number,
): Promise<IdleSample> {
  const alive = procs.filter((c) => !c.exited());
  const before = await Promise.all(alive.map((c) => sampleProcess(c.pid)));
  const own = process.cpuUsage();
  await sleep(windowMs);
  const after = await Promise.all(alive.map((c) => sampleProcess(c.pid)));
  const ownIdle = process.cpuUsage(own);
  const metrics = await Promise.all(alive.map((c) => countSeries(c.url)));
  return {
    windowMs,
    sandboxesIdleCpuMs: Math.round((ownIdle.user + ownIdle.system) / 1000),
    processes: alive.map((c, i) => ({
      index: c.index,
      ...after[i]!,
      idleCpuMs: after[i]!.cpuMs - before[i]!.cpuMs,
      metrics: metrics[i]!,
    })),
    redis: await redisFootprint(redis, `${prefix}:`),
  };
}

/** Keys under the prefix and their MEMORY USAGE, by the first segment of the key. */
async function redisFootprint(redis: Redis, prefix: string) {
  const byKind: Record<string, { keys: number; bytes: number }> = {};
  let keys = 0;
  let bytes = 0;
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (batch.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of batch) pipeline.memory('USAGE', key, 'SAMPLES', '0');
    const sizes = (await pipeline.exec()) ?? [];
    batch.forEach((key, i) => {
      const size = Number(sizes[i]?.[1] ?? 0);
      const kind = key.slice(prefix.length).split(':')[0] ?? '';
      const k = (byKind[kind] ??= { keys: 0, bytes: 0 });
      k.keys += 1;
      k.bytes += size;
      keys += 1;
      bytes += size;
    });
  } while (cursor !== '0');
  return { keys, bytes, byKind };
}

/** What connecting the organizations added, divided by their number. */
function perOrgCost(base: IdleSample, now: IdleSample, orgs: number) {
  const sum = (s: IdleSample, f: (p: IdleSample['processes'][number]) => number): number =>
    s.processes.reduce((a, x) => a + f(x), 0);
  const per = (f: (p: IdleSample['processes'][number]) => number): number =>
    Math.round(((sum(now, f) - sum(base, f)) / orgs) * 1000) / 1000;
  const cpuShare = (s: IdleSample): number => sum(s, (x) => x.idleCpuMs) / s.windowMs;
  return {
    rssKb: Math.round(per((x) => x.rssMb) * 1024),
    sockets: per((x) => x.sockets),
    fds: per((x) => x.fds),
    // CPU while nothing changes (polls, heartbeats, lease renewals), in ms per second.
    idleCpuMsPerSecond: Math.round(((cpuShare(now) - cpuShare(base)) / orgs) * 1000 * 1000) / 1000,
    redisKeys: Math.round(((now.redis.keys - base.redis.keys) / orgs) * 10) / 10,
    redisBytes: Math.round((now.redis.bytes - base.redis.bytes) / orgs),
    metricSeries: per((x) => x.metrics.series),
    metricSeriesWithOrgLabel: per((x) => x.metrics.withOrgLabel),
  };
}

/**
 * InitLive edits (a new phone each) to staff of the chosen organizations, each timed until
 * our write of that phone commits on the organization's Contact in Salesforce. A person with
 * an edit still on its way is not edited again, so every edit lands as its own write.
 */
export class ChangeStream {
  readonly changes: Change[] = [];
  private readonly waiting = new Map<string, Change>();
  /** The change on its way for each person (`<orgId>/<staffId>`, the topics' record key). */
  private readonly outstanding = new Map<string, Change>();
  private readonly staff = new Map<string, string[]>();
  private readonly offs: Array<() => void> = [];
  private seq = 0;
  private readonly random = createPrng(7);

  constructor(
    private readonly sf: Awaited<ReturnType<typeof startSalesforceSandbox>>,
    private readonly il: Awaited<ReturnType<typeof startInitLiveSandbox>>,
    private readonly orgs: BenchOrg[],
  ) {
    for (const org of orgs) {
      this.staff.set(
        org.orgId,
        il.control.listStaff({ orgId: org.orgId }).map((s) => s.id),
      );
      const control = sf.org(org.sfOrgId)!.control;
      this.offs.push(control.onWrite((events) => this.landed(events)));
    }
  }

  private landed(events: ContactWriteEvent[]): void {
    for (const ev of events) {
      if (ev.client !== 'InitLiveSync') continue;
      const phone = ev.after?.Phone;
      const change = typeof phone === 'string' ? this.waiting.get(phone) : undefined;
      if (!change) continue;
      change.landedAt = ev.commitTimestamp;
      this.waiting.delete(change.phone);
      this.outstanding.delete(`${change.orgId}/${change.staffId}`);
    }
  }

  /** A staff change record on the topic: the source read the person's change by `at`. */
  read(key: string, at: number): void {
    const change = this.outstanding.get(key);
    if (change && change.readAt === null && at >= change.sentAt) change.readAt = at;
  }

  /**
   * A record on the Salesforce writes topic: the reconciler decided by `at` the writes of the
   * changes whose phone numbers it carries (Avro keeps strings as their UTF-8 bytes).
   */
  decided(value: Buffer, at: number): void {
    for (const phone of value.toString('latin1').match(PHONE) ?? []) {
      const change = this.waiting.get(phone);
      if (change && change.decidedAt === null) change.decidedAt = at;
    }
  }

  /** `rate` edits a second for `seconds`, in 20 ms slices (catching up when one ran late). */
  async run(rate: number, seconds: number, at?: { ms: number; fn: () => void }): Promise<Change[]> {
    const mine: Change[] = [];
    const total = Math.round(rate * seconds);
    const started = Date.now();
    let fired = false;
    while (mine.length < total) {
      const elapsed = Date.now() - started;
      if (at && !fired && elapsed >= at.ms) {
        fired = true;
        at.fn();
      }
      const due = Math.min(total, Math.floor((elapsed / 1000) * rate));
      while (mine.length < due) {
        const change = this.edit();
        if (!change) break;
        mine.push(change);
      }
      await sleep(20);
    }
    return mine;
  }

  private edit(): Change | null {
    for (let tries = 0; tries < 50; tries++) {
      const org = this.orgs[Math.floor(this.random() * this.orgs.length)]!;
      const ids = this.staff.get(org.orgId)!;
      const staffId = ids[Math.floor(this.random() * ids.length)]!;
      const key = `${org.orgId}/${staffId}`;
      if (this.outstanding.has(key)) continue;
      this.seq += 1;
      const phone = `+1 ${String(this.seq).padStart(9, '0')}`; // PHONE finds it again
      const change: Change = {
        orgId: org.orgId,
        staffId,
        phone,
        sentAt: Date.now(),
        readAt: null,
        decidedAt: null,
        landedAt: null,
      };
      this.outstanding.set(key, change);
      this.waiting.set(phone, change);
      this.changes.push(change);
      this.il.control.updateStaff(staffId, { phone }, { orgId: org.orgId });
      return change;
    }
    return null;
  }

  /** Resolves once every edit has landed, or after `timeoutMs`; answers how long it took. */
  async drain(timeoutMs: number): Promise<number> {
    const started = Date.now();
    while (this.waiting.size > 0 && Date.now() - started < timeoutMs) await sleep(100);
    return Date.now() - started;
  }

  /**
   * People whose Contact does not show their last phone: lost changes, whatever the
   * timings said.
   */
  mismatches(): { people: number; wrong: number } {
    const last = new Map<string, Change>();
    for (const c of this.changes) last.set(`${c.orgId}/${c.staffId}`, c);
    let wrong = 0;
    const contacts = new Map<string, Map<string, unknown>>();
    for (const c of last.values()) {
      let byStaff = contacts.get(c.orgId);
      if (!byStaff) {
        const org = this.orgs.find((o) => o.orgId === c.orgId)!;
        byStaff = new Map(
          this.sf
            .org(org.sfOrgId)!
            .control.listContacts()
            .map((x) => [String(x.InitLive_Staff_Id__c), x.Phone]),
        );
        contacts.set(c.orgId, byStaff);
      }
      if (byStaff.get(c.staffId) !== c.phone) wrong += 1;
    }
    return { people: last.size, wrong };
  }

  close(): void {
    for (const off of this.offs) off();
  }
}

export function summarize(changes: Change[], drainMs: number) {
  const landed = changes.filter((c) => c.landedAt !== null);
  return {
    changes: changes.length,
    landed: landed.length,
    lost: changes.length - landed.length,
    drainMs,
    latencyMs: percentiles(landed.map((c) => c.landedAt! - c.sentAt)),
    // Where it went: from the edit until the source put it on the topic, and from there until
    // the Contact's write committed (reconciler and sink), split where the reconciler put the
    // write on the writes topic.
    sourceMs: percentiles(landed.filter((c) => c.readAt).map((c) => c.readAt! - c.sentAt)),
    downstreamMs: percentiles(landed.filter((c) => c.readAt).map((c) => c.landedAt! - c.readAt!)),
    reconcilerMs: percentiles(
      landed.filter((c) => c.readAt && c.decidedAt).map((c) => c.decidedAt! - c.readAt!),
    ),
    sinkMs: percentiles(landed.filter((c) => c.decidedAt).map((c) => c.landedAt! - c.decidedAt!)),
  };
}

/**
 * The stream again; a third of the way in, SIGKILL to the process holding the most leases.
 * Its organizations count as resumed when each one's lease is held by a survivor.
 */
async function failover(
  stream: ChangeStream,
  procs: ConnectorMain[],
  redis: Redis,
  prefix: string,
  orgs: BenchOrg[],
  rate: number,
  seconds: number,
  leaseMs: number,
) {
  const holders = await leaseHolders(redis, prefix, orgs, procs);
  const counts = procs.map((c) => holders.filter((h) => h === c.index).length);
  const victim = procs[counts.indexOf(Math.max(...counts))]!;
  const moved = orgs.filter((_, i) => holders[i] === victim.index);
  let killedAt = 0;
  const resumedAt = new Map<string, number>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      if (killedAt > 0) {
        const now = await leaseHolders(redis, prefix, moved, procs);
        const at = Date.now();
        moved.forEach((o, i) => {
          const h = now[i];
          if (h !== null && h !== undefined && h !== victim.index && !resumedAt.has(o.orgId)) {
            resumedAt.set(o.orgId, at);
          }
        });
        if (resumedAt.size === moved.length) return;
      }
      await sleep(250);
    }
  })();
  const changes = await stream.run(rate, seconds, {
    ms: (seconds * 1000) / 3,
    fn: () => {
      killedAt = Date.now();
      victim.kill9();
    },
  });
  const drainMs = await stream.drain(180_000);
  await watcher;
  watching = false;
  const resumeMs = moved.map((o) => (resumedAt.get(o.orgId) ?? NaN) - killedAt);
  const during = changes.filter((c) => c.sentAt >= killedAt);
  return {
    killed: { index: victim.index, pid: victim.pid, organizations: moved.length },
    resumed: resumedAt.size,
    resumeMs: percentiles(resumeMs.filter(Number.isFinite)),
    boundMs: leaseMs + 10_000,
    withinBound: resumedAt.size === moved.length && Math.max(...resumeMs) <= leaseMs + 10_000,
    ...summarize(changes, drainMs),
    afterKill: summarize(during, drainMs),
    spreadAfter: await awaitSpread(redis, prefix, orgs, procs, 3 * leaseMs),
  };
}

/**
 * Follows a change stream through the pipeline: each staff change as the source puts it on its
 * topic, and each Contact write as the reconciler puts it on the writes topic.
 */
export async function traceChanges(
  brokers: string[],
  prefix: string,
  stream: ChangeStream,
): Promise<{ disconnect(): Promise<void> }> {
  const traces = await Promise.all([
    traceTopic(brokers, `${prefix}.initlive.staff-changes`, (key, at) => stream.read(key, at)),
    traceTopic(brokers, `${prefix}.salesforce.writes`, (_key, at, value) => {
      if (value) stream.decided(value, at);
    }),
  ]);
  return { disconnect: async () => void (await Promise.all(traces.map((t) => t.disconnect()))) };
}

/** Calls `onRecord(key, timestamp, value)` for each record put on `topic` from now on. */
export async function traceTopic(
  brokers: string[],
  topic: string,
  onRecord: (key: string, at: number, value: Buffer | null) => void,
): Promise<Consumer> {
  const kafka = new Kafka({ clientId: `${topic}-trace`, brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${topic}-trace-${randomUUID().slice(0, 6)}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: false });
  const joined = new Promise<void>((resolve) =>
    consumer.on(consumer.events.GROUP_JOIN, () => resolve()),
  );
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        if (m.key) onRecord(m.key.toString(), Number(m.timestamp), m.value);
      }
    },
  });
  await joined;
  return consumer;
}

export async function postJson<T>(
  url: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200 && res.status !== 201) {
    throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  }
  return (await res.json()) as T;
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/** `count` of `items`, drawn without replacement by a seeded generator (the same each run). */
export function pick<T>(items: T[], count: number, seed: number): T[] {
  const random = createPrng(seed);
  const pool = [...items];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

export type { Percentiles };
