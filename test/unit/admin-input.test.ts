import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { routes } from '../../src/admin/routes';
import type { AdminFixture } from './admin-fixture';
import { INITLIVE, oauthConnect, startAdmin } from './admin-fixture';

/**
 * Admin input is strict and never ends in a 5xx: non-JSON bodies, empty settings, bad org ids,
 * malformed escapes and unknown encodings get a clear 4xx and change nothing, and a
 * property-based run throws generated requests at every route.
 */

const ORG = 'org_input';

interface Raw {
  status: number;
  text: string;
}

/** One request exactly as given: no path normalization, any header, any bytes. */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<Raw> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('admin input', () => {
  let fx: AdminFixture;
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${fx.token}` });

  beforeAll(async () => {
    fx = await startAdmin();
    expect((await oauthConnect(fx, ORG, { initlive: INITLIVE })).status).toBe(200);
    const put = await fx.api('PUT', `/api/orgs/${ORG}/salesforce/settings`, {
      body: {
        direction: 'two_way',
        defaultSystem: 'salesforce',
        schedule: { mode: 'interval', everyMinutes: 15 },
      },
    });
    expect(put.status).toBe(200);
  });

  afterAll(async () => {
    await fx.close();
  });

  const settingsNow = async (): Promise<unknown> =>
    (await fx.api('GET', `/api/orgs/${ORG}/salesforce/settings`)).body;

  it('refuses a settings PUT that is not a JSON object, and changes nothing', async () => {
    const before = await settingsNow();
    expect(before).toMatchObject({
      direction: 'two_way',
      defaultSystem: 'salesforce',
      schedule: { mode: 'interval', everyMinutes: 15 },
    });
    const path = `/api/orgs/${ORG}/salesforce/settings`;
    const cases: Array<[string, Record<string, string>, string | undefined, number]> = [
      [
        'text/plain',
        { 'content-type': 'text/plain' },
        '{"direction":"initlive_to_salesforce"}',
        415,
      ],
      ['a form', { 'content-type': 'application/x-www-form-urlencoded' }, 'direction=x', 415],
      ['no type', {}, '{"streaming":false}', 415],
      ['no body', {}, undefined, 400],
      ['an empty JSON body', { 'content-type': 'application/json' }, '', 400],
      ['a JSON array', { 'content-type': 'application/json' }, '[]', 400],
      ['JSON null', { 'content-type': 'application/json' }, 'null', 400],
      ['broken JSON', { 'content-type': 'application/json' }, '{"direction":', 400],
    ];
    for (const [what, headers, body, status] of cases) {
      const res = await raw(fx.url, 'PUT', path, { ...auth(), ...headers }, body);
      expect([what, res.status]).toEqual([what, status]);
      expect(JSON.parse(res.text)).toMatchObject({ error: { code: expect.any(String) } });
    }
    expect(
      JSON.parse(
        (await raw(fx.url, 'PUT', path, { ...auth(), 'content-type': 'text/plain' }, 'x')).text,
      ),
    ).toEqual({
      error: {
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'send the body as application/json (got Content-Type text/plain)',
      },
    });
    expect(await settingsNow()).toEqual(before);
  });

  it('merges a settings PUT into what is stored, and turning two-way on names the default system', async () => {
    const path = `/api/orgs/${ORG}/salesforce/settings`;
    const changed = await fx.api('PUT', path, { body: { streaming: false } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      direction: 'two_way',
      defaultSystem: 'salesforce',
      streaming: false,
      schedule: { mode: 'interval', everyMinutes: 15 },
    });
    await fx.api('PUT', path, { body: { direction: 'initlive_to_salesforce' } });
    const unnamed = await fx.api('PUT', path, { body: { direction: 'two_way' } });
    expect(unnamed.status).toBe(400);
    expect(unnamed.body.error.details?.fields).toEqual([
      {
        path: 'defaultSystem',
        message: expect.stringContaining('is required when direction is two_way'),
      },
    ]);
    const named = await fx.api('PUT', path, {
      body: { direction: 'two_way', defaultSystem: 'salesforce', streaming: true },
    });
    expect(named.status).toBe(200);
  });

  it('answers 400 for org ids outside the pattern on every route, before anything happens', async () => {
    const bad = [
      '.',
      '..',
      '...',
      '%2e%2e',
      '%2E',
      '-lead',
      'a.b',
      'a%2Fb',
      `${'a'.repeat(65)}`,
      'a%7Bb%7D',
    ];
    const orgRoutes = routes.filter((r) => r.path.includes(':orgId'));
    expect(orgRoutes.length).toBeGreaterThan(10);
    for (const route of orgRoutes) {
      for (const id of bad) {
        const path = route.path
          .replace(':orgId', id)
          .replace(':runId', 'run_1')
          .replace(':id', 'dl_1');
        const res = await raw(fx.url, route.method.toUpperCase(), path, auth());
        expect([route.method, path, res.status]).toEqual([route.method, path, 400]);
        expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'INVALID_INPUT' } });
      }
    }
    // A well-formed id of 64 characters is fine.
    const longest = await raw(fx.url, 'GET', `/api/orgs/${'a'.repeat(64)}/salesforce`, auth());
    expect(longest.status).toBe(200);
  });

  it('answers 4xx, never 5xx, to malformed escapes, unknown encodings and charsets', async () => {
    const malformed = await raw(fx.url, 'GET', '/api/orgs/%E0%A4%A/salesforce', auth());
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.text).error.message).toBe('the path has a malformed %-escape');
    const json = { ...auth(), 'content-type': 'application/json' };
    const path = `/api/orgs/${ORG}/salesforce/settings`;
    const unknown = await raw(fx.url, 'PUT', path, { ...json, 'content-encoding': 'snappy' }, '{}');
    expect(unknown.status).toBe(415);
    const lying = await raw(fx.url, 'PUT', path, { ...json, 'content-encoding': 'gzip' }, '{}');
    expect(lying.status).toBe(400);
    const charset = await raw(
      fx.url,
      'PUT',
      path,
      { ...auth(), 'content-type': 'application/json; charset=klingon' },
      '{}',
    );
    expect(charset.status).toBe(415);
    // A real gzip body is read like any other.
    const gzipped = await raw(
      fx.url,
      'PUT',
      path,
      { ...json, 'content-encoding': 'gzip' },
      gzipSync(JSON.stringify({ streaming: true })),
    );
    expect(gzipped.status).toBe(200);
  });

  it('builds the OAuth callback URL from configuration, never from the Host header', async () => {
    const res = await raw(fx.url, 'POST', `/api/orgs/${ORG}/salesforce/connect`, {
      ...auth(),
      host: 'evil.example:666',
    });
    expect(res.status).toBe(200);
    const authorize = new URL(JSON.parse(res.text).authorizeUrl as string);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${fx.url}/oauth/salesforce/callback`);
  });

  // ADMIN_FUZZ_RUNS and ADMIN_FUZZ_SEED run it longer or otherwise (docs/testing.md).
  const runs = Number(process.env.ADMIN_FUZZ_RUNS ?? 10_000);
  const seed = Number(process.env.ADMIN_FUZZ_SEED ?? 20261203);

  it(`never answers 5xx to ${runs} generated requests`, async () => {
    const orgIds = fc.oneof(
      fc.constant(ORG),
      fc.constantFrom('.', '..', '%2e%2e', '%E0%A4%A', '%', '%zz', '{org}', 'a%20b', '%C3%A9'),
      fc.string({ maxLength: 80 }).map((s) => encodeURIComponent(s)),
    );
    const segment = fc.oneof(
      fc.constantFrom(
        'salesforce',
        'settings',
        'sync',
        'runs',
        'errors',
        'retry',
        'records',
        'connect',
        'disconnect',
      ),
      fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)),
      fc.constantFrom('%', '%C0%AF', '..', '.', '%00'),
    );
    // Mostly the API's own routes with generated parameters, so requests reach the handlers.
    const params = fc.oneof(fc.constantFrom('run_1', 'dl_1', 'x'), fc.string({ maxLength: 20 }));
    const routePath = fc
      .tuple(fc.constantFrom(...routes.map((r) => r.path)), orgIds, params)
      .map(([template, org, param]) =>
        template.replace(':orgId', org).replace(/:(runId|id)/, encodeURIComponent(param)),
      );
    const randomPath = fc
      .tuple(orgIds, fc.array(segment, { maxLength: 4 }))
      .map(([org, rest]) => `/api/orgs/${org}/${rest.join('/')}`);
    const query = fc.option(
      fc.dictionary(
        fc.constantFrom('limit', 'offset', 'code', 'initliveId', 'salesforceId', 'email', 'x'),
        fc.string({ maxLength: 20 }),
        { maxKeys: 3 },
      ),
    );
    const path = fc
      .tuple(
        fc.oneof({ weight: 4, arbitrary: routePath }, { weight: 1, arbitrary: randomPath }),
        query,
      )
      .map(([p, q]) => (q === null ? p : `${p}?${new URLSearchParams(q).toString()}`));
    const body = fc.oneof(
      fc.constant(undefined),
      fc.json({ maxDepth: 4 }),
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        '{"__proto__":{"admin":true}}',
        '{"constructor":{"prototype":{"x":1}}}',
        '{"direction":"two_way"}',
        `{"a":${'['.repeat(2000)}${']'.repeat(2000)}}`,
        '\u0000\u0001',
      ),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    const headers = fc.record(
      {
        'content-type': fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'application/merge-patch+json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/json; charset=latin1',
          '',
          ';;;',
        ),
        'content-encoding': fc.constantFrom('identity', 'gzip', 'deflate', 'br', 'x-unknown', ''),
        accept: fc.constantFrom('application/json', 'text/html', '*/*'),
      },
      { requiredKeys: [] },
    );
    const request = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
      path,
      headers,
      body,
      token: fc.oneof(
        { weight: 8, arbitrary: fc.constant('good') },
        { weight: 1, arbitrary: fc.constant('bad') },
        { weight: 1, arbitrary: fc.constant('none') },
      ),
    });
    let sent = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) if (v !== '') h[k] = v;
        if (r.token === 'good') h.authorization = `Bearer ${fx.token}`;
        if (r.token === 'bad') h.authorization = 'Bearer nope';
        const res = await raw(fx.url, r.method, r.path, h, r.body);
        sent++;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500)
          throw new Error(`${res.status} for ${JSON.stringify(r)}: ${res.text}`);
      }),
      { numRuns: runs, seed },
    );
    expect(sent).toBe(runs);
    process.stdout.write(
      `admin fuzz: ${runs} requests, seed ${seed}, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}\n`,
    );
    // The run reached the handlers, not only the bearer check.
    expect([...statuses.keys()].some((s) => s >= 200 && s < 300)).toBe(true);
    expect(statuses.get(415)).toBeGreaterThan(0);
  });
});
