import type { Connection } from 'jsforce';
import { resolveMapping } from '../../src/core/mapping';
import { recoveryRunId } from '../../src/core/recovery';
import type { DeadLetter, SalesforceContactChange, SyncRunEvent } from '../../src/core/records';
import { recordKey, topicNames, type TopicNames } from '../../src/core/topics';
import { SyncError } from '../../src/errors';
import { createEmbeddedCodec } from '../../src/infra/avro/avro-codec';
import type { InitLiveApi } from '../../src/infra/initlive';
import { MemoryPositionStore } from '../../src/infra/memory/memory-position-store';
import { MemoryTransport } from '../../src/infra/memory/memory-transport';
import { MemoryVersionStore } from '../../src/infra/memory/memory-version-store';
import { createSalesforceConnection } from '../../src/infra/salesforce/connection';
import { silentLogger } from '../../src/logger';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import type { PipelineDeps } from '../../src/pipeline/deps';
import { SyncEvents } from '../../src/pipeline/events';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../src/sandbox/salesforce';
import {
  SalesforceSource,
  replayPositionName,
  type SalesforceSourceOptions,
} from '../../src/source-salesforce';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy';

const ORG = 'org-a';
const TAG = 'InitLiveSync';
const REDIRECT = 'http://localhost:3999/oauth/callback';

