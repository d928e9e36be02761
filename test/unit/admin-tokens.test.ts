import { INITLIVE, oauthConnect, startAdmin, type AdminFixture } from './admin-fixture';
import { MemoryApiTokenStore } from '../../src/infra/memory/memory-api-token-store';

/** Issue 17's per-organization API tokens: scope, roles, revocation, nothing secret stored. */
describe('per-organization API tokens', () => {
  let fx: AdminFixture;
  let tokens: MemoryApiTokenStore;

  beforeAll(async () => {
    tokens = new MemoryApiTokenStore();
    fx = await startAdmin({ tokens });
    for (const org of ['org_a', 'org_b']) {
      expect((await oauthConnect(fx, org, { initlive: INITLIVE })).status).toBe(200);
    }
  });

  afterAll(async () => {
    await fx.close();
  });

  const create = async (
    orgId: string,
    name: string,
    role: string,
  ): Promise<{ id: string; secret: string }> => {
    const res = await fx.api('POST', `/api/orgs/${orgId}/tokens`, { body: { name, role } });
    expect(res.status).toBe(201);
    return { id: String(res.body.id), secret: String(res.body.secret) };
  };

  const code = (res: { body: Record<string, unknown> }): unknown =>
    (res.body.error as { code?: string } | undefined)?.code;

  it('creates a token shown once, lists it without its secret, and stores only a hash', async () => {
    const created = await fx.api('POST', '/api/orgs/org_a/tokens', {
      body: { name: 'reporting', role: 'viewer' },
    });
    expect(created.status).toBe(201);
    const secret = String(created.body.secret);
    expect(secret).toMatch(/^ilt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.body).toMatchObject({ orgId: 'org_a', name: 'reporting', role: 'viewer' });

    const listed = await fx.api('GET', '/api/orgs/org_a/tokens');
    expect(listed.status).toBe(200);
    const [listedToken] = listed.body.tokens as Array<Record<string, unknown>>;
    expect(listedToken).toEqual({
      id: created.body.id,
      orgId: 'org_a',
      name: 'reporting',
      role: 'viewer',
      createdAt: created.body.createdAt,
      lastUsedAt: null,
    });
    const stored = JSON.stringify(await tokens.get(String(created.body.id)));
    expect(stored).not.toContain(secret.slice(21));
    expect(stored).toContain('secretHash');

    // Used once: the list says when.
    expect((await fx.api('GET', '/api/orgs/org_a/salesforce', { token: secret })).status).toBe(200);
    const after = (await fx.api('GET', '/api/orgs/org_a/tokens')).body.tokens as Array<{
      lastUsedAt: string | null;
    }>;
    expect(after[0]?.lastUsedAt).not.toBeNull();

    const bad = await fx.api('POST', '/api/orgs/org_a/tokens', {
      body: { name: '', role: 'owner' },
    });
    expect(bad.status).toBe(400);
    const unknown = await fx.api('POST', '/api/orgs/org_zz/tokens', {
      body: { name: 'x', role: 'admin' },
    });
    expect(unknown.status).toBe(404);
  });

  it('lets an organization token see and change its own organization only', async () => {
    const ops = await create('org_a', 'ops', 'admin');
    expect((await fx.api('GET', '/api/orgs/org_a/salesforce', { token: ops.secret })).status).toBe(
      200,
    );
    const settings = await fx.api('PUT', '/api/orgs/org_a/salesforce/settings', {
      token: ops.secret,
      body: { streaming: false },
    });
    expect(settings.status).toBe(200);

    for (const [method, path, body] of [
      ['GET', '/api/orgs/org_b/salesforce', undefined],
      ['GET', '/api/orgs/org_b/salesforce/runs', undefined],
      ['PUT', '/api/orgs/org_b/salesforce/settings', { streaming: false }],
      ['POST', '/api/orgs/org_b/salesforce/sync', undefined],
      ['POST', '/api/orgs/org_b/salesforce/disconnect', undefined],
    ] as const) {
      const res = await fx.api(method, path, { token: ops.secret, ...(body ? { body } : {}) });
      expect([method, path, res.status, code(res)]).toEqual([method, path, 403, 'FORBIDDEN']);
      expect(String((res.body.error as { message: string }).message)).toContain('org_a');
    }
    const orgs = await fx.api('GET', '/api/orgs', { token: ops.secret });
    expect((orgs.body.orgs as Array<{ orgId: string }>).map((o) => o.orgId)).toEqual(['org_a']);
    const all = await fx.api('GET', '/api/orgs');
    expect((all.body.orgs as Array<{ orgId: string }>).map((o) => o.orgId)).toEqual([
      'org_a',
      'org_b',
    ]);
    // Managing tokens is the root token's alone, even for the token's own organization.
    const mint = await fx.api('POST', '/api/orgs/org_a/tokens', {
      token: ops.secret,
      body: { name: 'more', role: 'admin' },
    });
    expect([mint.status, code(mint)]).toEqual([403, 'FORBIDDEN']);
    expect((await fx.api('GET', '/api/orgs/org_a/tokens', { token: ops.secret })).status).toBe(403);
  });

  it('lets a viewer read but not change settings, sync, retry or disconnect', async () => {
    const viewer = await create('org_b', 'dashboard', 'viewer');
    for (const path of [
      '/api/orgs/org_b/salesforce',
      '/api/orgs/org_b/salesforce/settings',
      '/api/orgs/org_b/salesforce/runs',
      '/api/orgs/org_b/salesforce/errors',
    ]) {
      expect([path, (await fx.api('GET', path, { token: viewer.secret })).status]).toEqual([
        path,
        200,
      ]);
    }
    for (const [method, path, body] of [
      ['PUT', '/api/orgs/org_b/salesforce/settings', { streaming: false }],
      ['POST', '/api/orgs/org_b/salesforce/sync', undefined],
      ['POST', '/api/orgs/org_b/salesforce/errors/retry', {}],
      ['POST', '/api/orgs/org_b/salesforce/disconnect', undefined],
    ] as const) {
      const res = await fx.api(method, path, { token: viewer.secret, ...(body ? { body } : {}) });
      expect([method, path, res.status, code(res)]).toEqual([method, path, 403, 'FORBIDDEN']);
    }
    expect(fx.directory.state('org_b')).toBe('connected');
  });

  it('revokes a token at once, and a token with a wrong secret is no token', async () => {
    const temp = await create('org_a', 'temp', 'admin');
    expect((await fx.api('GET', '/api/orgs/org_a/salesforce', { token: temp.secret })).status).toBe(
      200,
    );
    const forged = temp.secret.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await fx.api('GET', '/api/orgs/org_a/salesforce', { token: forged })).status).toBe(401);

    expect((await fx.api('DELETE', `/api/orgs/org_b/tokens/${temp.id}`)).status).toBe(404);
    expect((await fx.api('DELETE', `/api/orgs/org_a/tokens/${temp.id}`)).status).toBe(204);
    expect((await fx.api('GET', '/api/orgs/org_a/salesforce', { token: temp.secret })).status).toBe(
      401,
    );
    expect((await fx.api('DELETE', `/api/orgs/org_a/tokens/${temp.id}`)).status).toBe(404);
  });
});
