import { hkdfSync, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Registry } from 'prom-client';
import { adminTokenOf, closeAdminApp, createAdminApp } from './admin/app';
import type { AdminOAuthSettings } from './admin/app';
import { DeadLetterCollector, DeadLetterService } from './admin/dead-letters';
import { LivePipelineStatus } from './admin/live-pipeline-status';
import type { PipelineStatus, Readiness, ReadinessCheck } from './admin/ports';
import { packageInstalled } from './admin/salesforce-package';
import { banner } from './banner';
import type { RunRecord } from './batch/run-types';
import { Scheduler } from './batch/scheduler';
import { SyncRunner } from './batch/sync-runner';
import type { SyncRunnerOptions } from './batch/sync-runner';
import type { Config } from './config';
import { sandboxEnabled } from './config';
import { createControlStores } from './control-stores';
import { SyncError, toSyncError } from './errors';
import type { Logger } from './logger';
import { createMetrics } from './metrics';
import type { Metrics } from './metrics';
import type { SyncEvents } from './pipeline/events';
import type { InitLiveCredentials } from './orgs/connection-store';
import { ContactFieldBook } from './orgs/contact-fields';
import { ManagedOrgDirectory } from './orgs/managed-org-directory';
import { mintJwtToken } from './orgs/salesforce-oauth';
import type { OAuthClient } from './orgs/salesforce-oauth';
import { OutcomeTracker } from './outcomes/outcome-tracker';
import { RecordLookup } from './outcomes/record-lookup';
import { StateEpoch, requestStateRecovery } from './pipeline/state-epoch';
import { WitnessedConnectionStore } from './orgs/witnessed-connection-store';
import { createPipeline } from './pipeline/connector';
import type { Pipeline, PipelineOptions } from './pipeline/connector';
import { createRuntime } from './pipeline/runtime';
import { startDemoActivity } from './sandbox/demo-activity';
import { startSandboxes } from './sandbox/start-sandboxes';
import type { Sandboxes } from './sandbox/start-sandboxes';
import { OrgChanges } from './pipeline/org-changes';
import { WriteHoldBoard } from './sink/write-holds';
import { WebhookRegistrations } from './source-initlive/webhook-registrations';
import { idlePollCeilingMs } from './source-initlive/initlive-source';

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
 * The secret InitLive signs our webhooks with. Processes behind one load balancer must share
 * it: a nudge registered by one process may reach any other, which must accept it (202), not
 * answer 401. So with ENCRYPTION_KEY (required whenever processes share Redis) it is derived
 * from that key through HKDF, which reveals nothing of the key to InitLive; a lone embedded
 * process makes a random one.
 */
function webhookSecretOf(config: Pick<Config, 'ENCRYPTION_KEY'>): string {
  return derivedSecret(config, 'initlive-webhook-secret', 24).toString('base64url');
}

