import type { AdminFixture, JsonValue } from './admin-fixture';
import { INITLIVE, startAdmin } from './admin-fixture';

const ORG = 'org_http';

describe('admin API: token, settings, Sync now, runs, health', () => {
  let fx: AdminFixture;

  beforeEach(async () => {
    fx = await startAdmin();
  });
  afterEach(async () => {
    await fx.close();
  });

  test('every /api route needs the bearer token: missing or wrong gets 401 with the error shape', async () => {
    const paths: Array<[string, string]> = [
      ['GET', `/api/orgs/${ORG}/salesforce`],
      ['POST', `/api/orgs/${ORG}/salesforce/connect`],
      ['POST', `/api/orgs/${ORG}/salesforce/disconnect`],
      ['GET', `/api/orgs/${ORG}/salesforce/settings`],
      ['PUT', `/api/orgs/${ORG}/salesforce/settings`],
      ['POST', `/api/orgs/${ORG}/salesforce/sync`],
      ['GET', `/api/orgs/${ORG}/salesforce/runs`],
      ['GET', `/api/orgs/${ORG}/salesforce/runs/r1`],
      ['GET', `/api/orgs/${ORG}/salesforce/errors`],
      ['POST', `/api/orgs/${ORG}/salesforce/errors/retry`],
      ['POST', `/api/orgs/${ORG}/salesforce/errors/x/retry`],
      ['DELETE', `/api/orgs/${ORG}/salesforce/errors/x`],
    ];
    for (const [method, path] of paths) {
      const missing = await fx.api(method, path, { token: null });
      expect([method, path, missing.status]).toEqual([method, path, 401]);
      expect(missing.body).toEqual({
        error: { code: 'AUTH_FAILED', message: expect.stringMatching(/missing bearer token/) },
      });
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      const wrong = await fx.api(method, path, { token: `${fx.token}x` });
      expect(wrong.status).toBe(401);
      expect(wrong.body.error.message).toBe('wrong bearer token');
    }
    const basic = await fetch(`${fx.url}/api/orgs/${ORG}/salesforce`, {
      headers: { authorization: `Basic ${fx.token}` },
    });
    expect(basic.status).toBe(401);
    // A generated token is long and random.
    expect(fx.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // Nothing was changed by the refused calls.
    expect(fx.directory.states()).toEqual([]);
  });

  test('ADMIN_TOKEN from the config is the one accepted', async () => {
    const other = await startAdmin({ adminToken: 'configured-admin-token-0123456789' });
    try {
      expect(other.token).toBe('configured-admin-token-0123456789');
      expect((await other.api('GET', `/api/orgs/${ORG}/salesforce/settings`)).status).toBe(200);
      expect(
        (await other.api('GET', `/api/orgs/${ORG}/salesforce/settings`, { token: fx.token }))
          .status,
      ).toBe(401);
    } finally {
      await other.close();
    }
  });

  test('/healthz, /readyz and /metrics need no token', async () => {
    expect((await (await fetch(`${fx.url}/healthz`)).json()) as JsonValue).toEqual({
      status: 'ok',
    });
    const ready = await fetch(`${fx.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as JsonValue).status).toBe('ready');
    fx.ready.ok = false;
    const notReady = await fetch(`${fx.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect((await notReady.json()) as JsonValue).toEqual({
      status: 'not_ready',
      checks: [
        { name: 'transport', ok: false, detail: 'broker unreachable' },
        { name: 'store', ok: true },
      ],
    });
    const metrics = await fetch(`${fx.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
  });

  test('settings: defaults for a new org, a valid PUT is stored and restarts the org', async () => {
    const defaults = await fx.api('GET', `/api/orgs/${ORG}/salesforce/settings`);
    expect(defaults.status).toBe(200);
    expect(defaults.body).toEqual({
      direction: 'initlive_to_salesforce',
      defaultSystem: 'initlive',
      streaming: true,
      schedule: { mode: 'manual' },
      deletePolicy: 'archive',
      fieldMapping: [],
    });
    const next = {
      direction: 'two_way',
      defaultSystem: 'salesforce',
      streaming: false,
      schedule: { mode: 'daily', at: '02:30', timezone: 'America/Vancouver' },
      deletePolicy: 'propagate',
      fieldMapping: [{ field: 'phone', direction: 'none' }],
    };
    const put = await fx.api('PUT', `/api/orgs/${ORG}/salesforce/settings`, { body: next });
    expect(put.status).toBe(200);
    expect(put.body).toEqual(next);
    expect((await fx.api('GET', `/api/orgs/${ORG}/salesforce/settings`)).body).toEqual(next);
    expect(fx.changes).toContainEqual([ORG, expect.objectContaining({ kind: 'settings' })]);
    expect(fx.directory.syncSettings(ORG).schedule).toEqual(next.schedule);
    expect(fx.directory.state(ORG)).toBe('disconnected');
  });

  test('settings: a bad payload gets 400 naming each bad field, and nothing is stored', async () => {
    const bad = {
      direction: 'two_way',
      streaming: 'yes',
      schedule: { mode: 'interval', everyMinutes: 2 },
      deletePolicy: 'shred',
      fieldMapping: [
        { field: 'hoursWorked', direction: 'to_initlive' },
        { field: 'nickname', direction: 'both' },
      ],
      colour: 'blue',
    };
    const res = await fx.api('PUT', `/api/orgs/${ORG}/salesforce/settings`, { body: bad });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_INPUT');
    const paths = (res.body.error.details.fields as Array<{ path: string; message: string }>)
      .map((f) => f.path)
      .sort();
    expect(paths).toEqual(
      [
        'colour',
        'defaultSystem',
        'deletePolicy',
        'fieldMapping.0.direction',
        'fieldMapping.1.field',
        'schedule.everyMinutes',
        'streaming',
      ].sort(),
    );
    for (const p of paths) expect(res.body.error.message).toContain(p);
    const daily = await fx.api('PUT', `/api/orgs/${ORG}/salesforce/settings`, {
      body: { schedule: { mode: 'daily', at: '2:30pm', timezone: 'Moon/Base' } },
    });
    expect(daily.body.error.details.fields).toEqual([
      { path: 'schedule.at', message: 'must be a time as HH:MM (00:00 to 23:59)' },
      {
        path: 'schedule.timezone',
        message: 'must be an IANA time zone name, e.g. America/Vancouver',
      },
    ]);
    const notJson = await fx.api('PUT', `/api/orgs/${ORG}/salesforce/settings`, {
      body: '{"direction":',
    });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('INVALID_INPUT');
    expect(fx.directory.states()).toEqual([]);
    expect(await fx.store.get(ORG)).toBeNull();
  });

  test('Sync now: 409 while disconnected, 202 with a run id, 409 with the running run id', async () => {
    const disconnected = await fx.api('POST', `/api/orgs/${ORG}/salesforce/sync`);
    expect(disconnected.status).toBe(409);
    expect(disconnected.body.error).toMatchObject({
      code: 'CONFLICT',
      details: { connection: 'disconnected' },
    });
    expect(fx.runs.runs).toHaveLength(0);

    const connected = await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, {
      body: { flow: 'jwt', username: fx.sb.username, initlive: INITLIVE },
    });
    expect(connected.body.connection).toBe('connected');
    const first = await fx.api('POST', `/api/orgs/${ORG}/salesforce/sync`);
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ runId: fx.runs.runs[0]!.runId });
    expect(fx.runs.runs[0]!.trigger).toBe('manual');
    const second = await fx.api('POST', `/api/orgs/${ORG}/salesforce/sync`);
    expect(second.status).toBe(409);
    expect(second.body.runId).toBe(first.body.runId);
    expect(second.body.error).toMatchObject({
      code: 'CONFLICT',
      details: { runId: first.body.runId },
    });

    // Run history and the status's last run.
    const run = fx.runs.runs[0]!;
    run.status = 'succeeded';
    run.startedAt = 1_000;
    run.endedAt = 2_000;
    run.counts.created.salesforce = 3;
    const runs = await fx.api('GET', `/api/orgs/${ORG}/salesforce/runs`);
    expect(runs.body.runs).toEqual([
      expect.objectContaining({ runId: run.runId, status: 'succeeded', counts: run.counts }),
    ]);
    expect((await fx.api('GET', `/api/orgs/${ORG}/salesforce/runs/${run.runId}`)).body).toEqual(
      run,
    );
    const missing = await fx.api('GET', `/api/orgs/${ORG}/salesforce/runs/nope`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    expect((await fx.api('GET', `/api/orgs/${ORG}/salesforce/runs?limit=0`)).status).toBe(400);
    const status = await fx.api('GET', `/api/orgs/${ORG}/salesforce`);
    expect(status.body.lastRun).toEqual(run);
  });

  test('status: sources, lag, API budget and streaming state', async () => {
    await fx.api('POST', `/api/orgs/${ORG}/salesforce/connect`, {
      body: { flow: 'jwt', username: fx.sb.username, initlive: INITLIVE },
    });
    fx.status.setSource(ORG, {
      source: 'initlive',
      state: 'running',
      position: '42',
      lastEventAt: 5,
      lastError: null,
      lag: 3,
    });
    fx.events.emit('salesforce.api-usage', { orgId: ORG, used: 120, max: 15_000 });
    const status = await fx.api('GET', `/api/orgs/${ORG}/salesforce`);
    expect(status.body).toMatchObject({
      connection: 'connected',
      flow: 'jwt',
      lag: { initlive: 3, salesforce: null },
      apiBudget: { used: 120, max: 15_000, remaining: 14_880 },
      streaming: {
        enabled: true,
        active: true,
        sources: { initlive: 'running', salesforce: 'stopped' },
      },
      lastRun: null,
    });
    expect((await fx.api('GET', '/api/orgs/bad%20id/salesforce')).status).toBe(400);
    const unknown = await fx.api('GET', '/api/nothing');
    expect(unknown.status).toBe(404);
  });
});
