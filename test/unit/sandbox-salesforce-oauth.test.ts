import { createHmac } from 'node:crypto';
import { Connection } from 'jsforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import {
  REDIRECT_URI,
  browserApprove,
  caught,
  connect,
  oauth2For,
  startSandbox,
} from './sandbox-salesforce-helpers';

function hs256Jwt(claims: Record<string, unknown>, secret: string): string {
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

describe('Salesforce sandbox OAuth (through jsforce)', () => {
  let now = Date.UTC(2026, 0, 1);
  let sb: SalesforceSandbox;

  beforeEach(async () => {
    now = Date.UTC(2026, 0, 1);
    sb = await startSandbox({ clock: () => now, accessTokenTtlMs: 60_000 });
  });
  afterEach(async () => {
    await sb.close();
  });

  test('authorization code with PKCE: state echoed, token carries id and instance_url', async () => {
    const oauth2 = oauth2For(sb);
    const url = new URL(oauth2.getAuthorizationUrl({ state: 'st-42' }));
    expect(url.searchParams.get('code_challenge')).toBeTruthy();
    const redirect = await browserApprove(url.toString());
    expect(`${redirect.origin}${redirect.pathname}`).toBe(REDIRECT_URI);
    expect(redirect.searchParams.get('state')).toBe('st-42');

    const conn = new Connection({ oauth2, version: '62.0' });
    const user = await conn.authorize(redirect.searchParams.get('code')!);
    expect(user.organizationId).toBe(sb.orgId);
    expect(user.id).toBe(sb.userId);
    expect(conn.instanceUrl).toBe(sb.instanceUrl);
    expect(conn.refreshToken).toBeTruthy();
    const identity = await conn.identity();
    expect(identity.username).toBe(sb.username);
  });

  test('a code is single-use, and a wrong verifier is refused', async () => {
    const oauth2 = oauth2For(sb);
    const code = (await browserApprove(oauth2.getAuthorizationUrl())).searchParams.get('code')!;
    await new Connection({ oauth2, version: '62.0' }).authorize(code);
    const reused = await caught(() => new Connection({ oauth2, version: '62.0' }).authorize(code));
    expect(reused.name).toBe('invalid_grant');

    const code2 = (await browserApprove(oauth2.getAuthorizationUrl())).searchParams.get('code')!;
    const otherVerifier = oauth2For(sb); // a different random code_verifier
    const wrong = await caught(() =>
      new Connection({ oauth2: otherVerifier, version: '62.0' }).authorize(code2),
    );
    expect(wrong.name).toBe('invalid_grant');
    expect(wrong.message).toBe('invalid code verifier');
  });

  test('codes expire after 15 minutes', async () => {
    const oauth2 = oauth2For(sb);
    const code = (await browserApprove(oauth2.getAuthorizationUrl())).searchParams.get('code')!;
    now += 16 * 60_000;
    const err = await caught(() => new Connection({ oauth2, version: '62.0' }).authorize(code));
    expect(err.name).toBe('invalid_grant');
  });

  test('an expired access token is refreshed by jsforce and the call succeeds', async () => {
    const conn = await connect(sb);
    const first = conn.accessToken;
    const refreshed: string[] = [];
    conn.on('refresh', (token: string) => refreshed.push(token));
    await conn.query('SELECT Id FROM Contact');
    expect(refreshed).toHaveLength(0);

    now += 61_000;
    const res = await conn.query('SELECT Id FROM Contact');
    expect(res.totalSize).toBe(0);
    expect(refreshed).toHaveLength(1);
    expect(refreshed[0]).not.toBe(first);
    expect(conn.accessToken).toBe(refreshed[0]);
  });

  test('expireAccessTokens fault is also survived through a refresh', async () => {
    const conn = await connect(sb);
    let refreshes = 0;
    conn.on('refresh', () => refreshes++);
    sb.control.expireAccessTokens();
    await conn.sobject('Contact').create({ LastName: 'After expiry' });
    expect(refreshes).toBe(1);
    expect(sb.control.listContacts().map((c) => c.LastName)).toEqual(['After expiry']);
  });

  test('revoking the refresh token kills its access tokens; the next refresh fails', async () => {
    const conn = await connect(sb);
    await conn.oauth2.revokeToken(conn.refreshToken!);
    const err = await caught(() => conn.query('SELECT Id FROM Contact'));
    expect(err.message).toContain('expired access/refresh token');
  });

  test('revokeAllGrants ends every session', async () => {
    const conn = await connect(sb);
    sb.control.revokeAllGrants();
    const err = await caught(() => conn.query('SELECT Id FROM Contact'));
    expect(err.message).toContain('expired access/refresh token');
    expect(sb.control.counters().refreshTokens).toBe(0);
  });

  test('a token the org never issued gets INVALID_SESSION_ID (no refresh configured)', async () => {
    const conn = new Connection({
      instanceUrl: sb.instanceUrl,
      accessToken: 'bogus',
      version: '62.0',
    });
    const err = await caught(() => conn.query('SELECT Id FROM Contact'));
    expect(err.errorCode).toBe('INVALID_SESSION_ID');
    expect(err.message).toBe('Session expired or invalid');
  });

  test('unknown token on revoke is refused', async () => {
    const err = await caught(() => oauth2For(sb).revokeToken('nope'));
    expect(err.message).toContain('unsupported_token_type');
  });

  test('password grant (jsforce login) works and bad passwords are refused', async () => {
    const conn = new Connection({ oauth2: oauth2For(sb, false), version: '62.0' });
    const user = await conn.login(sb.username, sb.password);
    expect(user.organizationId).toBe(sb.orgId);
    expect(conn.refreshToken).toBeUndefined();
    const bad = await caught(() =>
      new Connection({ oauth2: oauth2For(sb, false), version: '62.0' }).login(sb.username, 'wrong'),
    );
    expect(bad.name).toBe('invalid_grant');
    expect(bad.message).toBe('authentication failure');
  });

  test('client credentials and JWT bearer grants issue access tokens without refresh tokens', async () => {
    const cc = new Connection({ oauth2: oauth2For(sb, false), version: '62.0' });
    await cc.authorize({ grant_type: 'client_credentials' });
    expect(cc.refreshToken).toBeUndefined();
    expect((await cc.query('SELECT COUNT() FROM Contact')).totalSize).toBe(0);

    const assertion = hs256Jwt(
      { iss: sb.clientId, sub: sb.username, aud: sb.loginUrl, exp: Math.floor(now / 1000) + 180 },
      sb.clientSecret,
    );
    const jwt = new Connection({ oauth2: { loginUrl: sb.loginUrl }, version: '62.0' });
    await jwt.authorize({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    expect((await jwt.query('SELECT COUNT() FROM Contact')).totalSize).toBe(0);

    const expired = hs256Jwt(
      { iss: sb.clientId, sub: sb.username, aud: sb.loginUrl, exp: Math.floor(now / 1000) - 1 },
      sb.clientSecret,
    );
    const err = await caught(() =>
      new Connection({ oauth2: { loginUrl: sb.loginUrl }, version: '62.0' }).authorize({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: expired,
      }),
    );
    expect(err.name).toBe('invalid_grant');
    const forged = hs256Jwt(
      { iss: sb.clientId, sub: sb.username, aud: sb.loginUrl, exp: Math.floor(now / 1000) + 180 },
      'not-the-secret',
    );
    const err2 = await caught(() =>
      new Connection({ oauth2: { loginUrl: sb.loginUrl }, version: '62.0' }).authorize({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: forged,
      }),
    );
    expect(err2.name).toBe('invalid_grant');
  });

  test('client and grant errors use Salesforce OAuth error codes', async () => {
    const wrongClient = new Connection({
      oauth2: { clientId: 'nope', clientSecret: 'x', loginUrl: sb.loginUrl },
      version: '62.0',
    });
    expect((await caught(() => wrongClient.login(sb.username, sb.password))).name).toBe(
      'invalid_client_id',
    );
    const wrongSecret = new Connection({
      oauth2: { clientId: sb.clientId, clientSecret: 'x', loginUrl: sb.loginUrl },
      version: '62.0',
    });
    expect((await caught(() => wrongSecret.login(sb.username, sb.password))).name).toBe(
      'invalid_client',
    );
    const conn = new Connection({ oauth2: oauth2For(sb, false), version: '62.0' });
    expect((await caught(() => conn.authorize({ grant_type: 'magic' }))).name).toBe(
      'unsupported_grant_type',
    );
  });

  test('at most 5 refresh tokens per user and app: the oldest is revoked', async () => {
    const conns = [];
    for (let i = 0; i < 6; i++) conns.push(await connect(sb));
    expect(sb.control.counters().refreshTokens).toBe(5);
    const oldest = conns[0]!;
    sb.control.expireAccessTokens();
    expect((await caught(() => oldest.query('SELECT Id FROM Contact'))).message).toContain(
      'expired access/refresh token',
    );
    expect((await conns[5]!.query('SELECT COUNT() FROM Contact')).totalSize).toBe(0);
  });
});
