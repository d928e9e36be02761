import { randomBytes } from 'node:crypto';
import { OAuth2 } from 'jsforce';
import type { Connection } from 'jsforce';
import { defaultMapping } from '../../src/core/mapping';
import type { SalesforceWrite } from '../../src/core/records';
import { recordKey, topicNames } from '../../src/core/topics';
import type { Subscription, SubscribeOptions, Transport } from '../../src/core/transport';
import { createEmbeddedCodec } from '../../src/infra/avro/avro-codec';
import type { InitLiveApi } from '../../src/infra/initlive';
import { MemoryPositionStore } from '../../src/infra/memory/memory-position-store';
import { MemoryTransport } from '../../src/infra/memory/memory-transport';
import { MemoryVersionStore } from '../../src/infra/memory/memory-version-store';
import { createSalesforceConnection } from '../../src/infra/salesforce/connection';
import type { SalesforceCredentials } from '../../src/infra/salesforce/connection';
import { createLogger, silentLogger } from '../../src/logger';
import type { Logger } from '../../src/logger';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import type { OrgRuntime } from '../../src/orgs/org-directory';
import { produce } from '../../src/pipeline/deps';
import type { PipelineDeps } from '../../src/pipeline/deps';
import { SyncEvents } from '../../src/pipeline/events';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { linkedMarkerName } from '../../src/core/position-store';

/** Shared set-up of the Salesforce sink tests (unit and integration). */

export const ORG_ID = 'org-sf-sink';
export const CLIENT_TAG = 'InitLiveSync';
const REDIRECT_URI = 'http://localhost:3999/oauth/callback';

export const testLogger: Logger = process.env.TEST_LOG
  ? createLogger({ level: 'debug' })
  : silentLogger;

/**
 * Connects to the sandbox the way the connector's OAuth flow does (authorization code + PKCE),
 * so the credentials carry a refresh token and jsforce can refresh an expired access token.
 */
