import { fork, type ChildProcess } from 'node:child_process';
import { defaultMapping } from '../src/core/mapping';
import type { SyncDirection } from '../src/core/reconcile';
import { createInitLiveClient } from '../src/infra/initlive';
import { closeRedis, createRedis } from '../src/infra/redis/connect';
import { RedisLock } from '../src/infra/redis/redis-lock';
import { createSalesforceConnection } from '../src/infra/salesforce/connection';
import { silentLogger } from '../src/logger';
import { StaticOrgDirectory, type OrgRuntime } from '../src/orgs/org-directory';
import { createPipeline } from '../src/pipeline/connector';
import { createRuntime } from '../src/pipeline/runtime';

/**
 * The streaming connector in a process of its own, for the benches that need its RSS and CPU
 * apart from the sandboxes' and the workload's (steady memory), or several connector processes
 * in one consumer group (how records split between them). The bench process keeps both
 * sandboxes, so latency is still measured on one clock. Kafka, the registry and Redis only:
 * the in-memory transport cannot be shared between processes.
 */

export interface ConnectorProcessConfig {
  salesforce: {
    loginUrl: string;
    clientId: string;
    clientSecret: string;
    username: string;
    password: string;
  };
  initliveBaseUrl: string;
  direction: SyncDirection;
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  redisUrl: string;
  /** Shared by every connector process of one bench: topics, groups, keys, subjects. */
  prefix: string;
  /** Salesforce sink linger; the product default when absent. */
  lingerMs?: number;
  /** Node flags for the child (the deployed heap limit). */
  execArgv?: string[];
}

/** What one connector process did since its start, and what it holds now. */
export interface ConnectorSample {
  pid: number;
  rssMb: number;
  heapUsedMb: number;
  /** User + system CPU since the process started. */
  cpuMs: number;
  /** InitLive feed entries and Salesforce change events its sources read. */
  sourceRecords: number;
  /** Decisions its reconciler made (records of the change topics it consumed). */
  reconciled: number;
  /** Contacts and staff its sinks wrote. */
  sinkRecords: number;
  /** Organizations whose sources it runs (the source lease). */
  sourcesHeld: number;
}

type Request =
  | { id: number; op: 'start'; config: ConnectorProcessConfig }
  | { id: number; op: 'sample' | 'close' };
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

const ORG = 'org_demo';

export interface ConnectorProcess {
  pid: number;
  sample(): Promise<ConnectorSample>;
  close(): Promise<void>;
}

/** Forks this file as a connector process, started and ready when this resolves. */
export async function startConnectorProcess(
  config: ConnectorProcessConfig,
): Promise<ConnectorProcess> {
  // Under ts-node the child needs the same loader; the built bench (dist/) runs plain JS.
  const loader = __filename.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : [];
  const child: ChildProcess = fork(__filename, ['--connector'], {
    execArgv: [...loader, ...(config.execArgv ?? [])],
    stdio: 'inherit',
  });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  child.on('message', (m: Reply) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.ok) w?.resolve(m.value);
    else w?.reject(new Error(m.error));
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`connector process exited (${code})`));
    waiting.clear();
  });
  const ask = <T>(req: Omit<Request, 'id'>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve: (v) => resolve(v as T), reject });
      child.send({ ...req, id });
    });
  await ask<void>({ op: 'start', config } as Omit<Request, 'id'>);
  return {
    pid: child.pid ?? 0,
    sample: () => ask<ConnectorSample>({ op: 'sample' }),
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      await ask<void>({ op: 'close' }).catch(() => undefined);
      await exited;
    },
  };
}

async function passwordToken(
  sf: ConnectorProcessConfig['salesforce'],
): Promise<{ access_token: string; instance_url: string }> {
  const res = await fetch(`${sf.loginUrl}/services/oauth2/token`, {
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
  if (!res.ok) throw new Error(`sandbox token: ${res.status}`);
  return (await res.json()) as { access_token: string; instance_url: string };
}

/** The child's side: one organization's whole streaming pipeline, as src/app.ts composes it. */
function serveConnector(): void {
  let stop: (() => Promise<void>) | null = null;
  let sample: (() => ConnectorSample) | null = null;
  process.on('disconnect', () => process.exit(0));
  const start = async (config: ConnectorProcessConfig): Promise<void> => {
    const sf = config.salesforce;
    const token = await passwordToken(sf);
    const org: OrgRuntime = {
      orgId: ORG,
      settings: {
        direction: config.direction,
        defaultSystem: 'initlive',
        deletePolicy: 'archive',
        mapping: defaultMapping,
      },
      streaming: true,
      salesforce: createSalesforceConnection({
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
        mintAccessToken: async () => (await passwordToken(sf)).access_token,
      }),
      initlive: createInitLiveClient({
        baseUrl: config.initliveBaseUrl,
        apiKey: 'sandbox-key',
        orgId: ORG,
        changeOrigin: 'salesforce-sync',
      }),
      initliveOrigin: 'salesforce-sync',
      salesforceClientTag: 'InitLiveSync',
    };
    const runtime = await createRuntime(
      {
        kafkaBrokers: config.kafkaBrokers,
        kafkaClientId: `${config.prefix}-${process.pid}`,
        schemaRegistryUrl: config.schemaRegistryUrl,
        subjectPrefix: `${config.prefix}.`,
        redisUrl: config.redisUrl,
        redisKeyPrefix: `${config.prefix}:`,
        topicPrefix: config.prefix,
        topicPartitions: 6,
        groupPrefix: config.prefix,
      },
      new StaticOrgDirectory([org]),
      silentLogger,
    );
    const lockRedis = createRedis(config.redisUrl, { connectionName: `${config.prefix}-lock` });
    const pipeline = createPipeline(runtime.deps, {
      initliveSource: { pollIntervalMs: 50 },
      ...(config.lingerMs !== undefined ? { salesforceSink: { lingerMs: config.lingerMs } } : {}),
      sourceLease: { lock: new RedisLock({ redis: lockRedis, keyPrefix: `${config.prefix}:` }) },
    });
    const counts = { sourceRecords: 0, reconciled: 0, sinkRecords: 0 };
    const events = runtime.deps.events;
    events.on('source.records', (e) => (counts.sourceRecords += e.count));
    events.on('reconcile.outcome', () => counts.reconciled++);
    events.on('sink.records', (e) => (counts.sinkRecords += e.count));
    await pipeline.start();
    sample = () => {
      const mem = process.memoryUsage();
      const cpu = process.cpuUsage();
      const lease = pipeline.sourceLease?.state(ORG);
      return {
        pid: process.pid,
        rssMb: Math.round(mem.rss / 2 ** 20),
        heapUsedMb: Math.round(mem.heapUsed / 2 ** 20),
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
        ...counts,
        sourcesHeld: lease === 'held' ? 1 : 0,
      };
    };
    stop = async () => {
      await pipeline.stop();
      await runtime.close();
      await closeRedis(lockRedis);
    };
  };
  process.on('message', (req: Request) => {
    const run = async (): Promise<unknown> => {
      switch (req.op) {
        case 'start':
          return start(req.config);
        case 'sample':
          if (!sample) throw new Error('not started');
          return sample();
        case 'close':
          await stop?.();
          setImmediate(() => process.exit(0));
          return undefined;
      }
    };
    run().then(
      (value) => process.send?.({ id: req.id, ok: true, value: value ?? null }),
      (err: unknown) => process.send?.({ id: req.id, ok: false, error: String(err) }),
    );
  });
}

if (require.main === module && process.argv[2] === '--connector') serveConnector();