/** Access and refresh token through the authorization-code flow (the password grant has no refresh token). */
async function grant(sb: SalesforceSandbox): Promise<{ access: string; refresh: string }> {
  const authorize = new URL(`${sb.loginUrl}/services/oauth2/authorize`);
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: sb.clientId,
    redirect_uri: REDIRECT,
  }).toString();
  const approved = await fetch(authorize, { redirect: 'manual' });
  const code = new URL(approved.headers.get('location')!).searchParams.get('code')!;
  const res = await fetch(`${sb.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      client_id: sb.clientId,
      client_secret: sb.clientSecret,
      redirect_uri: REDIRECT,
    }),
  });
  const body = (await res.json()) as { access_token: string; refresh_token: string };
  return { access: body.access_token, refresh: body.refresh_token };
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Harness {
  sb: SalesforceSandbox;
  proxy: TcpProxy | null;
  conn: Connection;
  deps: PipelineDeps;
  topics: TopicNames;
  transport: MemoryTransport;
  positions: MemoryPositionStore;
  source: SalesforceSource;
  changes: Array<{ key: string; value: SalesforceContactChange }>;
  syncRuns: SyncRunEvent[];
  deadLetters: DeadLetter[];
  newSource(options?: SalesforceSourceOptions): SalesforceSource;
}

const fast: SalesforceSourceOptions = {
  retryPolicy: {
    maxAttempts: Number.POSITIVE_INFINITY,
    initialDelayMs: 10,
    maxDelayMs: 50,
    factor: 2,
    jitter: 0,
  },
  reauthRetryMs: 200,
  resubscribeDelayMs: 100,
};

describe('SalesforceSource (CDC over CometD against the sandbox)', () => {
  let h: Harness;
  const sources: SalesforceSource[] = [];

  /** `proxied`: the connection reaches the sandbox through a TCP proxy the test can cut. */
  async function setup(options: { proxied?: boolean } = {}): Promise<Harness> {
    const sb = await startSalesforceSandbox();
    const tokens = await grant(sb);
    const proxy = options.proxied
      ? await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(sb.instanceUrl).port) })
      : null;
    const conn = createSalesforceConnection({
      credentials: {
        instanceUrl: proxy?.url ?? sb.instanceUrl,
        accessToken: tokens.access,
        refreshToken: tokens.refresh,
        loginUrl: sb.loginUrl,
        clientId: sb.clientId,
        clientSecret: sb.clientSecret,
        redirectUri: REDIRECT,
      },
      apiVersion: '62.0',
      clientTag: TAG,
      logger: silentLogger,
    });
    const transport = new MemoryTransport();
    const topics = topicNames(`t${Math.random().toString(36).slice(2, 8)}`);
    // One partition: the collector then sees records in exactly the order they were produced.
    await transport.ensureTopics(Object.values(topics).map((name) => ({ name, partitions: 1 })));
    const codec = createEmbeddedCodec();
    const positions = new MemoryPositionStore();
    const deps: PipelineDeps = {
      transport,
      codec,
      store: new MemoryVersionStore(),
      positions,
      orgs: new StaticOrgDirectory([
        {
          orgId: ORG,
          settings: {
            direction: 'two_way',
            defaultSystem: 'salesforce',
            deletePolicy: 'archive',
            mapping: resolveMapping(),
          },
          streaming: true,
          salesforce: conn,
          initlive: {} as InitLiveApi,
          initliveOrigin: 'initlive-sync',
          salesforceClientTag: TAG,
        },
      ]),
      topics,
      logger: silentLogger,
      events: new SyncEvents(),
      groupPrefix: 'test',
      now: () => Date.now(),
    };
    const changes: Harness['changes'] = [];
    const syncRuns: SyncRunEvent[] = [];
    const deadLetters: DeadLetter[] = [];
    await transport.subscribe({
      groupId: 'collector',
      topics: [topics.contactChanges, topics.syncRuns, topics.deadLetters],
      fromBeginning: true,
      handleBatch: async (batch) => {
        for (const r of batch.records) {
          if (r.topic === topics.contactChanges) {
            changes.push({
              key: r.key,
              value: await codec.decode('SalesforceContactChange', r.value),
            });
          } else if (r.topic === topics.syncRuns) {
            syncRuns.push(await codec.decode('SyncRunEvent', r.value));
          } else {
            deadLetters.push(await codec.decode('DeadLetter', r.value));
          }
        }
      },
    });
    const newSource = (options: SalesforceSourceOptions = {}): SalesforceSource => {
      const s = new SalesforceSource(deps, { ...fast, ...options });
      sources.push(s);
      return s;
    };
    return {
      sb,
      proxy,
      conn,
      deps,
      topics,
      transport,
      positions,
      source: newSource(),
      changes,
      syncRuns,
      deadLetters,
      newSource,
    };
  }

  async function streaming(source: SalesforceSource): Promise<void> {
    await source.start();
    await waitFor('the subscription', () => source.status(ORG).state === 'streaming');
  }

  const stored = (): Promise<string | null> => h.positions.get(replayPositionName(ORG));
  const latestReplayId = (): string => String(h.sb.control.cometd!.latestReplayId());
  const positions = (): string[] => h.changes.map((c) => c.value.sourcePosition);

  beforeEach(async () => {
    h = await setup();
  });

  afterEach(async () => {
    for (const s of sources.splice(0)) await s.stop();
    await h.transport.close();
    await h.proxy?.close();
    await h.sb.close();
  });

  test('events lost with a cut connection come again: the stream subscribes again from the stored replay id', async () => {
    await h.transport.close();
    await h.sb.close();
    h = await setup({ proxied: true });
    await streaming(h.source);
    h.sb.control.createContact({ LastName: 'Before' });
    await waitFor('the first change', () => h.changes.length === 1);
    await waitFor('its position stored', async () => (await stored()) === latestReplayId());

    // The network goes silent under the held connect: the next event is written into a
    // connection that no longer reaches the client, and the server counts it delivered.
    await new Promise((r) => setTimeout(r, 200));
    h.proxy!.mode('blackhole');
    h.sb.control.createContact({ LastName: 'Lost' });
    await new Promise((r) => setTimeout(r, 200));
    // Then it breaks for good (faye sees the transport go down), and comes back.
    h.proxy!.mode('reset');
    await waitFor('the transport down', () => h.source.status(ORG).state === 'connecting');
    h.proxy!.mode('pass');

    await waitFor('the event from the lost answer', () =>
      h.changes.some((c) => c.value.values.lastName === 'Lost'),
    );
    await waitFor('streaming again', () => h.source.status(ORG).state === 'streaming');
    h.sb.control.createContact({ LastName: 'After' });
    await waitFor('a later change', () =>
      h.changes.some((c) => c.value.values.lastName === 'After'),
    );
    expect(h.changes.filter((c) => c.value.values.lastName === 'Before')).toHaveLength(1);
  }, 30_000);

  test('REST writes arrive on contactChanges as canonical records with our origin tag', async () => {
    const counted: number[] = [];
    h.deps.events.on('source.records', (e) => counted.push(e.count));
    await streaming(h.source);

    const created = await h.conn.sobject('Contact').create({
      FirstName: 'Dana',
      LastName: 'Scully',
      Email: 'dana@example.org',
      MailingCity: 'Washington',
      InitLive_Staff_Id__c: 'S-1',
    });
    const id = (created as { id: string }).id;
    await h.conn.sobject('Contact').update({ Id: id, FirstName: 'Danielle', Email: null });
    await h.conn.sobject('Contact').destroy(id);
    h.sb.control.undeleteContact(id);

    await waitFor('four changes', () => h.changes.length === 4);
    const [create, update, del, restore] = h.changes.map((c) => c.value);
    expect(h.changes.every((c) => c.key === recordKey(ORG, id))).toBe(true);
    expect(create).toMatchObject({
      orgId: ORG,
      salesforceId: id,
      initliveId: 'S-1',
      operation: 'CREATE',
      values: {
        initliveId: 'S-1',
        firstName: 'Dana',
        lastName: 'Scully',
        email: 'dana@example.org',
        city: 'Washington',
      },
    });
    expect(create!.origin).toContain(`client=${TAG}`);
    expect(update).toMatchObject({
      operation: 'UPDATE',
      changedFields: ['firstName', 'email'],
      values: { firstName: 'Danielle', email: null },
      initliveId: null,
    });
    expect(update!.origin).toContain(`client=${TAG}`);
    expect(del).toMatchObject({ operation: 'DELETE', values: {}, changedFields: [] });
    expect(restore).toMatchObject({ operation: 'RESTORE', origin: null });
    expect(restore!.values).toMatchObject({ firstName: 'Danielle', lastName: 'Scully' });

    // Replay ids increase and the last one is the stored position.
    const ids = positions().map(Number);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    await waitFor('the position', () => h.source.status(ORG).lastReplayId === latestReplayId());
    expect(await stored()).toBe(latestReplayId());
    expect(counted.reduce((a, b) => a + b, 0)).toBe(4);
    expect(h.source.status(ORG)).toMatchObject({ state: 'streaming', lastError: null });
  });

  test('the replay id is stored only after the broker acknowledged the records', async () => {
    await streaming(h.source);
    const first = h.sb.control.createContact({ LastName: 'One' });
    await waitFor('the first change', () => h.changes.length === 1);
    await waitFor('the first position', () => h.source.status(ORG).lastReplayId !== null);
    const before = await stored();

    const send = h.transport.send.bind(h.transport);
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    let failing = true;
    let attempts = 0;
    h.transport.send = async (topic, records) => {
      if (topic === h.topics.contactChanges) {
        attempts++;
        if (failing) {
          failing = false;
          await released;
          throw new SyncError('TRANSPORT_UNAVAILABLE', 'broker unreachable', { retriable: true });
        }
      }
      return send(topic, records);
    };
    h.sb.control.updateContact(String(first.Id), { FirstName: 'Changed' });
    await waitFor('the produce attempt', () => attempts === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(await stored()).toBe(before);
    release();

    await waitFor('the change after the retry', () => h.changes.length === 2);
    expect(h.changes[1]!.value).toMatchObject({
      operation: 'UPDATE',
      values: { firstName: 'Changed' },
    });
    await waitFor('the position', () => h.source.status(ORG).lastReplayId === latestReplayId());
    expect(Number(await stored())).toBeGreaterThan(Number(before));
    expect(attempts).toBe(2);
    expect(h.source.status(ORG).lastError?.code).toBe('TRANSPORT_UNAVAILABLE');
  });

  test('stop and start again resumes from the stored id: nothing missed, nothing twice', async () => {
    await streaming(h.source);
    const contacts = h.conn.sobject('Contact');
    await contacts.create([{ LastName: 'A' }, { LastName: 'B' }]);
    await waitFor('two changes', () => h.changes.length === 2);
    await h.source.stop();
    expect(h.source.status(ORG).state).toBe('stopped');
    const storedAtStop = await stored();
    expect(storedAtStop).toBe(latestReplayId());

    // Written while no one listens.
    await contacts.create([{ LastName: 'C' }, { LastName: 'D' }, { LastName: 'E' }]);
    const d = h.sb.control.listContacts().find((c) => c.LastName === 'D')!;
    await contacts.update({ Id: String(d.Id), Email: 'd@example.org' });

    const again = h.newSource();
    await streaming(again);
    await waitFor('six changes', () => h.changes.length === 6);
    await waitFor('the position', () => again.status(ORG).lastReplayId === latestReplayId());
    await new Promise((r) => setTimeout(r, 200));
    expect(h.changes).toHaveLength(6);
    expect(new Set(positions()).size).toBe(6);
    expect(
      h.changes.map((c) => [c.value.operation, c.value.values.lastName ?? c.value.values.email]),
    ).toEqual([
      ['CREATE', 'A'],
      ['CREATE', 'B'],
      ['CREATE', 'C'],
      ['CREATE', 'D'],
      ['CREATE', 'E'],
      ['UPDATE', 'd@example.org'],
    ]);
  });

  test('stopped before its first event, started again: what happened meanwhile still arrives', async () => {
    await streaming(h.source);
    await h.source.stop();
    // No event was committed, so no replay id: the position says when streaming began.
    expect(await stored()).toMatch(/^since:\d+$/);
    expect(h.source.status(ORG).lastReplayId).toBeNull();

    // Written while no one listens.
    const contacts = h.conn.sobject('Contact');
    await contacts.create([{ LastName: 'F' }, { LastName: 'G' }]);

    const again = h.newSource();
    await streaming(again);
    await waitFor('two changes', () => h.changes.length === 2);
    await waitFor('the position', () => again.status(ORG).lastReplayId === latestReplayId());
    expect(h.changes.map((c) => c.value.values.lastName)).toEqual(['F', 'G']);
    expect(await stored()).toBe(latestReplayId());
  });

  test('stopped while storing when it went live: the successor still finds that moment', async () => {
    // A slow store (Redis under load): stop() returns only once `since:` is written.
    const slow = h.positions.compareAndSet.bind(h.positions);
    h.positions.compareAndSet = async (...args) => {
      await new Promise((r) => setTimeout(r, 300));
      return slow(...args);
    };
    await streaming(h.source);
    await h.source.stop();
    expect(await stored()).toMatch(/^since:\d+$/);
    h.sb.control.createContact({ LastName: 'Meanwhile' });
    const again = h.newSource();
    await streaming(again);
    await waitFor('the change', () => h.changes.length === 1);
    expect(h.changes[0]!.value.values.lastName).toBe('Meanwhile');
  });

  test('dropped CometD sessions: faye re-handshakes, we resume from the stored id', async () => {
    await streaming(h.source);
    h.sb.control.createContact({ LastName: 'Before' });
    await waitFor('the first change', () => h.changes.length === 1);
    for (let round = 0; round < 3; round++) {
      h.sb.control.dropCometdClients();
      h.sb.control.createContact({ LastName: `During${round}` });
      await new Promise((r) => setTimeout(r, 30));
      h.sb.control.createContact({ LastName: `After${round}` });
    }
    await waitFor('seven changes', () => h.changes.length === 7);
    await waitFor('the position', () => h.source.status(ORG).lastReplayId === latestReplayId());
    await new Promise((r) => setTimeout(r, 200));
    expect(h.changes.map((c) => c.value.values.lastName)).toEqual([
      'Before',
      'During0',
      'After0',
      'During1',
      'After1',
      'During2',
      'After2',
    ]);
    expect(h.source.status(ORG).state).toBe('streaming');
  });

  test('a purged replay id: resubscribe for new events, request a full sync, say why', async () => {
    const resyncs: string[] = [];
    h.deps.events.on('source.resync', (e) => resyncs.push(e.reason));
    await streaming(h.source);
    h.sb.control.createContact({ LastName: 'Kept' });
    await waitFor('the first change', () => h.changes.length === 1);
    await h.source.stop();
    const old = await stored();
    h.sb.control.createContact({ LastName: 'Lost' });
    h.sb.control.purgeReplayRetention();

    const again = h.newSource();
    await again.start();
    await waitFor('the full-sync request', () => h.syncRuns.length === 1);
    expect(h.syncRuns[0]).toMatchObject({
      orgId: ORG,
      kind: 'REQUESTED',
      trigger: 'RECOVERY',
      reason: 'replay_id_invalid',
    });
    expect(resyncs).toEqual(['replay_id_invalid']);
    await waitFor('the new subscription', () => again.status(ORG).state === 'streaming');
    const status = again.status(ORG);
    expect(status.lastError?.code).toBe('POSITION_EXPIRED');
    expect(status.lastError?.message).toContain(String(old));
    expect(status.lastResync?.reason).toBe('replay_id_invalid');

    h.sb.control.createContact({ LastName: 'New' });
    await waitFor('the new change', () => h.changes.length === 2);
    expect(h.changes.map((c) => c.value.values.lastName)).toEqual(['Kept', 'New']);
    await waitFor('the position', () => again.status(ORG).lastReplayId === latestReplayId());
  });

  test('a purged replay id asks for one full sync; restarts after it resume from when it was refused', async () => {
    await streaming(h.source);
    h.sb.control.createContact({ LastName: 'Kept' });
    await waitFor('the first change', () => h.changes.length === 1);
    await h.source.stop();
    const old = await stored();
    h.sb.control.purgeReplayRetention();
    const first = h.newSource();
    await first.start();
    await waitFor('the full-sync request', () => h.syncRuns.length === 1);
    // The request names its gap's run, so asking again would merge into it.
    expect(h.syncRuns[0]!.runId).toBe(
      recoveryRunId(ORG, `salesforce:replay_id_invalid@${String(old)}`),
    );
    // Once the request is acknowledged, the refused id is replaced by when it was refused.
    await waitFor(
      'the position replaced',
      async () => (await stored())?.startsWith('since:') ?? false,
    );
    await first.stop();
    for (let i = 0; i < 5; i++) {
      const again = h.newSource();
      await again.start();
      expect(again.status(ORG).state).toBe('streaming');
      await again.stop();
    }
    const last = h.newSource();
    await last.start();
    h.sb.control.createContact({ LastName: 'After' });
    await waitFor('the change after', () => h.changes.length === 2);
    expect(h.syncRuns).toHaveLength(1);
    await waitFor('a replay id again', async () => /^\d+$/.test((await stored()) ?? ''));
    await last.stop();
  });

  test('gap events are answered by one batched re-read: SNAPSHOT, or DELETE when gone', async () => {
    await streaming(h.source);
    const a = h.sb.control.createContact({
      FirstName: 'Ann',
      LastName: 'A',
      Email: 'a@example.org',
    });
    const b = h.sb.control.createContact({ LastName: 'B', InitLive_Staff_Id__c: 'S-2' });
    const c = h.sb.control.createContact({ LastName: 'C' });
    h.sb.control.deleteContact(String(c.Id));
    await waitFor('four changes', () => h.changes.length === 4);
    h.sb.control.resetApiUsage();

    const missing = '003000000000001AAA';
    h.sb.control.emitGap('GAP_UPDATE', [String(a.Id), String(b.Id)]);
    h.sb.control.emitGap('GAP_DELETE', [String(c.Id), missing]);
    await waitFor('four re-read records', () => h.changes.length === 8);

    const counters = h.sb.control.counters();
    expect(counters.apiCallsUsed).toBe(1);
    expect(
      Object.entries(counters.endpoints)
        .filter(([route]) => route.includes('query'))
        .reduce((n, [, count]) => n + count, 0),
    ).toBe(1);
    const reread = h.changes.slice(4).map((r) => r.value);
    expect(reread.map((r) => [r.salesforceId, r.operation])).toEqual([
      [a.Id, 'SNAPSHOT'],
      [b.Id, 'SNAPSHOT'],
      [c.Id, 'DELETE'],
      [missing, 'DELETE'],
    ]);
    expect(reread[0]!.values).toMatchObject({
      firstName: 'Ann',
      lastName: 'A',
      email: 'a@example.org',
      phone: null,
    });
    expect(reread[1]).toMatchObject({
      initliveId: 'S-2',
      values: { lastName: 'B', initliveId: 'S-2' },
    });
    expect(reread[0]!.sourceVersion).toBeGreaterThan(0);
    await waitFor('the position', () => h.source.status(ORG).lastReplayId === latestReplayId());
    expect(reread[3]!.sourcePosition).toBe(latestReplayId());
  });

  test('GAP_OVERFLOW requests a full sync and moves the position past it', async () => {
    await streaming(h.source);
    h.sb.control.emitOverflow();
    await waitFor('the full-sync request', () => h.syncRuns.length === 1);
    expect(h.syncRuns[0]).toMatchObject({
      kind: 'REQUESTED',
      trigger: 'RECOVERY',
      reason: 'GAP_OVERFLOW',
    });
    await waitFor('the position', () => h.source.status(ORG).lastReplayId === latestReplayId());
    expect(h.changes).toHaveLength(0);
    expect(h.source.status(ORG).lastResync?.reason).toBe('GAP_OVERFLOW');
  });

  test('an expired access token is refreshed and streaming goes on with a new client', async () => {
    await streaming(h.source);
    const oldToken = h.conn.accessToken;
    h.sb.control.createContact({ LastName: 'One' });
    await waitFor('the first change', () => h.changes.length === 1);
    h.sb.control.expireAccessTokens();
    h.sb.control.createContact({ LastName: 'Two' });
    await waitFor('the refreshed token', () => h.conn.accessToken !== oldToken);
    h.sb.control.createContact({ LastName: 'Three' });
    await waitFor('three changes', () => h.changes.length === 3);
    await waitFor('streaming again', () => h.source.status(ORG).state === 'streaming');
    await new Promise((r) => setTimeout(r, 200));
    expect(h.changes.map((c) => c.value.values.lastName)).toEqual(['One', 'Two', 'Three']);
  });

  test('a token refreshed by another REST call rebuilds the streaming client', async () => {
    const createClient = jest.spyOn(h.conn.streaming, 'createClient');
    await streaming(h.source);
    expect(createClient).toHaveBeenCalledTimes(1);
    h.sb.control.expireAccessTokens();
    // Any jsforce call on the org's connection refreshes the token on its 401.
    await h.conn.sobject('Contact').create({ LastName: 'ViaRest' });
    // At once on the refresh event, or a moment later when CometD's own long poll met the
    // expired token first and its recovery does the rebuild (seen under a loaded machine).
    await waitFor('client rebuilt', () => createClient.mock.calls.length >= 2);
    expect(createClient).toHaveBeenCalledTimes(2);
    h.sb.control.createContact({ LastName: 'AfterRebuild' });
    await waitFor('two changes', () => h.changes.length === 2);
    await waitFor('streaming again', () => h.source.status(ORG).state === 'streaming');
    expect(h.changes.map((c) => c.value.values.lastName)).toEqual(['ViaRest', 'AfterRebuild']);
  });

  test('revoked grants: the refresh fails, the status says the org needs reconnecting', async () => {
    await streaming(h.source);
    h.sb.control.revokeAllGrants();
    await waitFor('needs_reauth', () => h.source.status(ORG).state === 'needs_reauth');
    expect(h.source.status(ORG).lastError?.code).toBe('AUTH_FAILED');
  });

  test('a malformed event goes to dead letters and the next event still flows', async () => {
    const stream = () => h.source.stream(ORG)!;
    await streaming(h.source);
    const bad = { payload: { ChangeEventHeader: { changeType: 'UPDATE' } }, schema: 'x' };
    stream().receive(bad);
    h.sb.control.createContact({ LastName: 'Next' });
    await waitFor('the dead letter', () => h.deadLetters.length === 1);
    await waitFor('the next change', () => h.changes.length === 1);
    expect(h.deadLetters[0]).toMatchObject({
      orgId: ORG,
      recordType: 'SalesforceCdcEvent',
      errorCode: 'INVALID_INPUT',
    });
    expect(JSON.parse(h.deadLetters[0]!.originalValue.toString('utf8'))).toEqual(bad);
    expect(h.changes[0]!.value.values.lastName).toBe('Next');
    await waitFor('the position', () => h.source.status(ORG).lastReplayId === latestReplayId());
  });

  test('a malformed event with a replay id is dead-lettered and its position committed after the letter', async () => {
    await streaming(h.source);
    const current = Number(latestReplayId());
    const bad = {
      payload: { ChangeEventHeader: { entityName: 'Contact' } },
      event: { replayId: current + 1 },
    };
    h.source.stream(ORG)!.receive(bad);
    await waitFor('the dead letter', () => h.deadLetters.length === 1);
    await waitFor('the position', () => h.source.status(ORG).lastReplayId === String(current + 1));
    expect(await stored()).toBe(String(current + 1));
    expect(h.deadLetters[0]!.context).toMatchObject({ replayId: String(current + 1) });
  });
});
