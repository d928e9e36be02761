import { RedisApiTokenStore } from '../../src/infra/redis/redis-api-token-store';
import { redisScope } from '../fixtures/redis-scope';
import { INITLIVE, oauthConnect, startAdmin, type AdminFixture } from '../unit/admin-fixture';

/**
 * Two connector processes' admin APIs, each with its own Redis client on one deployment's keys:
 * a token revoked at one fails at the other's very next request.
 */
describe('API tokens on Redis, across two admin processes', () => {
  let scope: ReturnType<typeof redisScope>;
  const fixtures: AdminFixture[] = [];

  beforeAll(() => {
    scope = redisScope('admin-tokens');
  });

  afterAll(async () => {
    for (const fx of fixtures) await fx.close();
    await scope.cleanup();
  });

  const connectorProcess = async (): Promise<AdminFixture> => {
    const fx = await startAdmin({
      tokens: new RedisApiTokenStore({ redis: scope.open(), keyPrefix: scope.prefix }),
    });
    fixtures.push(fx);
    return fx;
  };

  it('a token created at one process works at the other until it is revoked, then fails there at once', async () => {
    const one = await connectorProcess();
    const two = await connectorProcess();
    expect((await oauthConnect(one, 'org_a', { initlive: INITLIVE })).status).toBe(200);
    const created = await one.api('POST', '/api/orgs/org_a/tokens', {
      body: { name: 'ops', role: 'admin' },
    });
    expect(created.status).toBe(201);
    const secret = String(created.body.secret);

    const seen = await two.api('GET', '/api/orgs', { token: secret });
    expect(seen.status).toBe(200);
    expect((await two.api('GET', '/api/orgs/org_b/salesforce', { token: secret })).status).toBe(
      403,
    );
    // The last use is recorded where the token lives, so the first process lists it.
    const listed = await one.api('GET', '/api/orgs/org_a/tokens');
    expect((listed.body.tokens as Array<{ lastUsedAt: string | null }>)[0]?.lastUsedAt).not.toBe(
      null,
    );
    expect(JSON.stringify(listed.body)).not.toContain(secret.slice(21));

    expect(
      (await one.api('DELETE', `/api/orgs/org_a/tokens/${String(created.body.id)}`)).status,
    ).toBe(204);
    expect((await two.api('GET', '/api/orgs', { token: secret })).status).toBe(401);
    expect((await one.api('GET', '/api/orgs', { token: secret })).status).toBe(401);
  });
});
