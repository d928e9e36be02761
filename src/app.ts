import { hkdfSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type Redis from 'ioredis';
import { Registry } from 'prom-client';
import { adminTokenOf, closeAdminApp, createAdminApp } from './admin/app';
import type { AdminOAuthSettings } from './admin/app';
import type { DeadLetterStore } from './admin/dead-letter-store';
import { DeadLetterCollector, DeadLetterService } from './admin/dead-letters';
import type {
  ConsumerLagView,
  PipelineStatus,
  Readiness,
  ReadinessCheck,
  SourceStatusView,
} from './admin/ports';
import { packageInstalled } from './admin/salesforce-package';
import type { Lock } from './batch/lock';
import type { RunStore } from './batch/run-store';
import type { RunRecord } from './batch/run-types';
import { isFinished } from './batch/run-types';
import { Scheduler } from './batch/scheduler';
import { SyncRunner } from './batch/sync-runner';
import type { SyncRunnerOptions } from './batch/sync-runner';
import type { Config } from './config';
import { sandboxEnabled } from './config';
import type { Side } from './core/pair-state';
import { SyncError, toSyncError } from './errors';
import type { InitLiveApi } from './infra/initlive';
import { MemoryConnectionStore } from './infra/memory/memory-connection-store';
import { MemoryDeadLetterStore } from './infra/memory/memory-dead-letter-store';
import { MemoryLock } from './infra/memory/memory-lock';
import { MemoryRunStore } from './infra/memory/memory-run-store';
import { closeRedis, createRedis } from './infra/redis/connect';
import { RedisConnectionStore } from './infra/redis/redis-connection-store';
import { RedisDeadLetterStore } from './infra/redis/redis-dead-letter-store';
import { RedisLock } from './infra/redis/redis-lock';
import { RedisRunStore } from './infra/redis/redis-run-store';
import { createSecretBox, generateEncryptionKey } from './infra/secrets';
import type { Logger } from './logger';
import { createMetrics } from './metrics';
import type { Metrics } from './metrics';
import type { ConnectionStore, InitLiveCredentials } from './orgs/connection-store';
import { ContactFieldBook } from './orgs/contact-fields';
import { ManagedOrgDirectory } from './orgs/managed-org-directory';
import type { OrgChange } from './orgs/managed-org-directory';
import { mintJwtToken } from './orgs/salesforce-oauth';
import type { OAuthClient } from './orgs/salesforce-oauth';
import { createPipeline } from './pipeline/connector';
import type { Pipeline, PipelineOptions } from './pipeline/connector';
import { createRuntime } from './pipeline/runtime';
import type { Runtime } from './pipeline/runtime';
import { startSandboxes } from './sandbox/start-sandboxes';
import type { Sandboxes } from './sandbox/start-sandboxes';

/**
 * The whole connector, wired from one Config: stores, transport, the streaming pipeline, the
 * batch side (runner, scheduler), dead letters, metrics and the admin HTTP API, plus the
 * sandboxes in the embedded default. main.ts calls `startConnector` and handles signals; the
 * tests call it in-process. Nothing here reads process.env.
 */

export interface StartOptions {
  /** Where the human-readable start-up banner goes. Default stdout; tests capture it. */
  print?: (text: string) => void;
  /** Component tuning (tests shorten linger and poll intervals). */
  pipeline?: PipelineOptions;
  runner?: SyncRunnerOptions;
  /** How often the connection store is re-read for other processes' changes; default 5 s with Redis, off in memory. */
  directoryPollMs?: number;
  /** Resolve only after the initial full sync of the demo organization has ended. Default true. */
  awaitInitialSync?: boolean;
  /** When the process started (epoch ms), for the reported start-up time. Default: now. */
  startedAt?: number;
  /** How often held (drifted) fields are looked at again, and change events at most. */
  contactFields?: { recheckHeldMs?: number; noticeIntervalMs?: number };
}

export interface Connector {
  /** Where the admin API listens, e.g. http://127.0.0.1:8080. */
  url: string;
  /** The admin bearer token (ADMIN_TOKEN or the generated one). */
  token: string;
  /** 'memory', 'kafka+redis', ... */
  mode: string;
  sandboxes: Sandboxes | null;
  directory: ManagedOrgDirectory;
  pipeline: Pipeline;
  runner: SyncRunner;
  scheduler: Scheduler;
  metrics: Metrics;
  /** The demo organization's initial full sync, when one ran at start. */
  initialRun: RunRecord | null;
  /** Milliseconds from `startedAt` until the connector was ready. */
  startupMs: number;
  /**
   * Shuts down in data-flow order: HTTP stops, the scheduler and runner stop (a running full
   * sync keeps its checkpoint), sources stop reading, the reconciler and sinks flush and commit,
   * then stores, transport and sandboxes close. Idempotent.
   */
  stop(): Promise<void>;
}

const DEMO_SETTINGS_TEXT: Record<string, string> = {
  initlive_to_salesforce: 'InitLive -> Salesforce',
  salesforce_to_initlive: 'Salesforce -> InitLive',
  two_way: 'two-way',
};

/** Closes whatever has been opened so far, newest first, when start-up or stop runs them. */
class Closers {
  private readonly steps: Array<{ name: string; run: () => Promise<void> | void }> = [];

  add(name: string, run: () => Promise<void> | void): void {
    this.steps.push({ name, run });
  }

  async runAll(logger: Logger): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.run();
      } catch (err) {
        logger.warn('shutdown step failed', { step: step.name, err: toSyncError(err) });
      }
    }
  }
}

