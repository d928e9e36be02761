import type { AuditLog } from '../../src/admin/audit-log';
import { MemoryAuditLog } from '../../src/infra/memory/memory-audit-log';
import type { ApiTokenStore } from '../../src/admin/token-store';
import { MemoryApiTokenStore } from '../../src/infra/memory/memory-api-token-store';
import type { FailedAuthLimit } from '../../src/admin/request-guards';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { adminTokenOf, closeAdminApp, createAdminApp } from '../../src/admin/app';
import { DeadLetterCollector, DeadLetterService } from '../../src/admin/dead-letters';
import { MemoryPipelineStatus } from '../../src/admin/memory-pipeline-status';
import type {
  Readiness,
  RunHistory,
  RunRecord,
  RunTrigger,
  ScheduleView,
  SyncTrigger,
} from '../../src/admin/ports';
import { queuedRun } from '../../src/batch/run-types';
import { topicNames } from '../../src/core/topics';
import { createEmbeddedCodec } from '../../src/infra/avro/avro-codec';
import { MemoryConnectionStore } from '../../src/infra/memory/memory-connection-store';
import { MemoryDeadLetterStore } from '../../src/infra/memory/memory-dead-letter-store';
import { MemorySessionStore } from '../../src/infra/memory/memory-session-store';
import { MemoryTransport } from '../../src/infra/memory/memory-transport';
import { createSecretBox, generateEncryptionKey } from '../../src/infra/secrets';
import type { SecretBox } from '../../src/infra/secrets';
import type { ConnectionStore } from '../../src/orgs/connection-store';
import { createLogger } from '../../src/logger';
import type { Metrics } from '../../src/metrics';
import { createMetrics } from '../../src/metrics';
import type { OrgChange } from '../../src/orgs/managed-org-directory';
import { ManagedOrgDirectory } from '../../src/orgs/managed-org-directory';
import { SyncEvents } from '../../src/pipeline/events';
import type { PipelineDeps } from '../../src/pipeline/deps';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox, SalesforceSandboxOptions } from '../../src/sandbox/salesforce';
import type { RecordView } from '../../src/core/record-status';
import { MemoryWriteHoldStore } from '../../src/infra/memory/memory-write-hold-store';

/** Sync trigger of the tests: one run at a time per org, recorded in FakeRunHistory. */
export class FakeRuns implements SyncTrigger, RunHistory {
  readonly runs: RunRecord[] = [];

  async requestRun(
    orgId: string,
    trigger: RunTrigger,
  ): Promise<{ runId: string } | { conflict: string }> {
    const active = this.runs.find(
      (r) => r.orgId === orgId && (r.status === 'queued' || r.status === 'running'),
    );
    if (active) return { conflict: active.runId };
    const run: RunRecord = queuedRun(orgId, `run_${randomUUID()}`, trigger, null);
    this.runs.unshift(run);
    return { runId: run.runId };
  }

  async list(orgId: string, limit: number): Promise<RunRecord[]> {
    return this.runs.filter((r) => r.orgId === orgId).slice(0, limit);
  }

  async get(orgId: string, runId: string): Promise<RunRecord | null> {
    return this.runs.find((r) => r.orgId === orgId && r.runId === runId) ?? null;
  }
}

/** Record lookups of the tests: whatever view a test puts under a query's value. */
export class FakeRecords {
  readonly views = new Map<string, RecordView>();

  async find(
    _orgId: string,
    query: { initliveId: string } | { salesforceId: string } | { email: string },
  ): Promise<RecordView | null> {
    return this.views.get(Object.values(query)[0] as string) ?? null;
  }
}

/**
 * How the tests read JSON answers: the fields they look at, typed. Nothing checks the shape
 * at run time; the assertions do.
 */
export interface JsonValue {
  readonly [key: string]: unknown;
  error: JsonValue;
  details: JsonValue;
  fields: Array<{ path: string; message: string }>;
  message: string;
  code: string;
  items: JsonValue[];
  total: number;
  nextOffset: number | null;
  runs: JsonValue[];
  runId: string;
  id: string;
  authorizeUrl: string;
  retried: string[];
  failed: JsonValue[];
  connection: string;
  reason: string;
  status: string;
  upstreamCode: string;
  lastRun: JsonValue | null;
}

export interface AdminFixture {
  sb: SalesforceSandbox;
  url: string;
  token: string;
  logs: string[];
  clock: { now: number };
  store: ConnectionStore;
  secrets: SecretBox;
  directory: ManagedOrgDirectory;
  changes: Array<[string, OrgChange]>;
  runs: FakeRuns;
  records: FakeRecords;
  holds: MemoryWriteHoldStore;
  status: MemoryPipelineStatus;
  events: SyncEvents;
  metrics: Metrics;
  pipeline: Pick<
    PipelineDeps,
    'transport' | 'codec' | 'topics' | 'logger' | 'events' | 'groupPrefix' | 'now'
  >;
  deadLetterStore: MemoryDeadLetterStore;
  collector: DeadLetterCollector;
  ready: { ok: boolean };
  /** fetch against the admin API with the bearer token (unless `token: null`). */
  api: (
    method: string,
    path: string,
    options?: { body?: unknown; token?: string | null },
  ) => Promise<{ status: number; body: JsonValue; headers: Headers }>;
  close: () => Promise<void>;
}

export const INITLIVE = { baseUrl: 'http://127.0.0.1:9', apiKey: 'initlive-secret-key-123' };