/** A secret every process of a deployment shares (HKDF of ENCRYPTION_KEY), random without one. */
function derivedSecret(
  config: Pick<Config, 'ENCRYPTION_KEY'>,
  info: string,
  bytes: number,
): Buffer {
  if (!config.ENCRYPTION_KEY) return randomBytes(bytes);
  const key = Buffer.from(config.ENCRYPTION_KEY, 'base64');
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, bytes));
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
  // The same condition as the webhook base URL below.
  const idlePollMaxMs = idlePollCeilingMs(
    config.INITLIVE_IDLE_POLL_MAX_MS,
    config.PUBLIC_URL !== undefined || sandboxInitLive,
  );

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
  // The OAuth callback URL comes from configuration, never from a request's Host header. The
  // embedded demo's is its own address, known once the server listens.
  let listeningAt: string | null = null;
  const publicUrl = config.PUBLIC_URL?.replace(/\/+$/, '');
  if (config.SALESFORCE_REDIRECT_URI) oauth.redirectUri = config.SALESFORCE_REDIRECT_URI;
  else if (publicUrl) oauth.redirectUri = `${publicUrl}/oauth/salesforce/callback`;
  else if (sandboxSalesforce) {
    oauth.redirectUri = () =>
      listeningAt === null ? undefined : `${listeningAt}/oauth/salesforce/callback`;
  } else {
    logger.warn(
      'the OAuth web flow is off: set SALESFORCE_REDIRECT_URI (or PUBLIC_URL) to the callback URL registered on the connected app; the JWT flow works without it',
    );
  }
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

  const stores = createControlStores(config, logger);
  closers.add('control stores', () => stores.close());
  // Every connection change is also kept outside Redis once the transport is up (StateWitness).
  const connections = new WitnessedConnectionStore(stores.connections);

  // The pipeline's events, once the runtime exists (connections are made after it).
  let usageEvents: SyncEvents | null = null;
  const directory = new ManagedOrgDirectory({
    store: connections,
    logger: logger.child({ component: 'directory' }),
    oauth,
    apiVersion: config.SALESFORCE_API_VERSION,
    salesforceRequestTimeoutMs: config.SALESFORCE_REQUEST_TIMEOUT_MS,
    salesforceClientTag: config.SALESFORCE_CLIENT_TAG,
    initliveOrigin: config.INITLIVE_CHANGE_ORIGIN,
    defaultInitLive,
    pollIntervalMs: options.directoryPollMs ?? (config.REDIS_URL ? 5_000 : 0),
    // Every Salesforce answer (reads included) updates the org's API budget in status and metrics.
    onApiUsage: (orgId, usage) => usageEvents?.emit('salesforce.api-usage', { orgId, ...usage }),
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
      kafkaSessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
    },
    directory,
    logger,
  );
  closers.add('transport and state store', () => runtime.close());
  const { deps } = runtime;
  usageEvents = deps.events;
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
    // Processes sharing the lock (Redis) split the organizations' sources between them,
    // spread evenly by their membership in the same store.
    sourceLease: {
      lock: stores.lock,
      membership: stores.membership,
      leaseMs: config.SOURCE_LEASE_MS,
      beforeStart: () => directory.checkState(),
      ...options.pipeline?.sourceLease,
    },
    initliveSource: {
      ...(idlePollMaxMs ? { idlePollMaxMs } : {}),
      ...options.pipeline?.initliveSource,
      webhook: { secret: webhookSecret },
    },
    // Only the process reading an organization needs InitLive's nudges: one webhook each.
    onSources: {
      started: (orgId) => webhooks.register(orgId),
      stopped: (orgId) => webhooks.unregister(orgId),
    },
    salesforceSink: {
      lingerMs: config.SALESFORCE_SINK_LINGER_MS,
      bulkThreshold: config.SALESFORCE_BULK_THRESHOLD,
      parkGatherMs: config.SALESFORCE_PARK_GATHER_MS,
      ...(config.PARK_HELD_WRITES ? { parked: stores.parked.salesforce } : {}),
      ...(config.PARK_HELD_WRITES && runtime.stateWitness
        ? { parkMarks: runtime.stateWitness }
        : {}),
      ...options.pipeline?.salesforceSink,
    },
    initliveSink: {
      ...(config.PARK_HELD_WRITES ? { parked: stores.parked.initlive } : {}),
      ...(config.PARK_HELD_WRITES && runtime.stateWitness
        ? { parkMarks: runtime.stateWitness }
        : {}),
      ...options.pipeline?.initliveSink,
    },
  });

  const runStore = stores.runs;
  const runner = new SyncRunner(
    { ...deps, runStore, lock: stores.lock },
    {
      ...options.runner,
      job: {
        settleTimeoutMs: config.RUN_SETTLE_TIMEOUT_MS,
        sharedRate: config.FULL_SYNC_SHARED_RATE,
        ...options.runner?.job,
      },
    },
  );
  const scheduler = new Scheduler({
    runner,
    queue: stores.runQueue,
    concurrency: config.SCHEDULED_RUN_CONCURRENCY,
    logger: logger.child({ component: 'scheduler' }),
  });
  const collector = new DeadLetterCollector({ ...deps, store: stores.deadLetters });
  const tracker = new OutcomeTracker({ ...deps, runs: runStore, statuses: stores.statuses });
  // This process's sinks say which organizations' writes they hold, for every process's status.
  const holdBoard = new WriteHoldBoard({
    events: deps.events,
    store: stores.holds,
    process: `${hostname()}:${process.pid}`,
    logger: logger.child({ component: 'write-holds' }),
    ttlMs: 30_000,
    now: deps.now,
  });
  holdBoard.start();
  closers.add('write holds', () => holdBoard.stop());
  const status = new LivePipelineStatus({
    ...deps,
    pipeline,
    moreGroups: [
      { groupId: collector.groupId, topic: deps.topics.deadLetters },
      { groupId: tracker.groupId, topic: deps.topics.outcomes },
    ],
  });
  const registry = new Registry();
  const metrics: Metrics = createMetrics(deps.events, {
    registry,
    status,
    connections: directory,
    ...(pipeline.sourceLease ? { sourceLeases: pipeline.sourceLease } : {}),
    runs: runStore,
    deadLetters: stores.deadLetters,
    // A held organization's parked writes wait as surely as a batch in hand.
    pendingChanges: {
      oldest: () => [
        ...runtime.pendingChanges.oldest(),
        ...pipeline.salesforceSink.parkedOldest(),
        ...pipeline.initliveSink.parkedOldest(),
      ],
    },
    orgLabels: config.METRICS_ORG_LABELS,
  });
  closers.add('metrics', () => metrics.close());

  // `ready`: start-up (the demo's initial sync included) is over, so /readyz answers 200.
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
    failedAuthLimit: {
      limit: config.ADMIN_FAILED_AUTH_LIMIT,
      windowMs: config.ADMIN_FAILED_AUTH_WINDOW_MS,
    },
    logger,
    connections,
    directory,
    syncTrigger: runner,
    runHistory: runStore,
    schedule: scheduler,
    deadLetters: new DeadLetterService({ ...deps, store: stores.deadLetters, pairs: deps.store }),
    holds: stores.holds,
    records: new RecordLookup({
      store: deps.store,
      emailIndex: deps.emailIndex,
      statuses: stores.statuses,
      directionOf: (orgId) => directory.syncSettings(orgId).direction,
      pausedFor: (orgId, side) =>
        side === 'salesforce'
          ? pipeline.salesforceSink.pausedFor(orgId)
          : pipeline.initliveSink.pausedFor(orgId),
    }),
    status,
    metricsRegistry: registry,
    readiness,
    oauth,
    events: deps.events,
    salesforceApiVersion: config.SALESFORCE_API_VERSION,
    contactFields,
    sessions: stores.sessions,
    tokens: stores.tokens,
    audit: stores.audit,
    // Every process must recognise a session signed in at any other.
    sessionKey: derivedSecret(config, 'admin-session-credential', 32),
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
  listeningAt = url;
  const webhookBase = config.PUBLIC_URL
    ? config.PUBLIC_URL.replace(/\/+$/, '')
    : sandboxInitLive
      ? url
      : null;

  // Webhooks registered at InitLive by this process, removed again at stop.
  const webhooks = new WebhookRegistrations({
    orgs: directory,
    logger,
    baseUrl: webhookBase,
    secret: webhookSecret,
  });
  closers.add('webhooks', () => webhooks.removeAll());
  const readsHere = (orgId: string): boolean => pipeline.sourceLease?.holds(orgId) ?? true;

  // Directory changes (connect, disconnect, settings, needs_reauth) restart that org's
  // sources and reset its schedule, one change at a time per org.
  const orgChanges = new OrgChanges({
    schedule: (orgId) => {
      if (directory.state(orgId) === 'connected') {
        scheduler.set(orgId, directory.syncSettings(orgId).schedule);
      } else scheduler.remove(orgId);
    },
    restart: async (orgId) => {
      await pipeline.restartSources(orgId);
      if (readsHere(orgId)) await webhooks.register(orgId);
    },
    stopping: () => stopping,
    logger,
  });
  const onChanged = orgChanges.onChanged;
  directory.on('changed', onChanged);
  // Shared state only: an in-memory store cannot lose its data without the process.
  const witness = runtime.stateWitness;
  if (config.REDIS_URL) {
    directory.watchStateEpoch(
      new StateEpoch({
        positions: deps.positions,
        logger,
        ...(witness ? { witness, connections } : {}),
      }),
    );
    directory.on('state-lost', (epoch) => {
      const orgIds = directory
        .list()
        .filter((o) => o.salesforce)
        .map((o) => o.orgId);
      requestStateRecovery(deps, orgIds, epoch).catch((err: unknown) =>
        logger.error('full sync after the state loss not requested', { err: toSyncError(err) }),
      );
      // Parked writes went with the store: read again from the writes topics (logged there).
      for (const sink of [pipeline.salesforceSink, pipeline.initliveSink]) {
        sink.restoreParked().catch(() => undefined);
      }
    });
  }
  contactFields.start();
  closers.add('contact fields', () => contactFields.stop());
  closers.add('directory', async () => {
    directory.off('changed', onChanged);
    await directory.stop();
    await orgChanges.settled();
  });
  await directory.start();
  if (witness) await connections.witnessWith(witness);

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

  orgChanges.starting();
  await pipeline.start();
  closers.add('pipeline', () => pipeline.stop());
  await collector.start();
  closers.add('dead-letter collector', () => collector.stop());
  await tracker.start();
  closers.add('outcome tracker', () => tracker.stop());
  await runner.start();
  closers.add('sync runner', () => runner.stop());
  await scheduler.start();
  closers.add('scheduler', () => scheduler.stop());
  // The pipeline runs: directory changes restart sources from now on, and those seen while it
  // started are applied.
  orgChanges.start();
  for (const org of directory.list()) {
    if (readsHere(org.orgId)) await webhooks.register(org.orgId);
  }

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
        // The run's writes have landed; their echoes (CDC events of our own writes) are still
        // on their way, and the demo should start quiet.
        await drained(status, 10_000);
      }
    }
  }

  if (demo && config.SANDBOX_ACTIVITY_PER_MINUTE > 0) {
    const stopActivity = startDemoActivity(sandboxes!, {
      orgId: demoOrgId,
      perMinute: config.SANDBOX_ACTIVITY_PER_MINUTE,
      logger: logger.child({ component: 'demo-activity' }),
    });
    closers.add('demo activity', stopActivity);
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
