import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { FullSyncJob } from '../src/batch/full-sync-job';
import type { RunCounts } from '../src/batch/run-types';
import { defaultMapping } from '../src/core/mapping';
import { createInitLiveClient } from '../src/infra/initlive';
import { closeRedis, createRedis, deleteByPrefix } from '../src/infra/redis/connect';
import { RedisRunStore } from '../src/infra/redis/redis-run-store';
import { MemoryRecordStatusStore } from '../src/infra/memory/memory-record-status-store';
import { MemoryRunStore } from '../src/infra/memory/memory-run-store';
import { RedisRecordStatusStore } from '../src/infra/redis/redis-record-status-store';
import { createSalesforceConnection } from '../src/infra/salesforce/connection';
import { createLogger, silentLogger, type Logger } from '../src/logger';
import { StaticOrgDirectory } from '../src/orgs/org-directory';
import { createRuntime } from '../src/pipeline/runtime';
import type { OrgRuntime } from '../src/orgs/org-directory';
import { OutcomeTracker } from '../src/outcomes/outcome-tracker';
import { Reconciler } from '../src/reconciler/reconciler';
import { startInitLiveSandbox } from '../src/sandbox/initlive';
import { startSalesforceSandbox } from '../src/sandbox/salesforce';
import { InitLiveSink } from '../src/sink/initlive-sink';
import { SalesforceSink } from '../src/sink/salesforce-sink';
import { forkChild, serveChild } from './child-rpc';

export interface FullSyncBenchOptions {
  /** Records per side. Default 50,000. */
  records?: number;
  /** Share of people present on both sides (same email). Default 0.2. */
  overlap?: number;
  /** Give up after this long. Default 10 min. */
  timeoutMs?: number;
  /**
   * Where the two sandboxes run: `child` (default) in a child process of their own, so
   * `peakRssMb` is the connector's alone; `in-process` beside the connector, as before.
   */
  sandboxes?: 'child' | 'in-process';
  /**
   * Keep version vectors, positions, the email index and run checkpoints in this Redis (as in
   * production) instead of in process memory, so RSS shows the connector without its state.
   */
  redisUrl?: string;
  /** Kafka brokers and registry (as in production); the in-memory transport when absent. */
  kafkaBrokers?: string[];
  schemaRegistryUrl?: string;
}