/** Admin app over in-memory stores, a real Salesforce sandbox, on a random port. */
export async function startAdmin(
  options: {
    sandbox?: SalesforceSandboxOptions;
    adminToken?: string;
    failedAuthLimit?: FailedAuthLimit;
    /** Another AuditLog (e.g. Redis). */
    audit?: AuditLog;
    /** Another ApiTokenStore (e.g. one shared with a second fixture). */
    tokens?: ApiTokenStore;
    /** Another ConnectionStore (e.g. Redis) built over the fixture's clock and secrets. */
    store?: (env: { secrets: SecretBox; now: () => number }) => ConnectionStore;
    /** The scheduled runs' view (e.g. a Scheduler over a memory queue). */
    schedule?: ScheduleView;
  } = {},
): Promise<AdminFixture> {
  const clock = { now: Date.now() };
  const sb = await startSalesforceSandbox({ bulkPollDelayMs: 20, ...options.sandbox });
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  const secrets = createSecretBox(generateEncryptionKey());
  const store = options.store
    ? options.store({ secrets, now: () => clock.now })
    : new MemoryConnectionStore({ secrets, now: () => clock.now });
  // The callback URL as a deployment configures it: this server's own, known once it listens.
  let listeningAt: string | null = null;
  const oauth = {
    loginUrl: sb.loginUrl,
    clientId: sb.clientId,
    clientSecret: sb.clientSecret,
    redirectUri: () => (listeningAt ? `${listeningAt}/oauth/salesforce/callback` : undefined),
  };
  const directory = new ManagedOrgDirectory({
    store,
    logger,
    oauth,
    apiVersion: '62.0',
    salesforceClientTag: 'InitLiveSync',
    initliveOrigin: 'salesforce-sync',
    pollIntervalMs: 0,
    now: () => clock.now,
  });
  const changes: Array<[string, OrgChange]> = [];
  directory.on('changed', (orgId, change) => changes.push([orgId, change]));
  await directory.start();

  const events = new SyncEvents();
  const transport = new MemoryTransport({ logger });
  const topics = topicNames(`t${randomUUID().slice(0, 8)}`);
  await transport.ensureTopics(Object.values(topics).map((name) => ({ name, partitions: 2 })));
  const codec = createEmbeddedCodec();
  const pipeline = {
    transport,
    codec,
    topics,
    logger,
    events,
    groupPrefix: `g${randomUUID().slice(0, 8)}`,
    now: () => clock.now,
  };
  const deadLetterStore = new MemoryDeadLetterStore();
  const collector = new DeadLetterCollector({ ...pipeline, store: deadLetterStore });
  await collector.start();

  const runs = new FakeRuns();
  const records = new FakeRecords();
  const holds = new MemoryWriteHoldStore();
  const status = new MemoryPipelineStatus();
  const registry = new Registry();
  const metrics = createMetrics(events, { registry, status, connections: directory });
  const ready = { ok: true };
  const readiness: Readiness = {
    check: async () => [
      { name: 'transport', ok: ready.ok, ...(ready.ok ? {} : { detail: 'broker unreachable' }) },
      { name: 'store', ok: true },
    ],
  };
  const app = createAdminApp({
    config: options.adminToken ? { ADMIN_TOKEN: options.adminToken } : {},
    // Route tests send wrong tokens by the hundred on purpose; the limit has its own test.
    failedAuthLimit: options.failedAuthLimit ?? { limit: 1_000_000, windowMs: 60_000 },
    tokens: options.tokens ?? new MemoryApiTokenStore(),
    audit: options.audit ?? new MemoryAuditLog(),
    logger,
    connections: store,
    directory,
    syncTrigger: runs,
    runHistory: runs,
    ...(options.schedule ? { schedule: options.schedule } : {}),
    deadLetters: new DeadLetterService({
      store: deadLetterStore,
      transport,
      codec,
      topics,
      logger,
    }),
    records,
    holds,
    status,
    metricsRegistry: registry,
    readiness,
    oauth,
    events,
    now: () => clock.now,
    sessions: new MemorySessionStore({ now: () => clock.now }),
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  listeningAt = url;
  const token = adminTokenOf(app);
  const api: AdminFixture['api'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = {};
    const t = opts.token === undefined ? token : opts.token;
    if (t !== null) headers.authorization = `Bearer ${t}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url + path, {
      method,
      headers,
      ...(opts.body !== undefined
        ? { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }
        : {}),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: body as JsonValue, headers: res.headers };
  };
  return {
    sb,
    url,
    token,
    logs,
    clock,
    store,
    secrets,
    directory,
    changes,
    runs,
    records,
    holds,
    status,
    events,
    metrics,
    pipeline,
    deadLetterStore,
    collector,
    ready,
    api,
    close: async () => {
      closeAdminApp(app);
      metrics.close();
      await collector.stop();
      await directory.stop();
      await transport.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await sb.close();
    },
  };
}

/** POST connect -> the browser's part at the sandbox -> callback; returns the callback answer. */
export async function oauthConnect(
  fx: AdminFixture,
  orgId: string,
  body: unknown = { initlive: INITLIVE },
): Promise<{ status: number; body: JsonValue; authorizeUrl: string; callbackUrl: string }> {
  const started = await fx.api('POST', `/api/orgs/${orgId}/salesforce/connect`, { body });
  if (started.status !== 200)
    throw new Error(`connect answered ${started.status}: ${JSON.stringify(started.body)}`);
  const authorizeUrl = String(started.body.authorizeUrl);
  const approve = await fetch(authorizeUrl, { redirect: 'manual' });
  if (approve.status !== 302) throw new Error(`authorize answered ${approve.status}`);
  const callbackUrl = approve.headers.get('location')!;
  const res = await fetch(callbackUrl, { headers: { accept: 'application/json' } });
  return { status: res.status, body: (await res.json()) as JsonValue, authorizeUrl, callbackUrl };
}
