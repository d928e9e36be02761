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
import { passwordToken } from '../test/fixtures/e2e';
import { forkChild, serveChild } from './child-rpc';

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
  const child = forkChild(__filename, '--connector', config.execArgv ?? []);
  await child.ask<void>('start', { config });
  return {
    pid: child.pid,
    sample: () => child.ask<ConnectorSample>('sample'),
    close: () => child.close(),
  };
}

/** The child's side: one organization's whole streaming pipeline, as src/app.ts composes it. */
function serveConnector(): void {
  let stop: (() => Promise<void>) | null = null;
  let sample: (() => ConnectorSample) | null = null;
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
  serveChild(
    async (op, req) => {
      switch (op) {
        case 'start':
          return start(req.config as ConnectorProcessConfig);
        case 'sample':
          if (!sample) throw new Error('not started');
          return sample();
        default:
          throw new Error(`unknown request ${op}`);
      }
    },
    async () => {
      await stop?.();
    },
  );
}

if (require.main === module && process.argv[2] === '--connector') serveConnector();