export interface FullSyncBenchResult {
  /** Where the connector's records and state were kept, e.g. `kafka+redis` or `memory`. */
  mode?: string;
  records: number;
  overlap: number;
  /** From the start of the run until the reconciler and sinks have drained. */
  wallMs: number;
  /** Until the run itself ended (everything read and reconciled). */
  runMs: number;
  /**
   * For each consumer group still behind when the run ended: when it last had lag, from the
   * start of the run (a group absent had drained by then).
   */
  drainedMs: Record<string, number>;
  /** When each phase of the run stored its first checkpoint, from the start of the run. */
  phasesMs: Record<string, number>;
  /** Salesforce API calls counted by the sandbox during the run (the daily-allocation meter). */
  salesforceApiCalls: number;
  /** Per endpoint, to see what dominates. */
  salesforceEndpoints: Record<string, number>;
  initliveRequests: number;
  sandboxes: 'child' | 'in-process';
  /**
   * Peak RSS of this process, sampled every 100 ms during the run: the connector alone when
   * the sandboxes run in a child process, both sandboxes included otherwise.
   */
  peakRssMb: number;
  /**
   * CPU time (user + system) this process spent from the start of the run until drained: the
   * connector's work (the sandboxes' too when in process). Steadier than the wall time on a
   * shared machine, so it shows what a change saved.
   */
  cpuMs: number;
  /** `cpuMs` per 1,000 records read (both sides): read, reconcile and write, per record. */
  cpuMsPer1000Records: number;
  /**
   * `process.memoryUsage()` in MB at the sample where RSS peaked: how much of the peak is V8's
   * heap (`heapTotal` reserved, `heapUsed` live or not yet collected) and how much Buffers
   * (`arrayBuffers`, within `external`); the rest is code, stacks and the allocator's own.
   */
  atPeakMb: { heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  /** RSS just before the run (the idle pipeline; plus both seeded sandboxes when in process). */
  baselineRssMb: number;
  /** Peak RSS of the sandboxes' child process during the run (null when in process). */
  sandboxPeakRssMb: number | null;
  staffAfter: number;
  contactsAfter: number;
  status: string;
  /** The run's counts (outcomes in the systems written). */
  counts: RunCounts;
  /** Record status and history in Redis after the run (null in memory). */
  recordStatus: { keys: number; bytes: number; bytesPerRecord: number } | null;
}

const pad = (i: number): string => String(i).padStart(6, '0');

/** What the bench needs of the two seeded sandboxes, wherever they run. */
interface Sandboxes {
  initliveBaseUrl: string;
  salesforce: {
    loginUrl: string;
    clientId: string;
    clientSecret: string;
    username: string;
    password: string;
  };
  /** Zeroes the API meter and request counters, and starts sampling RSS. */
  reset(): Promise<void>;
  tally(): Promise<SandboxTally>;
  close(): Promise<void>;
}

interface SandboxTally {
  apiCallsUsed: number;
  endpoints: Record<string, number>;
  initliveRequests: number;
  staff: number;
  contacts: number;
  /** Peak RSS of the process holding the sandboxes since reset(). */
  peakRssMb: number;
}

/** Starts both sandboxes in this process, seeded with `records` each, `overlap` shared. */
async function startSandboxes(records: number, overlap: number): Promise<Sandboxes> {
  const shared = Math.round(records * overlap);
  const il = await startInitLiveSandbox({ rateLimit: false });
  for (let i = 0; i < records; i++) {
    il.control.createStaff(
      i < shared
        ? {
            firstName: `Shared${pad(i)}`,
            lastName: 'Person',
            email: `shared${pad(i)}@example.org`,
            phone: `555-2${pad(i)}`,
          }
        : { firstName: `Staff${pad(i)}`, lastName: 'Only', email: `staff${pad(i)}@example.org` },
    );
  }
  const sf = await startSalesforceSandbox({
    streaming: false,
    bulkPollDelayMs: 100,
    apiDailyMax: 1_000_000,
    seed: Array.from({ length: records }, (_, i) =>
      i < shared
        ? {
            FirstName: `Shared${pad(i)}`,
            LastName: 'Person',
            Email: `shared${pad(i)}@example.org`,
            Phone: `555-1${pad(i)}`,
          }
        : {
            FirstName: `Contact${pad(i)}`,
            LastName: 'Only',
            Email: `contact${pad(i)}@example.org`,
          },
    ),
  });
  let peakRss = 0;
  let sampler: NodeJS.Timeout | null = null;
  return {
    initliveBaseUrl: il.baseUrl,
    salesforce: {
      loginUrl: sf.loginUrl,
      clientId: sf.clientId,
      clientSecret: sf.clientSecret,
      username: sf.username,
      password: sf.password,
    },
    reset: async () => {
      sf.control.resetApiUsage();
      il.control.resetCounters();
      peakRss = process.memoryUsage().rss;
      if (sampler) clearInterval(sampler);
      sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }, 100);
    },
    tally: async () => {
      const counters = sf.control.counters();
      return {
        apiCallsUsed: counters.apiCallsUsed,
        endpoints: counters.endpoints,
        initliveRequests: il.control.counters().requestsTotal,
        staff: il.control.listStaff().length,
        contacts: sf.control.listContacts().length,
        peakRssMb: Math.round(peakRss / 1_048_576),
      };
    },
    close: async () => {
      if (sampler) clearInterval(sampler);
      await Promise.all([il.close(), sf.close()]);
    },
  };
}

/** Both sandboxes in a child process (this file with `--sandboxes`), driven over IPC. */
async function startSandboxesInChild(records: number, overlap: number): Promise<Sandboxes> {
  const child = forkChild(__filename, '--sandboxes');
  const started = await child.ask<Pick<Sandboxes, 'initliveBaseUrl' | 'salesforce'>>('start', {
    records,
    overlap,
  });
  return {
    ...started,
    reset: () => child.ask<void>('reset'),
    tally: () => child.ask<SandboxTally>('tally'),
    close: () => child.close(),
  };
}

/** The child's side: serves the requests of startSandboxesInChild. */
function serveSandboxes(): void {
  let sandboxes: Sandboxes | null = null;
  serveChild(
    async (op, req) => {
      switch (op) {
        case 'start':
          sandboxes = await startSandboxes(Number(req.records), Number(req.overlap));
          return { initliveBaseUrl: sandboxes.initliveBaseUrl, salesforce: sandboxes.salesforce };
        case 'reset':
          return sandboxes?.reset();
        case 'tally':
          return sandboxes?.tally();
        default:
          throw new Error(`unknown request ${op}`);
      }
    },
    async () => {
      await sandboxes?.close();
    },
  );
}