/**
 * PipelineStatus read live from the sources and the transport. `lag` of a source is its change
 * topic's backlog for the reconciler (all organizations of the topic together). A source this
 * process does not run because another process holds the organization's source lease is
 * `standby`, not `stopped`.
 */
class LivePipelineStatus implements PipelineStatus {
  constructor(
    private readonly runtime: Runtime,
    private readonly pipeline: Pipeline,
    private readonly collector: DeadLetterCollector,
  ) {}

  private async topicLag(group: string, topics: string[]): Promise<ConsumerLagView[]> {
    const parts = await this.runtime.deps.transport.lag(group, topics);
    const sums = new Map<string, number>();
    for (const p of parts) sums.set(p.topic, (sums.get(p.topic) ?? 0) + p.lag);
    return topics.map((topic) => ({ group, topic, lag: sums.get(topic) ?? 0 }));
  }

  async sources(orgId: string): Promise<SourceStatusView[]> {
    const { topics, groupPrefix } = this.runtime.deps;
    const lag = await this.topicLag(`${groupPrefix}.reconciler`, [
      topics.staffChanges,
      topics.contactChanges,
    ]).catch(() => null);
    const lagOf = (topic: string): number | null =>
      lag?.find((l) => l.topic === topic)?.lag ?? null;
    const il = this.pipeline.initliveSource.status(orgId);
    const sf = this.pipeline.salesforceSource.status(orgId);
    const idle = this.pipeline.sourceLease?.state(orgId) === 'standby' ? 'standby' : 'stopped';
    const initlive: SourceStatusView = {
      source: 'initlive' satisfies Side,
      state: !il?.running ? idle : il.retryAt !== null ? 'retrying' : 'running',
      position: il?.position ?? null,
      lastEventAt: il?.lastReadAt ?? null,
      lastError: il?.lastError ? `${il.lastError.code}: ${il.lastError.message}` : null,
      lag: lagOf(topics.staffChanges),
    };
    const salesforce: SourceStatusView = {
      source: 'salesforce',
      state: sf.state === 'stopped' ? idle : sf.state,
      position: sf.lastReplayId,
      lastEventAt: sf.lastEventAt,
      lastError: sf.lastError ? `${sf.lastError.code}: ${sf.lastError.message}` : null,
      lag: lagOf(topics.contactChanges),
    };
    return [initlive, salesforce];
  }

