import { Connection, OAuth2 } from 'jsforce';
import type { SalesforceSandbox, SandboxOrg } from '../../src/sandbox/salesforce';
import {
  REDIRECT_URI,
  browserApprove,
  caught,
  connect,
  staff,
  startSandbox,
} from './sandbox-salesforce-helpers';

interface CdcMessage {
  payload: { ChangeEventHeader: { changeType: string; recordIds: string[] } };
}

/** The authorization-code flow as the connector runs it, for the user of `org`. */
async function connectAs(
  sb: SalesforceSandbox,
  org: SandboxOrg,
  via: 'login_hint' | 'org login URL',
): Promise<Connection> {
  const loginUrl = via === 'login_hint' ? sb.loginUrl : org.orgLoginUrl;
  const oauth2 = new OAuth2({
    clientId: sb.clientId,
    clientSecret: sb.clientSecret,
    redirectUri: REDIRECT_URI,
    loginUrl,
    useVerifier: true,
  });
  const conn = new Connection({ oauth2, loginUrl, version: '62.0' });
  const params: Record<string, string> =
    via === 'login_hint' ? { state: 's', login_hint: org.username } : { state: 's' };
  const redirect = await browserApprove(oauth2.getAuthorizationUrl(params));
  await conn.authorize(redirect.searchParams.get('code')!);
  return conn;
}

/** Subscribes a jsforce streaming client; resolves once the subscription is acknowledged. */
async function subscribe(conn: Connection, received: CdcMessage[]): Promise<() => void> {
  const client = conn.streaming.createClient([]);
  await client.subscribe('/data/ContactChangeEvent', (m: CdcMessage) => received.push(m));
  // jsforce's bundled faye typings omit disconnect(); faye has it.
  return () => (client as unknown as { disconnect(): void }).disconnect();
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(condition()).toBe(true);
}

