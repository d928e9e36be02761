import { randomUUID } from 'node:crypto';
import { FullSyncJob } from '../src/batch/full-sync-job';
import { defaultMapping } from '../src/core/mapping';
import { topicNames } from '../src/core/topics';
import { createEmbeddedCodec } from '../src/infra/avro/avro-codec';
import { createInitLiveClient } from '../src/infra/initlive';
import { MemoryEmailIndex } from '../src/infra/memory/memory-email-index';
import { MemoryPositionStore } from '../src/infra/memory/memory-position-store';
import { MemoryRunStore } from '../src/infra/memory/memory-run-store';
import { MemoryTransport } from '../src/infra/memory/memory-transport';
import { MemoryVersionStore } from '../src/infra/memory/memory-version-store';
import { createSalesforceConnection } from '../src/infra/salesforce/connection';
import { silentLogger } from '../src/logger';
import { StaticOrgDirectory } from '../src/orgs/org-directory';
import type { OrgRuntime } from '../src/orgs/org-directory';
import { SyncEvents } from '../src/pipeline/events';
import { Reconciler } from '../src/reconciler/reconciler';
import { startInitLiveSandbox } from '../src/sandbox/initlive';
import { startSalesforceSandbox } from '../src/sandbox/salesforce';
import { InitLiveSink } from '../src/sink/initlive-sink';
import { SalesforceSink } from '../src/sink/salesforce-sink';

export interface FullSyncBenchOptions {
  /** Records per side. Default 50,000. */
  records?: number;
  /** Share of people present on both sides (same email). Default 0.2. */
  overlap?: number;
  /** Run the sinks so both sandboxes end converged (default true). */
  sinks?: boolean;
  /** Give up after this long. Default 10 min. */
  timeoutMs?: number;
}

export interface FullSyncBenchResult {
  records: number;
  overlap: number;
  /** From the start of the run until the reconciler and sinks have drained. */
  wallMs: number;
  /** Until the run itself ended (everything read and reconciled). */
  runMs: number;
  /** Salesforce API calls counted by the sandbox during the run (the daily-allocation meter). */
  salesforceApiCalls: number;
  /** Per endpoint, to see what dominates. */
  salesforceEndpoints: Record<string, number>;
  initliveRequests: number;
  /** Peak RSS of this process, sampled every 100 ms during the run (sandboxes included). */
  peakRssMb: number;
  /** RSS just before the run: both seeded sandboxes and the idle pipeline. */
  baselineRssMb: number;
  staffAfter: number;
  contactsAfter: number;
  status: string;
}

const pad = (i: number): string => String(i).padStart(6, '0');

/**
 * A full sync of `records` staff against `records` Contacts, `overlap` of them the same person
 * (by email), end to end in one process: both sandboxes, the in-memory transport and stores,
 * the real reconciler and sinks.
 */
export async function benchFullSync(
  options: FullSyncBenchOptions = {},
): Promise<FullSyncBenchResult> {
  const records = options.records ?? 50_000;
  const overlap = options.overlap ?? 0.2;
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
    logger: silentLogger,
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
      baseUrl: il.baseUrl,
      apiKey: 'sandbox-key',
      orgId: 'org_demo',
      changeOrigin: 'salesforce-sync',
    }),
    initliveOrigin: 'salesforce-sync',
    salesforceClientTag: 'InitLiveSync',
  };
  const transport = new MemoryTransport({ logger: silentLogger });
  const topics = topicNames(`bench${randomUUID().slice(0, 8)}`);
  await transport.ensureTopics(Object.values(topics).map((name) => ({ name, partitions: 6 })));
  const deps = {
    transport,
    codec: createEmbeddedCodec(),
    store: new MemoryVersionStore(),
    positions: new MemoryPositionStore(),
    emailIndex: new MemoryEmailIndex(),
    orgs: new StaticOrgDirectory([org]),
    topics,
    logger: silentLogger,
    events: new SyncEvents(),
    groupPrefix: 'bench',
    now: Date.now,
    runStore: new MemoryRunStore(),
  };
  const reconciler = new Reconciler(deps);
  const sfSink = new SalesforceSink(deps, { lingerMs: 50 });
  const ilSink = new InitLiveSink(deps);
  await reconciler.start();
  if (options.sinks !== false) await Promise.all([sfSink.start(), ilSink.start()]);

  sf.control.resetApiUsage();
  il.control.resetCounters();
  const baselineRss = process.memoryUsage().rss;
  let peakRss = baselineRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 600_000);
  const record = await new FullSyncJob(deps, {
    bulkPollMs: 100,
    settleTimeoutMs: options.timeoutMs ?? 600_000,
  }).run(org.orgId, `run_${randomUUID()}`);
  const runMs = Date.now() - started;
  const groups = [
    { group: 'bench.reconciler', topics: [topics.staffChanges, topics.contactChanges] },
    ...(options.sinks === false
      ? []
      : [
          { group: sfSink.groupId, topics: [topics.salesforceWrites] },
          { group: ilSink.groupId, topics: [topics.initliveWrites] },
        ]),
  ];
  for (let quiet = 0; quiet < 5;) {
    const lags = await Promise.all(groups.map((g) => transport.lag(g.group, g.topics)));
    quiet = lags.flat().every((p) => p.lag === 0) ? quiet + 1 : 0;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const wallMs = Date.now() - started;
  clearInterval(sampler);
  const counters = sf.control.counters();
  const result: FullSyncBenchResult = {
    records,
    overlap,
    wallMs,
    runMs,
    salesforceApiCalls: counters.apiCallsUsed,
    salesforceEndpoints: counters.endpoints,
    initliveRequests: il.control.counters().requestsTotal,
    peakRssMb: Math.round(peakRss / 1_048_576),
    baselineRssMb: Math.round(baselineRss / 1_048_576),
    staffAfter: il.control.listStaff().length,
    contactsAfter: sf.control.listContacts().length,
    status: record.status,
  };
  await Promise.all([reconciler.stop(), sfSink.stop(), ilSink.stop()]);
  await transport.close();
  await Promise.all([il.close(), sf.close()]);
  return result;
}

if (require.main === module) {
  const records = Number(process.argv[2] ?? 50_000);
  benchFullSync({ records }).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