  async consumerLag(): Promise<ConsumerLagView[]> {
    const { topics, groupPrefix } = this.runtime.deps;
    const groups: Array<[string, string[]]> = [
      [`${groupPrefix}.reconciler`, [topics.staffChanges, topics.contactChanges]],
      [this.pipeline.salesforceSink.groupId, [topics.salesforceWrites]],
      [this.pipeline.initliveSink.groupId, [topics.initliveWrites]],
      [this.collector.groupId, [topics.deadLetters]],
    ];
    const all = await Promise.all(groups.map(([g, t]) => this.topicLag(g, t)));
    return all.flat();
  }
}

/**
 * The secret InitLive signs our webhooks with. Processes behind one load balancer must share
 * it: a nudge registered by one process may reach any other, which must accept it (202), not
 * answer 401. So with ENCRYPTION_KEY (required whenever processes share Redis) it is derived
 * from that key through HKDF, which reveals nothing of the key to InitLive; a lone embedded
 * process makes a random one.
 */
function webhookSecretOf(config: Pick<Config, 'ENCRYPTION_KEY'>): string {
  if (!config.ENCRYPTION_KEY) return randomBytes(24).toString('base64url');
  const key = Buffer.from(config.ENCRYPTION_KEY, 'base64');
  const derived = hkdfSync('sha256', key, Buffer.alloc(0), 'initlive-webhook-secret', 24);
  return Buffer.from(derived).toString('base64url');
}

/** Reports each run's end to the metrics (once per run), whichever trigger started it. */
function observedRunStore(inner: RunStore, onFinished: (run: RunRecord) => void): RunStore {
  const seen = new Set<string>();
  return {
    save: async (record) => {
      await inner.save(record);
      if (isFinished(record.status) && !seen.has(record.runId)) {
        seen.add(record.runId);
        if (seen.size > 10_000) seen.clear();
        onFinished(record);
      }
    },
    list: (orgId, limit) => inner.list(orgId, limit),
    get: (orgId, runId) => inner.get(orgId, runId),
    loadCheckpoint: (orgId, runId) => inner.loadCheckpoint(orgId, runId),
    saveCheckpoint: (orgId, runId, cp) => inner.saveCheckpoint(orgId, runId, cp),
    markSeen: (orgId, runId, side, ids) => inner.markSeen(orgId, runId, side, ids),
    unseen: (orgId, runId, side, ids) => inner.unseen(orgId, runId, side, ids),
    putUnique: (orgId, runId, map, entries) => inner.putUnique(orgId, runId, map, entries),
    lookup: (orgId, runId, map, keys) => inner.lookup(orgId, runId, map, keys),
    forgetWork: (orgId, runId) => inner.forgetWork(orgId, runId),
    close: () => inner.close(),
  };
}

interface ControlStores {
  connections: ConnectionStore;
  deadLetters: DeadLetterStore;
  runs: RunStore;
  lock: Lock;
  redis: Redis | null;
}

function controlStores(config: Config, logger: Logger): ControlStores {
  const key = config.ENCRYPTION_KEY ?? generateEncryptionKey();
  const secrets = createSecretBox(key);
  if (!config.REDIS_URL) {
    return {
      connections: new MemoryConnectionStore({ secrets }),
      deadLetters: new MemoryDeadLetterStore(),
      runs: new MemoryRunStore(),
      lock: new MemoryLock(),
      redis: null,
    };
  }
  const redis = createRedis(config.REDIS_URL, {
    connectionName: `${config.KAFKA_CLIENT_ID}-control`,
    logger: logger.child({ component: 'redis-control' }),
  });
  const keyPrefix = config.REDIS_KEY_PREFIX;
  return {
    connections: new RedisConnectionStore({ redis, keyPrefix, secrets }),
    deadLetters: new RedisDeadLetterStore({ redis, keyPrefix }),
    runs: new RedisRunStore({ redis, keyPrefix }),
    lock: new RedisLock({ redis, keyPrefix }),
    redis,
  };
}

/**
 * Resolves once every consumer group has had nothing to read for a few looks in a row (a
 * sink's write brings echoes and links, so one quiet look is not enough), or after `limitMs`.
 */