describe('Salesforce sandbox: several orgs on one server', () => {
  let sb: SalesforceSandbox;
  afterEach(async () => {
    await sb.close();
  });

  test('each token acts on its own org: a Contact of org A is invisible to org B', async () => {
    sb = await startSandbox();
    const a = sb.createOrg({ username: 'admin@a.example' });
    const b = sb.createOrg({ username: 'admin@b.example' });
    expect(new Set([sb.orgId, a.orgId, b.orgId]).size).toBe(3);
    const connA = await connectAs(sb, a, 'login_hint');
    const connB = await connectAs(sb, b, 'org login URL');
    expect(connA.userInfo?.organizationId).toBe(a.orgId);
    expect(connB.userInfo?.organizationId).toBe(b.orgId);
    expect((await connB.identity()).username).toBe('admin@b.example');

    const created = await connA.sobject('Contact').create(staff(1));
    const idA = (created as { id: string }).id;
    expect((await connA.query('SELECT Id FROM Contact')).totalSize).toBe(1);
    expect((await connB.query('SELECT Id FROM Contact')).totalSize).toBe(0);
    const err = await caught(() => connB.sobject('Contact').retrieve(idA));
    expect(err.errorCode).toBe('NOT_FOUND');
    // The same external id is free in B: unique indexes are per org.
    await connB.sobject('Contact').create(staff(1));
    expect(a.control.listContacts().map((r) => r.Id)).toEqual([idA]);
    expect(b.control.listContacts()).toHaveLength(1);
    expect(b.control.listContacts()[0]!.Id).not.toBe(idA);
    expect(sb.control.listContacts()).toHaveLength(0);
  });

  test("CDC: org A's events reach A's CometD subscriber only", async () => {
    sb = await startSandbox();
    const a = sb.createOrg();
    const b = sb.createOrg();
    const connA = await connectAs(sb, a, 'login_hint');
    const connB = await connectAs(sb, b, 'login_hint');
    const gotA: CdcMessage[] = [];
    const gotB: CdcMessage[] = [];
    const stopA = await subscribe(connA, gotA);
    const stopB = await subscribe(connB, gotB);
    expect(a.control.counters().cometdClients).toBe(1);
    expect(b.control.counters().cometdClients).toBe(1);

    const idA = (await connA.sobject('Contact').create(staff(1))) as { id: string };
    expect(a.control.cometd!.latestReplayId()).toBeGreaterThan(0);
    expect(b.control.cometd!.latestReplayId()).toBe(0);
    // A's event is queued (or not) for every subscriber when A's write commits, before B writes:
    // had it gone to B's session, it would arrive there ahead of B's own event.
    const idB = (await connB.sobject('Contact').create(staff(2))) as { id: string };
    await until(() => gotA.length >= 1 && gotB.length >= 1);
    expect(gotA.map((m) => m.payload.ChangeEventHeader.recordIds)).toEqual([[idA.id]]);
    expect(gotB.map((m) => m.payload.ChangeEventHeader.recordIds)).toEqual([[idB.id]]);

    stopA();
    stopB();
    await until(
      () => a.control.counters().cometdClients + b.control.counters().cometdClients === 0,
    );
  });

  test("A's exhausted API allocation and revoked grants do not touch B", async () => {
    sb = await startSandbox();
    const a = sb.createOrg({ apiDailyMax: 50 });
    const b = sb.createOrg();
    const connA = await connectAs(sb, a, 'login_hint');
    const connB = await connectAs(sb, b, 'org login URL');
    await connB.query('SELECT Id FROM Contact');
    const usedByB = b.control.counters().apiCallsUsed;

    a.control.exhaustApiLimit();
    const limited = await caught(() => connA.query('SELECT Id FROM Contact'));
    expect(limited.errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
    expect((await connB.query('SELECT Id FROM Contact')).totalSize).toBe(0);
    const limits = await connB.limits();
    expect(limits.DailyApiRequests?.Max).toBe(15_000);
    expect(b.control.counters().apiCallsUsed).toBe(usedByB + 2);
    expect(a.control.counters().apiCallsUsed).toBe(50);

    a.control.revokeAllGrants();
    expect(b.control.counters().accessTokens).toBe(1);
    expect((await connB.query('SELECT Id FROM Contact')).totalSize).toBe(0);
    // The default org never saw a call.
    expect(sb.control.counters().apiCallsUsed).toBe(0);
  });

  test('POST /__sandbox/orgs creates an org with contacts; its credentials log in', async () => {
    sb = await startSandbox();
    const res = await fetch(`${sb.url}/__sandbox/orgs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Sandbox-Secret': sb.clientSecret },
      body: JSON.stringify({ contactCount: 100, password: 'pw-c' }),
    });
    expect(res.status).toBe(201);
    const creds = (await res.json()) as { orgId: string; username: string; password: string };
    expect(creds.password).toBe('pw-c');

    const conn = new Connection({
      oauth2: { clientId: sb.clientId, clientSecret: sb.clientSecret, loginUrl: sb.loginUrl },
      version: '62.0',
    });
    await conn.login(creds.username, creds.password);
    expect(conn.userInfo?.organizationId).toBe(creds.orgId);
    expect((await conn.query('SELECT COUNT() FROM Contact')).totalSize).toBe(100);
    // Existing data: loaded without change events.
    expect(sb.org(creds.orgId)!.control.cometd!.latestReplayId()).toBe(0);

    const counters = await fetch(`${sb.url}/__sandbox/orgs/${creds.orgId}/counters`, {
      headers: { 'X-Sandbox-Secret': sb.clientSecret },
    });
    expect(((await counters.json()) as { apiCallsUsed: number }).apiCallsUsed).toBe(1);
    expect(sb.control.listContacts()).toHaveLength(0);

    const taken = await fetch(`${sb.url}/__sandbox/orgs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Sandbox-Secret': sb.clientSecret },
      body: JSON.stringify({ username: creds.username.toUpperCase() }),
    });
    expect(taken.status).toBe(400);
  });

  test('a login_hint naming no user, or a user of another org, is refused', async () => {
    sb = await startSandbox();
    const a = sb.createOrg();
    const b = sb.createOrg();
    const oauth2 = (loginUrl: string): OAuth2 =>
      new OAuth2({ clientId: sb.clientId, redirectUri: REDIRECT_URI, loginUrl });
    const unknown = await browserApprove(
      oauth2(sb.loginUrl).getAuthorizationUrl({ login_hint: 'nobody@x.example' }),
    );
    expect(unknown.searchParams.get('error')).toBe('access_denied');
    const elsewhere = await browserApprove(
      oauth2(a.orgLoginUrl).getAuthorizationUrl({ login_hint: b.username }),
    );
    expect(elsewhere.searchParams.get('error')).toBe('access_denied');
    // Without a hint the shared login URL still logs in the default org's user.
    const conn = await connect(sb);
    expect(conn.userInfo?.organizationId).toBe(sb.orgId);
  });
});
