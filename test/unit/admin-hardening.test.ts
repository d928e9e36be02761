import { CONSOLE_CSP } from '../../src/admin/console';
import { startAdmin, type AdminFixture } from './admin-fixture';

/** Issue 17's HTTP hardening: headers on every answer, request ids, failed sign-ins limited. */
describe('admin HTTP hardening', () => {
  let fx: AdminFixture;

  beforeEach(async () => {
    fx = await startAdmin({ failedAuthLimit: { limit: 20, windowMs: 60_000 } });
  });

  afterEach(async () => {
    await fx.close();
  });

  const call = (
    path: string,
    options: { token?: string; from?: string; requestId?: string } = {},
  ): Promise<Response> =>
    fetch(`${fx.url}${path}`, {
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        // The app trusts X-Forwarded-For from loopback, as behind a local proxy.
        ...(options.from ? { 'x-forwarded-for': options.from } : {}),
        ...(options.requestId ? { 'x-request-id': options.requestId } : {}),
      },
    });

  it('puts the hardening headers on API answers, errors included, and never lets them be cached', async () => {
    for (const res of [
      await call('/api/orgs', { token: fx.token }),
      await call('/api/orgs/nope/salesforce/nothing', { token: fx.token }),
      await call('/api/orgs'),
    ]) {
      expect([200, 401, 404]).toContain(res.status);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('gives every answer a request id, echoes a plain one the client sent, and logs it with the request', async () => {
    const fresh = await call('/api/orgs', { token: fx.token });
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const other = await call('/api/orgs', { token: fx.token });
    expect(other.headers.get('x-request-id')).not.toBe(fresh.headers.get('x-request-id'));

    const echoed = await call('/api/orgs', { token: fx.token, requestId: 'support-ticket-4711' });
    expect(echoed.headers.get('x-request-id')).toBe('support-ticket-4711');
    // A log line is no place for whatever a client sends: an id that is not plain is replaced.
    const odd = await call('/api/orgs', { token: fx.token, requestId: 'a b<script>' });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const line = fx.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'http' && l.requestId === 'support-ticket-4711');
    expect(line).toMatchObject({ method: 'GET', path: '/api/orgs', status: 200 });
  });

  it('answers 429 with Retry-After once an address has failed 20 times; valid tokens are not counted, and other addresses go on', async () => {
    // A busy script with a valid token never uses the allowance up.
    for (let i = 0; i < 30; i++) {
      expect((await call('/api/orgs', { token: fx.token, from: '198.51.100.7' })).status).toBe(200);
    }
    for (let i = 0; i < 20; i++) {
      const res = await call('/api/orgs', { token: `wrong-token-${i}`, from: '203.0.113.9' });
      expect(res.status).toBe(401);
    }
    const limited = await call('/api/orgs', { token: 'wrong-token-20', from: '203.0.113.9' });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    // Guessing cannot go on behind the 429s: the limited address is refused before any check.
    expect((await call('/api/orgs', { token: fx.token, from: '203.0.113.9' })).status).toBe(429);
    // Everyone else is untouched, the script above included.
    expect((await call('/api/orgs', { token: fx.token, from: '198.51.100.7' })).status).toBe(200);
    expect((await call('/api/orgs', { token: fx.token })).status).toBe(200);
  });
});