/**
 * A full sync of `records` staff against `records` Contacts, `overlap` of them the same person
 * (by email), end to end: both sandboxes (in a child process by default), the in-memory
 * transport and stores, the real reconciler and sinks.
 */
export async function benchFullSync(
  options: FullSyncBenchOptions = {},
): Promise<FullSyncBenchResult> {
  const records = options.records ?? 50_000;
  const overlap = options.overlap ?? 0.2;
  const where = options.sandboxes ?? 'child';
  const sandboxes =
    where === 'child'
      ? await startSandboxesInChild(records, overlap)
      : await startSandboxes(records, overlap);
  const sf = sandboxes.salesforce;
  const tokenRes = await fetch(`${sf.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: sf.clientId,
      client_secret: sf.clientSecret,
      username: sf.username,
      password: sf.password,
    }),
  });
  const token = (await tokenRes.json()) as { access_token: string; instance_url: string };
  const conn = createSalesforceConnection({
    credentials: {
      instanceUrl: token.instance_url,
      accessToken: token.access_token,
      loginUrl: sf.loginUrl,
      clientId: sf.clientId,
      clientSecret: sf.clientSecret,
    },
    apiVersion: '62.0',
    clientTag: 'InitLiveSync',
    logger: benchLogger(),
  });
  const org: OrgRuntime = {
    orgId: 'org_demo',
    settings: {
      direction: 'two_way',
      defaultSystem: 'initlive',
      deletePolicy: 'archive',
      mapping: defaultMapping,
    },
    streaming: false,
    salesforce: conn,
    initlive: createInitLiveClient({
      baseUrl: sandboxes.initliveBaseUrl,
      apiKey: 'sandbox-key',
      orgId: 'org_demo',
      changeOrigin: 'salesforce-sync',
    }),
    initliveOrigin: 'salesforce-sync',
    salesforceClientTag: 'InitLiveSync',
  };
  // The same composition as the connector (src/pipeline/runtime.ts): Kafka, the registry and
  // Redis when given, the in-memory transport (dropping what every group committed) and stores
  // otherwise.
  const prefix = `bench${randomUUID().slice(0, 8)}`;
  const runtime = await createRuntime(
    {
      ...(options.kafkaBrokers ? { kafkaBrokers: options.kafkaBrokers } : {}),
      kafkaClientId: prefix,
      ...(options.schemaRegistryUrl ? { schemaRegistryUrl: options.schemaRegistryUrl } : {}),
      subjectPrefix: `${prefix}.`,
      ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
      redisKeyPrefix: `${prefix}:`,
      topicPrefix: prefix,
      topicPartitions: 6,
      groupPrefix: 'bench',
    },
    new StaticOrgDirectory([org]),
    benchLogger(),
  );
  const redis = options.redisUrl
    ? createRedis(options.redisUrl, { connectionName: 'bench' })
    : null;
  const keyPrefix = `${prefix}:`;
  const { transport, topics } = runtime.deps;
  const deps = {
    ...runtime.deps,
    runStore: redis ? new RedisRunStore({ redis, keyPrefix }) : new MemoryRunStore(),
  };
  const statuses = redis
    ? new RedisRecordStatusStore({ redis, keyPrefix })
    : new MemoryRecordStatusStore();
  const reconciler = new Reconciler(deps);
  // The connector's defaults (200 ms linger, Bulk above 2,000 writes).
  const sfSink = new SalesforceSink(deps);
  const ilSink = new InitLiveSink(deps);
  // Counts the run's outcomes (the run ends when its writes have landed) and keeps record status.
  const tracker = new OutcomeTracker({ ...deps, runs: deps.runStore, statuses });
  await reconciler.start();
  await Promise.all([sfSink.start(), ilSink.start(), tracker.start()]);

  await sandboxes.reset();
  let atPeak = process.memoryUsage();
  const baselineRss = atPeak.rss;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    if (now.rss > atPeak.rss) atPeak = now;
  }, 100);
  const started = Date.now();
  const cpuAtStart = process.cpuUsage();
  const deadline = started + (options.timeoutMs ?? 600_000);
  const phases: Record<string, number> = {};
  const record = await new FullSyncJob(deps, {
    bulkPollMs: 100,
    settleTimeoutMs: options.timeoutMs ?? 600_000,
    onCheckpoint: (cp) => {
      phases[cp.phase] ??= Date.now() - started;
    },
  }).run(org.orgId, `run_${randomUUID()}`);
  const runMs = Date.now() - started;
  const groups = [
    { group: 'bench.reconciler', topics: [topics.staffChanges, topics.contactChanges] },
    { group: sfSink.groupId, topics: [topics.salesforceWrites] },
    { group: ilSink.groupId, topics: [topics.initliveWrites] },
    { group: tracker.groupId, topics: [topics.outcomes] },
  ];
  const drainedMs: Record<string, number> = {};
  for (let quiet = 0; quiet < 5;) {
    const lags = await Promise.all(groups.map((g) => transport.lag(g.group, g.topics)));
    lags.forEach((l, i) => {
      if (l.some((p) => p.lag > 0)) drainedMs[groups[i]!.group] = Date.now() - started;
    });
    quiet = lags.flat().every((p) => p.lag === 0) ? quiet + 1 : 0;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const wallMs = Date.now() - started;
  const cpu = process.cpuUsage(cpuAtStart);
  clearInterval(sampler);
  const tally = await sandboxes.tally();
  const result: FullSyncBenchResult = {
    records,
    overlap,
    wallMs,
    runMs,
    drainedMs,
    phasesMs: phases,
    salesforceApiCalls: tally.apiCallsUsed,
    salesforceEndpoints: tally.endpoints,
    initliveRequests: tally.initliveRequests,
    sandboxes: where,
    peakRssMb: Math.round(atPeak.rss / 1_048_576),
    atPeakMb: {
      heapTotal: Math.round(atPeak.heapTotal / 1_048_576),
      heapUsed: Math.round(atPeak.heapUsed / 1_048_576),
      external: Math.round(atPeak.external / 1_048_576),
      arrayBuffers: Math.round(atPeak.arrayBuffers / 1_048_576),
    },
    cpuMs: Math.round((cpu.user + cpu.system) / 1_000),
    cpuMsPer1000Records: Math.round((cpu.user + cpu.system) / 1_000 / ((records * 2) / 1_000)),
    baselineRssMb: Math.round(baselineRss / 1_048_576),
    sandboxPeakRssMb: where === 'child' ? tally.peakRssMb : null,
    staffAfter: tally.staff,
    contactsAfter: tally.contacts,
    status: record.status,
    counts: record.counts,
    recordStatus: redis ? await recordStatusBytes(redis, keyPrefix, tally.staff) : null,
  };
  await Promise.all([reconciler.stop(), sfSink.stop(), ilSink.stop(), tracker.stop()]);
  await runtime.close();
  await sandboxes.close();
  if (redis) {
    await deleteByPrefix(redis, keyPrefix);
    await closeRedis(redis);
  }
  return { mode: runtime.mode, ...result };
}

/** BENCH_LOG=warn (or info, debug) writes the connector's log lines to stderr. */
function benchLogger(): Logger {
  const level = process.env.BENCH_LOG;
  if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') {
    return silentLogger;
  }
  return createLogger({ level, write: (line) => process.stderr.write(`${line}\n`) });
}

/**
 * What each volunteer's status and history cost in Redis after the run: MEMORY USAGE of every
 * record-status key (status hashes and history lists), per record of the larger side.
 */
async function recordStatusBytes(
  redis: Redis,
  keyPrefix: string,
  records: number,
): Promise<{ keys: number; bytes: number; bytesPerRecord: number }> {
  let keys = 0;
  let bytes = 0;
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${keyPrefix}rs:*`, 'COUNT', 1000);
    const sizes = await Promise.all(batch.map((k) => redis.memory('USAGE', k)));
    keys += batch.length;
    for (const n of sizes) bytes += Number(n ?? 0);
    cursor = next;
  } while (cursor !== '0');
  return { keys, bytes, bytesPerRecord: Math.round(bytes / Math.max(1, records)) };
}

if (require.main === module && process.argv[2] === '--sandboxes') {
  serveSandboxes();
} else if (require.main === module) {
  // npx ts-node --transpile-only bench/full-sync.ts [records] [--in-process]
  const records = Number(process.argv[2] ?? 50_000);
  const sandboxes = process.argv.includes('--in-process') ? 'in-process' : 'child';
  benchFullSync({ records, sandboxes }).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