async function drained(status: PipelineStatus, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  let quiet = 0;
  while (quiet < 5 && Date.now() < deadline) {
    const lag = await status.consumerLag().catch(() => null);
    quiet = lag !== null && lag.every((l) => l.lag === 0) ? quiet + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        err.code === 'EADDRINUSE'
          ? new SyncError(
              'CONFIG_INVALID',
              `PORT: ${port} is already in use; set PORT to a free port`,
              {
                cause: err,
              },
            )
          : err,
      );
    };
    server.once('error', onError);
    server.listen(port, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Starts the connector described by `config` and resolves once it is ready (/readyz 200).
 * On a start-up failure everything opened so far is closed again before the error is thrown;
 * a port already in use surfaces as CONFIG_INVALID naming the variable.
 */
export async function startConnector(
  config: Config,
  logger: Logger,
  options: StartOptions = {},
): Promise<Connector> {
  const startedAt = options.startedAt ?? Date.now();
  const print = options.print ?? ((text: string) => process.stdout.write(text));
  const closers = new Closers();
  try {
    return await start(config, logger, options, startedAt, print, closers);
  } catch (err) {
    await closers.runAll(logger);
    throw err;
  }
}

async function start(
  config: Config,
  logger: Logger,
  options: StartOptions,
  startedAt: number,
  print: (text: string) => void,
  closers: Closers,
): Promise<Connector> {
  const useSandbox = sandboxEnabled(config);
  let sandboxes: Sandboxes | null = null;
  if (useSandbox) {
    try {
      sandboxes = await startSandboxes(config, logger.child({ component: 'sandbox' }));
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { port?: number };
      if (e.code !== 'EADDRINUSE') throw err;
      const variable =
        e.port === config.SANDBOX_INITLIVE_PORT
          ? 'SANDBOX_INITLIVE_PORT'
          : 'SANDBOX_SALESFORCE_PORT';
      throw new SyncError(
        'CONFIG_INVALID',
        `${variable}: ${e.port ?? 'the port'} is already in use; set ${variable} to a free port (0 picks one)`,
        { cause: err },
      );
    }
    closers.add('sandboxes', () => sandboxes!.close());
  }
  const sandboxSalesforce = useSandbox && config.SALESFORCE_LOGIN_URL === undefined;
  const sandboxInitLive = useSandbox && config.INITLIVE_BASE_URL === undefined;

  const oauth: AdminOAuthSettings =
    sandboxSalesforce && sandboxes
      ? {
          loginUrl: sandboxes.salesforce.loginUrl,
          clientId: config.SANDBOX_SALESFORCE_CLIENT_ID,
          clientSecret: config.SANDBOX_SALESFORCE_CLIENT_SECRET,
        }
      : {
          loginUrl: config.SALESFORCE_LOGIN_URL ?? '',
          clientId: config.SALESFORCE_CLIENT_ID ?? '',
          ...(config.SALESFORCE_CLIENT_SECRET
            ? { clientSecret: config.SALESFORCE_CLIENT_SECRET }
            : {}),
        };
  if (config.SALESFORCE_REDIRECT_URI) oauth.redirectUri = config.SALESFORCE_REDIRECT_URI;
  logger.redact(oauth.clientSecret);
  logger.redact(config.INITLIVE_API_KEY);
  logger.redact(config.ENCRYPTION_KEY);

  const defaultInitLive = (orgId: string): InitLiveCredentials | null => {
    if (config.INITLIVE_BASE_URL && config.INITLIVE_API_KEY && orgId === config.INITLIVE_ORG_ID) {
      return { baseUrl: config.INITLIVE_BASE_URL, apiKey: config.INITLIVE_API_KEY };
    }
    if (sandboxInitLive && sandboxes && orgId === config.SANDBOX_INITLIVE_ORG_ID) {
      return { baseUrl: sandboxes.initlive.baseUrl, apiKey: config.SANDBOX_INITLIVE_API_KEY };
    }
    return null;
  };

  const stores = controlStores(config, logger);
  closers.add('control stores', async () => {
    await Promise.allSettled([
      stores.connections.close(),
      stores.deadLetters.close(),
      stores.runs.close(),
      stores.lock.close(),
    ]);
    if (stores.redis) await closeRedis(stores.redis);
  });

  const directory = new ManagedOrgDirectory({
    store: stores.connections,
    logger: logger.child({ component: 'directory' }),
    oauth,
    apiVersion: config.SALESFORCE_API_VERSION,
    salesforceClientTag: config.SALESFORCE_CLIENT_TAG,
    initliveOrigin: config.INITLIVE_CHANGE_ORIGIN,
    defaultInitLive,
    pollIntervalMs: options.directoryPollMs ?? (config.REDIS_URL ? 5_000 : 0),
  });

  const runtime = await createRuntime(
    {
      ...(config.KAFKA_BROKERS ? { kafkaBrokers: config.KAFKA_BROKERS.split(',') } : {}),
      kafkaClientId: config.KAFKA_CLIENT_ID,
      ...(config.SCHEMA_REGISTRY_URL ? { schemaRegistryUrl: config.SCHEMA_REGISTRY_URL } : {}),
      schemaCompatibility: config.SCHEMA_COMPATIBILITY,
      ...(config.SCHEMA_SUBJECT_PREFIX ? { subjectPrefix: config.SCHEMA_SUBJECT_PREFIX } : {}),
      ...(config.REDIS_URL ? { redisUrl: config.REDIS_URL } : {}),
      redisKeyPrefix: config.REDIS_KEY_PREFIX,
      topicPrefix: config.TOPIC_PREFIX,
      topicPartitions: config.TOPIC_PARTITIONS,
      replicationFactor: config.TOPIC_REPLICATION_FACTOR,
      groupPrefix: config.KAFKA_GROUP_ID,
    },
    directory,
    logger,
  );
  closers.add('transport and state store', () => runtime.close());
  const { deps } = runtime;
  // Each org's Contact fields and mapping drift; fields that come back are caught up by a full sync.
  const contactFields = new ContactFieldBook({
    directory,
    events: deps.events,
    logger,
    ...options.contactFields,
    onRestored: (orgId, fields) => {
      runner
        .requestRun(orgId, 'recovery', `mapped fields back: ${fields.join(', ')}`)
        .catch((err: unknown) =>
          logger.warn('catch-up sync not started', { orgId, err: toSyncError(err) }),
        );
    },
  });
  deps.fields = contactFields;

  const webhookSecret = webhookSecretOf(config);
  logger.redact(webhookSecret);
  const pipeline = createPipeline(deps, {
    ...options.pipeline,
    // Processes sharing the lock (Redis) split the organizations' sources between them.
    sourceLease: {
      lock: stores.lock,
      leaseMs: config.SOURCE_LEASE_MS,
      ...options.pipeline?.sourceLease,
    },
    initliveSource: { ...options.pipeline?.initliveSource, webhook: { secret: webhookSecret } },
    salesforceSink: {
      lingerMs: config.SALESFORCE_SINK_LINGER_MS,
      bulkThreshold: config.SALESFORCE_BULK_THRESHOLD,
      ...options.pipeline?.salesforceSink,
    },
  });

  const registry = new Registry();
  let metrics: Metrics | null = null;
  const runStore = observedRunStore(stores.runs, (run) =>
    metrics?.observeRun({
      orgId: run.orgId,
      trigger: run.trigger,
      outcome: run.status as 'succeeded' | 'partially_succeeded' | 'failed',
      durationMs: (run.endedAt ?? 0) - (run.startedAt ?? run.endedAt ?? 0),
    }),
  );
  const runner = new SyncRunner({ ...deps, runStore, lock: stores.lock }, options.runner);
  const scheduler = new Scheduler({
    runner,
    lock: stores.lock,
    logger: logger.child({ component: 'scheduler' }),
  });
  const collector = new DeadLetterCollector({ ...deps, store: stores.deadLetters });
  const status = new LivePipelineStatus(runtime, pipeline, collector);
  metrics = createMetrics(deps.events, {
    registry,
    status,
    connections: directory,
    ...(pipeline.sourceLease ? { sourceLeases: pipeline.sourceLease } : {}),
  });
  closers.add('metrics', () => metrics?.close());

  // `started`: the pipeline runs, so directory changes restart sources. `ready`: start-up
  // (the demo's initial sync included) is over, so /readyz answers 200.
  let started = false;
  let ready = false;
  let stopping = false;
  const readiness: Readiness = {
    check: async () => {
      const [transport, control] = await Promise.all([
        runtime.ready(),
        stores.redis
          ? stores.redis.ping().then(
              () => true,
              () => false,
            )
          : true,
      ]);
      const checks: ReadinessCheck[] = [
        { name: 'transport', ok: transport, ...(transport ? {} : { detail: 'not answering' }) },
        { name: 'control-store', ok: control, ...(control ? {} : { detail: 'not answering' }) },
        {
          name: 'pipeline',
          ok: ready && !stopping,
          ...(ready && !stopping ? {} : { detail: stopping ? 'stopping' : 'starting' }),
        },
      ];
      return checks;
    },
  };

  const admin = createAdminApp({
    config: config.ADMIN_TOKEN ? { ADMIN_TOKEN: config.ADMIN_TOKEN } : {},
    logger,
    connections: stores.connections,
    directory,
    syncTrigger: runner,
    runHistory: runStore,
    deadLetters: new DeadLetterService({ ...deps, store: stores.deadLetters }),
    status,
    metricsRegistry: registry,
    readiness,
    oauth,
    events: deps.events,
    salesforceApiVersion: config.SALESFORCE_API_VERSION,
    contactFields,
  });
  const token = adminTokenOf(admin);
  const http = express();
  http.disable('x-powered-by');
  // InitLive signs the raw bytes: this route must see them before any JSON parser does.
  http.post('/webhooks/initlive', pipeline.initliveSource.webhookHttpHandler());
  http.use(admin);
  const server = createServer(http);
  const port = await listen(server, config.PORT);
  closers.add('http', async () => {
    closeAdminApp(admin);
    await closeServer(server);
  });
  const url = `http://127.0.0.1:${port}`;
  const webhookBase = config.PUBLIC_URL
    ? config.PUBLIC_URL.replace(/\/+$/, '')
    : sandboxInitLive
      ? url
      : null;

  // Webhooks registered at InitLive by this process, removed again at stop.
  const webhooks = new Map<string, { api: InitLiveApi; id: string }>();
  const registering = new Set<string>();
  const registerWebhook = async (orgId: string): Promise<void> => {
    const org = directory.get(orgId);
    if (!webhookBase || !org?.streaming || webhooks.has(orgId) || registering.has(orgId)) return;
    registering.add(orgId);
    try {
      const hook = await org.initlive.registerWebhook(
        `${webhookBase}/webhooks/initlive?orgId=${encodeURIComponent(orgId)}`,
        webhookSecret,
      );
      webhooks.set(orgId, { api: org.initlive, id: hook.id });
      logger.info('InitLive webhook registered', { orgId, webhookId: hook.id });
    } catch (err) {
      // Webhooks only shorten the wait; the feed poll carries on without them.
      logger.warn('InitLive webhook not registered; changes arrive by polling', {
        orgId,
        err: toSyncError(err),
      });
    } finally {
      registering.delete(orgId);
    }
  };
  closers.add('webhooks', async () => {
    await Promise.allSettled(
      [...webhooks.values()].map(({ api, id }) => api.unregisterWebhook(id)),
    );
    webhooks.clear();
  });

  // Directory changes (connect, disconnect, settings, needs_reauth) restart that org's
  // sources and reset its schedule, one change at a time per org.
  const chains = new Map<string, Promise<void>>();
  const applyChange = async (orgId: string, change: OrgChange): Promise<void> => {
    if (stopping) return;
    const connected = directory.state(orgId) === 'connected';
    try {
      if (connected) scheduler.set(orgId, directory.syncSettings(orgId).schedule);
      else scheduler.remove(orgId);
    } catch (err) {
      logger.error('schedule not applied', { orgId, err: toSyncError(err) });
    }
    if (!started) return;
    logger.info('organization changed; restarting its sources', {
      orgId,
      state: change.state,
      kind: change.kind,
    });
    await pipeline.restartSources(orgId);
    await registerWebhook(orgId);
  };
  const onChanged = (orgId: string, change: OrgChange): void => {
    const next = (chains.get(orgId) ?? Promise.resolve())
      .then(() => applyChange(orgId, change))
      .catch((err: unknown) =>
        logger.error('organization change not applied', { orgId, err: toSyncError(err) }),
      );
    chains.set(orgId, next);
    void next.finally(() => {
      if (chains.get(orgId) === next) chains.delete(orgId);
    });
  };
  directory.on('changed', onChanged);
  contactFields.start();
  closers.add('contact fields', () => contactFields.stop());
  closers.add('directory', async () => {
    directory.off('changed', onChanged);
    await directory.stop();
    await Promise.allSettled([...chains.values()]);
  });
  await directory.start();

  // The demo organization is connected through the sandbox's own OAuth server with the JWT
  // bearer grant (HS256 with the client secret, which only the sandbox accepts); the directory
  // mints a new token the same way when one expires.
  const demoOrgId = config.SANDBOX_INITLIVE_ORG_ID;
  const demo = sandboxSalesforce && sandboxInitLive && sandboxes !== null;
  if (demo) {
    const client: OAuthClient = {
      loginUrl: oauth.loginUrl,
      clientId: oauth.clientId,
      ...(oauth.clientSecret ? { clientSecret: oauth.clientSecret } : {}),
    };
    const tokens = await mintJwtToken(client, {
      username: config.SANDBOX_SALESFORCE_USERNAME,
      now: Date.now(),
    });
    const installed = await packageInstalled(tokens, config.SALESFORCE_API_VERSION, logger);
    await directory.connect(demoOrgId, {
      tokens,
      flow: 'jwt',
      loginUrl: client.loginUrl,
      username: config.SANDBOX_SALESFORCE_USERNAME,
      ...(installed === undefined ? {} : { packageInstalled: installed }),
    });
  }

  await pipeline.start();
  closers.add('pipeline', () => pipeline.stop());
  await collector.start();
  closers.add('dead-letter collector', () => collector.stop());
  await runner.start();
  closers.add('sync runner', () => runner.stop());
  await scheduler.start();
  closers.add('scheduler', () => scheduler.stop());
  started = true;
  for (const org of directory.list()) await registerWebhook(org.orgId);

  // A first full sync links the people both demo systems already share and copies the rest,
  // so the demo starts from linked data. Only when the org has never run one.
  let initialRun: RunRecord | null = null;
  if (demo && directory.state(demoOrgId) === 'connected') {
    const history = await runStore.list(demoOrgId, 1);
    if (history.length === 0) {
      const requested = await runner.requestRun(demoOrgId, 'manual', 'initial');
      if ('runId' in requested && options.awaitInitialSync !== false) {
        await runner.whenIdle(demoOrgId);
        initialRun = await runStore.get(demoOrgId, requested.runId);
        // The run ends once the reconciler has decided; waiting for the writes to land (and
        // their echoes to come back) means the demo starts from linked data in both systems.
        await drained(status, 10_000);
      }
    }
  }

  ready = true;
  const startupMs = Date.now() - startedAt;
  logger.info('connector ready', { mode: runtime.mode, url, sandbox: useSandbox, startupMs });
  print(
    banner({
      config,
      url,
      token,
      mode: runtime.mode,
      sandboxes,
      directory,
      demoOrgId: demo ? demoOrgId : null,
      initialRun,
      startupMs,
      sampleStaffId: sandboxes?.initlive.control.listStaff()[0]?.id ?? null,
    }),
  );

  let stopped: Promise<void> | null = null;
  return {
    url,
    token,
    mode: runtime.mode,
    sandboxes,
    directory,
    pipeline,
    runner,
    scheduler,
    metrics,
    initialRun,
    startupMs,
    stop: () => {
      stopped ??= (async () => {
        stopping = true;
        logger.info('connector stopping');
        // The closers run newest first: scheduler, runner, collector, pipeline (sources,
        // reconciler, sinks: flush and commit), directory, webhooks, HTTP, metrics, transport
        // and state store, control stores, sandboxes.
        await closers.runAll(logger);
        logger.info('connector stopped');
      })();
      return stopped;
    },
  };
}

interface BannerInput {
  config: Config;
  url: string;
  token: string;
  mode: string;
  sandboxes: Sandboxes | null;
  directory: ManagedOrgDirectory;
  demoOrgId: string | null;
  initialRun: RunRecord | null;
  startupMs: number;
  sampleStaffId: string | null;
}

/** What a person starting the connector needs to try it: URLs, the token, credentials, curls. */
function banner(b: BannerInput): string {
  const { config, url, token, sandboxes } = b;
  const lines: string[] = [
    '',
    `InitLive <-> Salesforce sync is ready (${b.mode}, ${(b.startupMs / 1000).toFixed(1)} s)`,
    `  Admin API    ${url}   (docs/http-api.md)`,
    `  Admin token  ${token}`,
    `  Metrics      ${url}/metrics   health ${url}/healthz   ready ${url}/readyz`,
  ];
  if (sandboxes) {
    const sf = sandboxes.salesforce;
    const il = sandboxes.initlive;
    lines.push(
      `  Salesforce sandbox  ${sf.url}  (login and instance URL)`,
      `    client id ${config.SANDBOX_SALESFORCE_CLIENT_ID}, client secret ${config.SANDBOX_SALESFORCE_CLIENT_SECRET}, user ${config.SANDBOX_SALESFORCE_USERNAME}, password ${config.SANDBOX_SALESFORCE_PASSWORD}`,
      `  InitLive sandbox    ${il.baseUrl}/api/v1`,
      `    organization ${config.SANDBOX_INITLIVE_ORG_ID}, integration key ${config.SANDBOX_INITLIVE_API_KEY}`,
    );
  }
  if (b.demoOrgId) {
    const view = b.directory.view(b.demoOrgId);
    const s = view.settings;
    lines.push(
      `  Organization ${b.demoOrgId}: ${view.state}, ${DEMO_SETTINGS_TEXT[s.direction] ?? s.direction}, streaming ${s.streaming ? 'on' : 'off'}, schedule ${s.schedule.mode}, deletes ${s.deletePolicy}`,
    );
    if (b.initialRun) {
      const c = b.initialRun.counts;
      lines.push(
        `  Initial full sync ${b.initialRun.status}: read ${c.read.initlive} staff and ${c.read.salesforce} contacts; created ${c.created.salesforce} contacts, updated ${c.updated.salesforce}`,
      );
    }
    const api = `${url}/api/orgs/${b.demoOrgId}/salesforce`;
    const il = sandboxes ? `${sandboxes.initlive.baseUrl}/api/v1/organizations/${b.demoOrgId}` : '';
    const sf = sandboxes?.salesforce.url ?? '';
    const staff = b.sampleStaffId ?? '<staff id>';
    lines.push(
      '',
      'Try it (README "See a sync" has more):',
      `  export TOKEN=${token}`,
      `  curl -s -H "Authorization: Bearer $TOKEN" ${api}`,
      `  curl -s -X PATCH -H "Authorization: Bearer ${config.SANDBOX_INITLIVE_API_KEY}" -H 'Content-Type: application/json' -d '{"phone":"+1 604 555 0199"}' ${il}/staff/${staff}`,
      `  SF=$(curl -s ${sf}/services/oauth2/token -d grant_type=password -d client_id=${config.SANDBOX_SALESFORCE_CLIENT_ID} -d client_secret=${config.SANDBOX_SALESFORCE_CLIENT_SECRET} -d username=${config.SANDBOX_SALESFORCE_USERNAME} -d password=${config.SANDBOX_SALESFORCE_PASSWORD} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`,
      `  curl -s -H "Authorization: Bearer $SF" "${sf}/services/data/v${config.SALESFORCE_API_VERSION}/query?q=SELECT+Id,Phone+FROM+Contact+WHERE+InitLive_Staff_Id__c='${staff}'"`,
    );
  } else {
    lines.push(
      '',
      'Connect an organization (README "Connecting a real Salesforce org"):',
      `  curl -s -X POST -H "Authorization: Bearer ${token}" ${url}/api/orgs/<orgId>/salesforce/connect`,
    );
  }
  lines.push('', 'Ctrl-C stops it.', '');
  return lines.join('\n') + '\n';
}