export async function authorize(sb: SalesforceSandbox): Promise<SalesforceCredentials> {
  const oauth2 = new OAuth2({
    clientId: sb.clientId,
    clientSecret: sb.clientSecret,
    redirectUri: REDIRECT_URI,
    loginUrl: sb.loginUrl,
    useVerifier: true,
  });
  const res = await fetch(oauth2.getAuthorizationUrl({ state: 'sink-test' }), {
    redirect: 'manual',
  });
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}`);
  const code = new URL(res.headers.get('location')!).searchParams.get('code');
  if (!code) throw new Error('no authorization code in the redirect');
  const token = await oauth2.requestToken(code);
  return {
    instanceUrl: token.instance_url,
    accessToken: token.access_token,
    refreshToken: token.refresh_token,
    loginUrl: sb.loginUrl,
    clientId: sb.clientId,
    clientSecret: sb.clientSecret,
    redirectUri: REDIRECT_URI,
  };
}

export async function sandboxConnection(
  sb: SalesforceSandbox,
  logger: Logger = testLogger,
): Promise<Connection> {
  return createSalesforceConnection({
    credentials: await authorize(sb),
    apiVersion: '62.0',
    clientTag: CLIENT_TAG,
    logger,
  });
}

export function orgRuntime(conn: Connection | null, orgId = ORG_ID): OrgRuntime {
  return {
    orgId,
    settings: {
      direction: 'initlive_to_salesforce',
      defaultSystem: 'initlive',
      deletePolicy: 'archive',
      mapping: defaultMapping,
    },
    streaming: false,
    salesforce: conn,
    initlive: {} as unknown as InitLiveApi,
    initliveOrigin: 'initlive-sync',
    salesforceClientTag: CLIENT_TAG,
  };
}

/** A transport that hands out its subscriptions, so a test can crash one. */
export class SpyTransport implements Transport {
  readonly subscriptions: Subscription[] = [];

  constructor(readonly inner: MemoryTransport) {}

  ensureTopics: Transport['ensureTopics'] = (t) => this.inner.ensureTopics(t);
  send: Transport['send'] = (topic, records) => this.inner.send(topic, records);
  lag: Transport['lag'] = (group, topics) => this.inner.lag(group, topics);
  readLatest: Transport['readLatest'] = (topic) => this.inner.readLatest(topic);
  readFrom: Transport['readFrom'] = (topic, from, keep) => this.inner.readFrom(topic, from, keep);
  close: Transport['close'] = () => this.inner.close();

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const sub = await this.inner.subscribe(options);
    this.subscriptions.push(sub);
    return sub;
  }
}

export interface MemoryPipeline {
  deps: PipelineDeps & { orgs: StaticOrgDirectory; events: SyncEvents };
  memory: MemoryTransport;
  spy: SpyTransport;
  store: MemoryVersionStore;
}

/**
 * `linked` (default true): the organizations have had a full sync, so the sink creates without
 * first looking for a Contact by email (see OrgWriter.matchByEmail).
 */
export async function memoryPipeline(
  orgs: OrgRuntime[],
  partitions = 1,
  options: { linked?: boolean } = {},
): Promise<MemoryPipeline> {
  const memory = new MemoryTransport({
    redeliveryBackoff: {
      maxAttempts: Number.POSITIVE_INFINITY,
      initialDelayMs: 5,
      maxDelayMs: 50,
      factor: 2,
      jitter: 0,
    },
  });
  const spy = new SpyTransport(memory);
  const topics = topicNames(`t${randomBytes(4).toString('hex')}`);
  await memory.ensureTopics(Object.values(topics).map((name) => ({ name, partitions })));
  const store = new MemoryVersionStore();
  const positions = new MemoryPositionStore();
  if (options.linked !== false) {
    for (const o of orgs) await positions.set(linkedMarkerName(o.orgId), 'run_fixture');
  }
  return {
    memory,
    spy,
    store,
    deps: {
      transport: spy,
      codec: createEmbeddedCodec(),
      store,
      positions,
      orgs: new StaticOrgDirectory(orgs),
      topics,
      logger: testLogger,
      events: new SyncEvents(),
      groupPrefix: `g${randomBytes(4).toString('hex')}`,
      now: Date.now,
    },
  };
}

export function staffId(i: number): string {
  return `S-${String(i).padStart(5, '0')}`;
}

/** An UPSERT by external id, as the reconciler decides for a staff member not yet in Salesforce. */
export function upsertWrite(i: number, over: Partial<SalesforceWrite> = {}): SalesforceWrite {
  const ext = over.externalId ?? staffId(i);
  return {
    orgId: ORG_ID,
    pairId: `pair-${ext}`,
    operation: 'UPSERT',
    externalId: ext,
    salesforceId: null,
    fields: {
      FirstName: `First${i}`,
      LastName: `Last${i}`,
      Email: `person${i}@example.org`,
      InitLive_Staff_Id__c: ext,
    },
    fingerprint: `fp-${i}`,
    causedBy: `test:${i}`,
    decidedAt: Date.now(),
    attempt: 1,
    ...over,
  };
}

export async function produceWrites(
  deps: PipelineDeps,
  writes: readonly SalesforceWrite[],
): Promise<void> {
  await produce(
    deps,
    'salesforceWrites',
    writes.map((w) => ({ key: recordKey(w.orgId, w.pairId), value: w })),
  );
}

/** Polls `check` until it returns true. */
export async function waitFor(
  what: string,
  check: () => boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Polls an async `check` until it resolves true. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Records the group has not committed yet, over every partition of `topic`. */
export async function groupLag(
  transport: Transport,
  groupId: string,
  topic: string,
): Promise<number> {
  const parts = await transport.lag(groupId, [topic]);
  return parts.reduce((n, x) => n + x.lag, 0);
}

/** Contacts of the sandbox by external id (live ones). */
export function contactsByStaffId(sb: SalesforceSandbox): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const c of sb.control.listContacts()) {
    const ext = c.InitLive_Staff_Id__c;
    if (typeof ext === 'string') out.set(ext, c);
  }
  return out;
}
