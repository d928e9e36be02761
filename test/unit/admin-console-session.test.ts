import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminTokenAuthenticator } from '../../src/admin/auth';
import { CONSOLE_CSP } from '../../src/admin/console';
import type { AdminFixture } from './admin-fixture';
import { startAdmin } from './admin-fixture';

/**
 * The console's side of the API: sign-in sessions (cookie flags, CSRF, sign-out ending them),
 * GET /api/orgs, and the console's files under their Content-Security-Policy.
 */

const ORG = 'org_console';

describe('console sessions, GET /api/orgs and the console files', () => {
  let fx: AdminFixture;

  beforeEach(async () => {
    fx = await startAdmin({ adminToken: 'console-admin-token-0123456789' });
  });
  afterEach(async () => {
    await fx.close();
  });

  async function signIn(): Promise<{ cookie: string; csrf: string; setCookie: string }> {
    const res = await fetch(`${fx.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: fx.token }),
    });
    expect(res.status).toBe(201);
    const setCookie = res.headers.get('set-cookie')!;
    const body = (await res.json()) as { csrfToken: string; principal: unknown };
    return { cookie: setCookie.split(';')[0]!, csrf: body.csrfToken, setCookie };
  }

  const withCookie = (cookie: string, init: RequestInit = {}): RequestInit => ({
    ...init,
    headers: { cookie, ...(init.headers ?? {}) },
  });

  test('a wrong token is refused with a clear message and no cookie', async () => {
    const res = await fetch(`${fx.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'nope' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /^wrong token: use the admin token/,
    );
    // A form post (not JSON) carries no token: a cross-site form cannot sign anyone in.
    const form = await fetch(`${fx.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${fx.token}`,
    });
    expect(form.status).toBe(415);
    expect(form.headers.get('set-cookie')).toBeNull();
  });

  test('signing in sets an HttpOnly SameSite=Strict cookie that opens the API; the token stays out of answers and logs', async () => {
    const { cookie, csrf, setCookie } = await signIn();
    expect(setCookie).toMatch(/^ils_session=[A-Za-z0-9_-]{43}; /);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toMatch(/Secure/); // plain http here; set over TLS
    expect(setCookie).not.toContain(fx.token);

    const session = await fetch(`${fx.url}/api/session`, withCookie(cookie));
    expect(session.status).toBe(200);
    expect(session.headers.get('cache-control')).toBe('no-store');
    expect(await session.json()).toEqual({
      principal: { kind: 'admin' },
      csrfToken: csrf,
      expiresAt: expect.any(String),
    });
    expect((await fetch(`${fx.url}/api/orgs/${ORG}/salesforce`, withCookie(cookie))).status).toBe(
      200,
    );
    expect(fx.logs.join('\n')).not.toContain(fx.token);
    expect(fx.logs.join('\n')).not.toContain(cookie.split('=')[1]);
  });

  test('unsafe requests with the cookie need the session’s CSRF token', async () => {
    const { cookie, csrf } = await signIn();
    const put = (headers: Record<string, string>) =>
      fetch(
        `${fx.url}/api/orgs/${ORG}/salesforce/settings`,
        withCookie(cookie, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ direction: 'two_way', defaultSystem: 'salesforce' }),
        }),
      );
    const missing = await put({});
    expect(missing.status).toBe(403);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(
      /x-csrf-token/,
    );
    expect((await put({ 'x-csrf-token': `${csrf}x` })).status).toBe(403);
    expect(fx.directory.syncSettings(ORG).direction).toBe('initlive_to_salesforce');
    const ok = await put({ 'x-csrf-token': csrf });
    expect(ok.status).toBe(200);
    expect(fx.directory.syncSettings(ORG).direction).toBe('two_way');
  });

  test('sign out ends the session everywhere; a later request with the old cookie is told so', async () => {
    const { cookie, csrf } = await signIn();
    expect(
      (await fetch(`${fx.url}/api/session`, withCookie(cookie, { method: 'DELETE' }))).status,
    ).toBe(403);
    const out = await fetch(
      `${fx.url}/api/session`,
      withCookie(cookie, { method: 'DELETE', headers: { 'x-csrf-token': csrf } }),
    );
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^ils_session=; /);
    const after = await fetch(`${fx.url}/api/orgs`, withCookie(cookie));
    expect(after.status).toBe(401);
    expect(await after.json()).toEqual({
      error: {
        code: 'AUTH_FAILED',
        message: 'your session has ended: sign in again',
        details: { session: 'ended' },
      },
    });
  });

  test('a session lasts its TTL; a rotated admin token ends the sessions it opened', async () => {
    const { cookie } = await signIn();
    fx.clock.now += 8 * 3_600_000;
    expect((await fetch(`${fx.url}/api/orgs`, withCookie(cookie))).status).toBe(401);

    const key = Buffer.alloc(32, 7);
    const before = adminTokenAuthenticator('token-one', key);
    const principal = (await before.authenticate('token-one'))!;
    expect(await before.isCurrent(principal)).toBe(true);
    expect(await adminTokenAuthenticator('token-two', key).isCurrent(principal)).toBe(false);
    expect(await before.authenticate('token-two')).toBeNull();
    expect(JSON.stringify(principal)).not.toContain('token-one');
  });

  test('GET /api/orgs lists every organization the deployment knows, with its state and no secret', async () => {
    await fx.api('PUT', '/api/orgs/org_b/salesforce/settings', { body: { streaming: false } });
    await fx.api('PUT', '/api/orgs/org_a/salesforce/settings', {
      body: { direction: 'two_way', defaultSystem: 'initlive' },
    });
    const res = await fx.api('GET', '/api/orgs');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      orgs: [
        {
          orgId: 'org_a',
          connection: 'disconnected',
          reason: null,
          instanceUrl: null,
          connectedAt: null,
          direction: 'two_way',
          streaming: true,
          schedule: 'manual',
        },
        expect.objectContaining({ orgId: 'org_b', connection: 'disconnected', streaming: false }),
      ],
    });
    expect((await fx.api('GET', '/api/orgs', { token: null })).status).toBe(401);
  });

  test('the console is served at / under a strict CSP, with no inline script or style and no secret', async () => {
    const res = await fetch(`${fx.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toBe(CONSOLE_CSP);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).not.toContain(fx.token);
    // Every script is a file of this origin; no inline script, handler or style attribute.
    expect(html.match(/<script[^>]*>[^<]*<\/script>/g)).toEqual([
      '<script type="module" src="/console/js/main.js"></script>',
    ]);
    expect(html).not.toMatch(/\son[a-z]+=|style=|<style/i);
    expect(html).not.toMatch(/https?:\/\//);

    const script = await fetch(`${fx.url}/console/js/main.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const css = await fetch(`${fx.url}/console/console.css`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    // No external resource anywhere in the shipped files: no CDN, no web font.
    expect(await css.text()).not.toMatch(/url\(|@import|https?:/);
    expect((await fetch(`${fx.url}/console/nope.js`)).status).toBe(404);
    expect((await fetch(`${fx.url}/console/../package.json`)).status).toBe(404);
  });

  test('no file of the console loads anything from another origin', () => {
    const root = join(__dirname, '..', '..', 'console');
    const files = ['index.html', 'console.css', 'js/main.js', 'js/api.js'];
    for (const f of files) {
      const text = readFileSync(join(root, f), 'utf8');
      expect([f, /\b(?:src|href)=["']https?:|@import|fonts\.|cdn/i.test(text)]).toEqual([f, false]);
    }
  });
});
