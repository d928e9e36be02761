import { generateKeyPairSync } from 'node:crypto';
import { Connection } from 'jsforce';
import type { AdminFixture, JsonValue } from './admin-fixture';
import { INITLIVE, oauthConnect, startAdmin } from './admin-fixture';

const ORG = 'org_oauth';

/** Every secret value seen in a test; no log line may contain one. */
const secretsSeen = new Set<string>();
function remember(fx: AdminFixture, orgId = ORG): void {
  const sf = fx.directory.connection(orgId)?.salesforce;
  for (const v of [
    sf?.accessToken,
    sf?.refreshToken,
    fx.directory.get(orgId)?.salesforce?.accessToken,
    fx.token,
  ]) {
    if (v) secretsSeen.add(v);
  }
}

async function caught(
  fn: () => PromiseLike<unknown>,
): Promise<{ errorCode?: string; name?: string; message: string }> {
  try {
    await fn();
  } catch (err) {
    return err as { errorCode?: string; message: string };
  }
  throw new Error('expected a failure');
}

describe('admin API: Salesforce OAuth connect, disconnect, reauth (against the sandbox)', () => {
  let fx: AdminFixture;
  const allLogs: string[] = [];

  beforeEach(async () => {
    fx = await startAdmin();
  });
  afterEach(async () => {
    remember(fx);
    allLogs.push(...fx.logs);
    await fx.close();
  });
  afterAll(() => {
    // Tokens, keys and the admin token never reach a log line in any test of this file.
    expect(allLogs.length).toBeGreaterThan(10);
    expect(secretsSeen.size).toBeGreaterThan(5);
    for (const line of allLogs) {
      for (const secret of secretsSeen) expect(line).not.toContain(secret);
      expect(line).not.toContain(INITLIVE.apiKey);
    }
  });

  test('the web-server flow with PKCE connects the org and stores its tokens sealed', async () => {
    const started = await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, {
      body: { initlive: INITLIVE },
    });
    expect(started.status).toBe(200);
    const authorize = new URL(String(started.body.authorizeUrl));
    expect(`${authorize.origin}${authorize.pathname}`).toBe(
      `${fx.sb.loginUrl}/services/oauth2/authorize`,
    );
    expect(authorize.searchParams.get('client_id')).toBe(fx.sb.clientId);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${fx.url}/oauth/salesforce/callback`);
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('scope')).toBe('api refresh_token');
    expect(authorize.searchParams.get('state')!.length).toBeGreaterThanOrEqual(40);

    // The browser's part: Salesforce approves and redirects to our callback.
    const approve = await fetch(String(started.body.authorizeUrl), { redirect: 'manual' });
    expect(approve.status).toBe(302);
    const callback = new URL(approve.headers.get('location')!);
    expect(callback.searchParams.get('state')).toBe(authorize.searchParams.get('state'));
    const done = await fetch(callback, { headers: { accept: 'application/json' } });
    expect(done.status).toBe(200);
    expect((await done.json()) as JsonValue).toEqual({
      orgId: ORG,
      connection: 'connected',
      instanceUrl: fx.sb.instanceUrl,
    });

    const status = await fx.api('GET', `/api/orgs/${ORG}/salesforce`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      orgId: ORG,
      connection: 'connected',
      instanceUrl: fx.sb.instanceUrl,
    });
    expect(status.body.settings).toEqual({
      direction: 'initlive_to_salesforce',
      defaultSystem: 'initlive',
      streaming: true,
      schedule: { mode: 'manual' },
      deletePolicy: 'archive',
      fieldMapping: [],
    });

    // The directory serves the org with a working jsforce connection.
    const runtime = fx.directory.get(ORG)!;
    expect(runtime.streaming).toBe(true);
    await runtime.salesforce!.sobject('Contact').create({ LastName: 'Via directory' });
    expect(fx.sb.control.listContacts().map((c) => c.LastName)).toContain('Via directory');
    expect(fx.changes).toContainEqual([
      ORG,
      expect.objectContaining({ kind: 'connected', state: 'connected' }),
    ]);

    // At rest: no token, no key in plain text.
    const conn = fx.directory.connection(ORG)!;
    const raw = (await fx.store.raw(ORG))!;
    expect(conn.salesforce!.accessToken).toBeTruthy();
    expect(conn.salesforce!.refreshToken).toBeTruthy();
    expect(raw).not.toContain(conn.salesforce!.accessToken!);
    expect(raw).not.toContain(conn.salesforce!.refreshToken!);
    expect(raw).not.toContain(INITLIVE.apiKey);
    expect(JSON.parse(raw).salesforce.accessToken).toMatch(/^v1\./);
    // ... and none in the API's answers.
    const answers = JSON.stringify([
      status.body,
      await fx.api('GET', `/api/orgs/${ORG}/salesforce/settings`),
    ]);
    expect(answers).not.toContain(conn.salesforce!.accessToken!);
    expect(answers).not.toContain(conn.salesforce!.refreshToken!);
    expect(answers).not.toContain(INITLIVE.apiKey);
  });

  test('a browser is sent back to the console; a failure gets a page linking back', async () => {
    const started = await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, {
      body: { initlive: INITLIVE },
    });
    const approve = await fetch(String(started.body.authorizeUrl), { redirect: 'manual' });
    const callback = approve.headers.get('location')!;
    const res = await fetch(callback, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/#/orgs/${ORG}?oauth=connected`);

    // The same state again: spent, so refused, on a page under the console's policy.
    const again = await fetch(callback, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(again.status).toBe(400);
    expect(again.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await again.text();
    expect(html).toContain('Salesforce was not connected');
    expect(html).toContain('unknown or already used state');
    expect(html).toContain('href="/#/orgs"');
    expect(html).not.toMatch(/<script|style=/);
  });

  test('a wrong, reused or expired state is refused with a clear message', async () => {
    const first = await oauthConnect(fx, ORG);
    expect(first.status).toBe(200);

    const reused = await fetch(first.callbackUrl, { headers: { accept: 'application/json' } });
    expect(reused.status).toBe(400);
    expect((await reused.json()) as JsonValue).toEqual({
      error: {
        code: 'INVALID_INPUT',
        message: 'unknown or already used state: start the connection again',
      },
    });

    const wrong = new URL(first.callbackUrl);
    wrong.searchParams.set('state', 'not-a-state-we-issued');
    const wrongRes = await fetch(wrong);
    expect(wrongRes.status).toBe(400);
    expect(((await wrongRes.json()) as JsonValue).error.message).toMatch(
      /unknown or already used state/,
    );

    const missing = await fetch(`${fx.url}/oauth/salesforce/callback?code=abc`);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as JsonValue).error.message).toMatch(/missing state/);

    // Expired: the callback comes 11 minutes after the flow started.
    const started = await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, { body: {} });
    const approve = await fetch(String(started.body.authorizeUrl), { redirect: 'manual' });
    fx.clock.now += 11 * 60_000;
    const late = await fetch(approve.headers.get('location')!);
    expect(late.status).toBe(400);
    expect(((await late.json()) as JsonValue).error.message).toMatch(/^expired state/);
  });

  test('a Salesforce denial on the callback is reported and spends the state', async () => {
    const started = await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, {
      body: { initlive: INITLIVE },
    });
    const state = new URL(String(started.body.authorizeUrl)).searchParams.get('state')!;
    const res = await fetch(
      `${fx.url}/oauth/salesforce/callback?error=access_denied&error_description=end-user+denied+authorization&state=${state}`,
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as JsonValue).error).toEqual({
      code: 'AUTH_FAILED',
      message: 'Salesforce did not authorize: end-user denied authorization',
    });
    expect(fx.directory.state(ORG)).toBe('disconnected');
  });

  test('connect for an org without InitLive credentials names the missing field', async () => {
    const res = await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, { body: {} });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual([
      { path: 'initlive', message: 'is required for an organization without InitLive credentials' },
    ]);
    const jwtNoUser = await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, {
      body: { flow: 'jwt' },
    });
    expect(jwtNoUser.status).toBe(400);
    expect(jwtNoUser.body.error.details.fields.map((f) => f.path)).toEqual(['username']);
  });

  test('disconnect revokes the token at Salesforce, stops streaming, keeps settings; reconnect works', async () => {
    await oauthConnect(fx, ORG);
    const put = await fx.api('PUT', `/api/orgs/${ORG}/salesforce/settings`, {
      body: {
        direction: 'two_way',
        defaultSystem: 'salesforce',
        schedule: { mode: 'interval', everyMinutes: 30 },
      },
    });
    expect(put.status).toBe(200);
    const oldToken = fx.directory.get(ORG)!.salesforce!.accessToken;
    remember(fx);
    fx.changes.length = 0;

    const res = await fx.api('POST', `/api/orgs/${ORG}/salesforce/disconnect`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ orgId: ORG, connection: 'disconnected', revoked: true });

    // The old token is dead at Salesforce.
    const stale = new Connection({
      instanceUrl: fx.sb.instanceUrl,
      accessToken: oldToken!,
      version: '62.0',
    });
    const err = await caught(() => stale.query('SELECT Id FROM Contact'));
    expect(err.errorCode).toBe('INVALID_SESSION_ID');
    expect(fx.sb.control.counters().refreshTokens).toBe(0);

    // The pipeline is told; the org is held, not dropped: listed, but with no Salesforce and no streaming.
    expect(fx.changes).toEqual([
      [ORG, expect.objectContaining({ kind: 'disconnected', state: 'disconnected' })],
    ]);
    expect(fx.directory.connectedOrgIds()).not.toContain(ORG);
    const runtime = fx.directory.get(ORG)!;
    expect(runtime.salesforce).toBeNull();
    expect(runtime.streaming).toBe(false);
    expect(runtime.settings.direction).toBe('two_way');
    const stored = fx.directory.connection(ORG)!;
    expect(stored.salesforce!.accessToken).toBeNull();
    expect(stored.salesforce!.refreshToken).toBeNull();
    const settings = await fx.api('GET', `/api/orgs/${ORG}/salesforce/settings`);
    expect(settings.body).toMatchObject({
      direction: 'two_way',
      defaultSystem: 'salesforce',
      schedule: { mode: 'interval', everyMinutes: 30 },
    });
    expect((await fx.api('GET', `/api/orgs/${ORG}/salesforce`)).body.connection).toBe(
      'disconnected',
    );

    // Disconnecting again is harmless.
    expect((await fx.api('POST', `/api/orgs/${ORG}/salesforce/disconnect`)).body.connection).toBe(
      'disconnected',
    );

    // Reconnect: no InitLive credentials needed again, settings still there.
    const again = await oauthConnect(fx, ORG, {});
    expect(again.body.connection).toBe('connected');
    expect(fx.directory.get(ORG)!.streaming).toBe(true);
    expect((await fx.directory.get(ORG)!.salesforce!.query('SELECT Id FROM Contact')).done).toBe(
      true,
    );
    expect(fx.directory.syncSettings(ORG).schedule).toEqual({ mode: 'interval', everyMinutes: 30 });
  });

  test('a refreshed access token is stored (sealed) for the next start', async () => {
    await oauthConnect(fx, ORG);
    const conn = fx.directory.get(ORG)!.salesforce!;
    const before = conn.accessToken;
    fx.sb.control.expireAccessTokens();
    await conn.query('SELECT Id FROM Contact');
    expect(conn.accessToken).not.toBe(before);
    await new Promise((r) => setTimeout(r, 20));
    expect(fx.directory.connection(ORG)!.salesforce!.accessToken).toBe(conn.accessToken);
    expect(await fx.store.raw(ORG)).not.toContain(conn.accessToken);
    expect((await fx.store.get(ORG))!.salesforce!.accessToken).toBe(conn.accessToken);
    expect(fx.directory.state(ORG)).toBe('connected');
    remember(fx);
  });

  test('a refresh refused with invalid_grant moves the org to needs_reauth (status and metrics)', async () => {
    await oauthConnect(fx, ORG);
    remember(fx);
    const conn = fx.directory.get(ORG)!.salesforce!;
    fx.changes.length = 0;
    fx.sb.control.revokeAllGrants();
    await expect(conn.query('SELECT Id FROM Contact')).rejects.toThrow(
      /expired access\/refresh token/,
    );
    await new Promise((r) => setTimeout(r, 20));

    expect(fx.directory.state(ORG)).toBe('needs_reauth');
    expect(fx.changes).toEqual([
      [ORG, expect.objectContaining({ kind: 'state', state: 'needs_reauth' })],
    ]);
    // Held: still served (records are not dead-lettered), Salesforce writes wait for a reconnect.
    expect(fx.directory.get(ORG)!.salesforce).toBeNull();
    const status = await fx.api('GET', `/api/orgs/${ORG}/salesforce`);
    expect(status.body.connection).toBe('needs_reauth');
    expect(status.body.reason).toMatch(/expired access\/refresh token/);
    const metrics = await (await fetch(`${fx.url}/metrics`)).text();
    expect(metrics).toContain(
      `initlive_sync_connection_state{org="${ORG}",state="needs_reauth"} 1`,
    );
    expect(metrics).toContain(`initlive_sync_connection_state{org="${ORG}",state="connected"} 0`);
    // Sync now is refused until an admin reconnects.
    expect((await fx.api('POST', `/api/orgs/${ORG}/salesforce/sync`)).status).toBe(409);

    const again = await oauthConnect(fx, ORG, {});
    expect(again.body.connection).toBe('connected');
    expect(fx.directory.get(ORG)!.salesforce).not.toBeNull();
  });

  test('the JWT bearer flow connects with HS256 (sandbox) and re-mints when the token expires', async () => {
    const res = await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, {
      body: { flow: 'jwt', username: fx.sb.username, initlive: INITLIVE },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      orgId: ORG,
      connection: 'connected',
      instanceUrl: fx.sb.instanceUrl,
      flow: 'jwt',
    });
    const conn = fx.directory.get(ORG)!.salesforce!;
    expect(fx.directory.connection(ORG)!.salesforce!.refreshToken).toBeNull();
    await conn.query('SELECT Id FROM Contact');
    const first = conn.accessToken;
    fx.sb.control.expireAccessTokens();
    await conn.query('SELECT Id FROM Contact');
    expect(conn.accessToken).not.toBe(first);
    expect(fx.directory.state(ORG)).toBe('connected');
    remember(fx);

    const wrongUser = await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, {
      body: { flow: 'jwt', username: 'nobody@example.org' },
    });
    expect(wrongUser.status).toBe(400);
    expect(wrongUser.body.error.code).toBe('AUTH_FAILED');
    expect(wrongUser.body.error.details.upstreamCode).toBe('invalid_grant');
  });

  test('the org is package_missing when our Contact fields are not installed', async () => {
    fx.sb.control.uninstallPackage();
    const res = await oauthConnect(fx, ORG);
    expect(res.body.connection).toBe('package_missing');
    // Still usable for reads: the sinks hold their writes and probe.
    expect(fx.directory.get(ORG)!.salesforce).not.toBeNull();
    expect((await fx.api('GET', `/api/orgs/${ORG}/salesforce`)).body.connection).toBe(
      'package_missing',
    );
  });
});

describe('admin API: JWT bearer with RS256', () => {
  test('a private key signs the assertion; the sandbox verifies it with the public key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const fx = await startAdmin({
      sandbox: { jwtPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    });
    try {
      const res = await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, {
        body: { flow: 'jwt', username: fx.sb.username, privateKeyPem: pem, initlive: INITLIVE },
      });
      expect(res.status).toBe(200);
      expect((await fx.directory.get(ORG)!.salesforce!.query('SELECT Id FROM Contact')).done).toBe(
        true,
      );
      const raw = (await fx.store.raw(ORG))!;
      expect(raw).not.toContain('PRIVATE KEY');
      expect(fx.directory.connection(ORG)!.salesforce!.privateKeyPem).toBe(pem);
      for (const line of fx.logs) expect(line).not.toContain('PRIVATE KEY');
    } finally {
      await fx.close();
    }
  });
});
