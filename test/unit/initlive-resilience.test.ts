import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../src/errors';
import type { SyncError } from '../../src/errors';
import { fastRetryPolicy } from '../../src/retry';
import type { RetryPolicy } from '../../src/retry';
import { createInitLiveClient } from '../../src/infra/initlive';
import type { InitLiveApi } from '../../src/infra/initlive';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox, InitLiveSandboxOptions } from '../../src/sandbox/initlive';

const DAY_MS = 24 * 60 * 60 * 1000;
const ORG_ROUTE = 'GET /organizations/:orgId';

async function caught(promise: Promise<unknown>): Promise<SyncError> {
  try {
    await promise;
  } catch (err) {
    if (isSyncError(err)) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

function clientFor(
  sandbox: InitLiveSandbox,
  retryPolicy: RetryPolicy = fastRetryPolicy,
): InitLiveApi {
  return createInitLiveClient({
    baseUrl: sandbox.baseUrl,
    apiKey: 'sandbox-key',
    orgId: 'org_demo',
    changeOrigin: 'salesforce-sync',
    retryPolicy,
  });
}

describe('InitLive client resilience against the sandbox', () => {
  const sandboxes: InitLiveSandbox[] = [];
  const start = async (options: InitLiveSandboxOptions = {}): Promise<InitLiveSandbox> => {
    const s = await startInitLiveSandbox({ rateLimit: false, ...options });
    sandboxes.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(sandboxes.splice(0).map((s) => s.close()));
  });

  it('waits as long as Retry-After says on 429, instead of hammering', async () => {
    const sandbox = await start();
    // Backoff alone would retry within milliseconds; only Retry-After can make it wait ~2 s.
    const client = clientFor(sandbox, {
      maxAttempts: 5,
      initialDelayMs: 5,
      maxDelayMs: 20,
      factor: 2,
      jitter: 0,
    });
    sandbox.control.failNextWithRateLimit(2, { retryAfterSeconds: 1 });
    const started = Date.now();
    await expect(client.getOrganization()).resolves.toMatchObject({ id: 'org_demo' });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(5000);
    const counters = sandbox.control.counters();
    expect(counters.requests[ORG_ROUTE]).toBe(3);
    expect(counters.rateLimited).toBe(2);
    expect(counters.responses['429']).toBe(2);
  });

  it('gives up with RATE_LIMITED carrying retryAfterMs when 429s outlast the policy', async () => {
    const sandbox = await start();
    const client = clientFor(sandbox, { ...fastRetryPolicy, maxAttempts: 2 });
    sandbox.control.failNextWithRateLimit(5, { retryAfterSeconds: 0 });
    const err = await caught(client.getOrganization());
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.retriable).toBe(true);
    expect(err.context.retryAfterMs).toBe(0);
    expect(sandbox.control.counters().requests[ORG_ROUTE]).toBe(2);
  });

  it('stays under the token bucket: concurrent calls all succeed after 429s', async () => {
    const sandbox = await start({ rateLimit: { perSecond: 10, burst: 5 } });
    const client = clientFor(sandbox, { ...fastRetryPolicy, maxAttempts: 6 });
    const results = await Promise.all(Array.from({ length: 12 }, () => client.getOrganization()));
    expect(results).toHaveLength(12);
    const counters = sandbox.control.counters();
    expect(counters.rateLimited).toBeGreaterThan(0);
    expect(counters.responses['200']).toBe(12);
  });

  it('retries 5xx and succeeds; gives up with UPSTREAM_UNAVAILABLE when they persist', async () => {
    const sandbox = await start();
    const client = clientFor(sandbox);
    sandbox.control.failNextWithServerError(2, { status: 502 });
    const staff = await client.createStaff({
      lastName: 'AfterOutage',
      email: 'outage@example.org',
    });
    expect(staff.version).toBe(1);
    expect(sandbox.control.counters().requests['POST /organizations/:orgId/staff']).toBe(3);
    // The injected 5xx happen before any write, so the retries created exactly one record.
    expect(sandbox.control.listStaff()).toHaveLength(1);

    sandbox.control.failNextWithServerError(50);
    const err = await caught(client.getStaff(staff.id));
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.context.status).toBe(503);
    expect(sandbox.control.counters().requests['GET /organizations/:orgId/staff/:id']).toBe(
      fastRetryPolicy.maxAttempts,
    );
  });

  it('retries network failures as UPSTREAM_UNAVAILABLE', async () => {
    const sandbox = await start();
    const url = sandbox.baseUrl;
    await sandbox.close();
    const client = createInitLiveClient({
      baseUrl: url,
      apiKey: 'sandbox-key',
      orgId: 'org_demo',
      changeOrigin: 'x',
      retryPolicy: { ...fastRetryPolicy, maxAttempts: 2 },
    });
    const err = await caught(client.getOrganization());
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.retriable).toBe(true);
  });

  it('expires feed positions older than the retention window (POSITION_EXPIRED)', async () => {
    const sandbox = await start();
    const client = clientFor(sandbox);
    const first = await client.createStaff({ lastName: 'Old', email: 'old@example.org' });
    await client.updateStaff(first.id, { firstName: 'Older' });
    const { nextAfter } = await client.readChanges(0);
    expect(nextAfter).toBe(2);

    sandbox.control.advanceClock(8 * DAY_MS);
    const fresh = await client.createStaff({ lastName: 'New', email: 'new@example.org' });
    // Our position (2) is right before the oldest retained change (3): nothing was missed.
    const resumed = await client.readChanges(nextAfter);
    expect(resumed.changes.map((c) => c.staffId)).toEqual([fresh.id]);
    // A position before purged changes cannot be served.
    const err = await caught(client.readChanges(1));
    expect(err.code).toBe('POSITION_EXPIRED');
    expect(err.retriable).toBe(false);
    expect(err.context.status).toBe(410);
    // after=0 means "from the oldest retained".
    expect((await client.readChanges(0)).changes.map((c) => c.seq)).toEqual([3]);

    // expireFeed purges everything up to now; the latest position is still valid, older ones not.
    await client.updateStaff(fresh.id, { firstName: 'Newer' });
    expect(sandbox.control.expireFeed()).toBe(2);
    await expect(client.readChanges(4)).resolves.toEqual({
      changes: [],
      nextAfter: 4,
      hasMore: false,
    });
    expect((await caught(client.readChanges(3))).code).toBe('POSITION_EXPIRED');
    // A position the feed never issued (e.g. the sandbox lost its data) is expired too.
    expect((await caught(client.readChanges(999))).code).toBe('POSITION_EXPIRED');
  });

  it('keeps staff, feed and webhooks across restarts with a state file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'initlive-sandbox-'));
    const stateFile = join(dir, 'state.json');
    try {
      const first = await start({ stateFile, seed: { staffCount: 5, seed: 's' } });
      const client = clientFor(first);
      const created = await client.createStaff({
        firstName: 'Zoë',
        lastName: '李',
        email: 'zoe@example.org',
      });
      const hook = await client.registerWebhook('http://127.0.0.1:9/hook', 'a-long-secret');
      await first.close();

      const second = await start({ stateFile, seed: { staffCount: 5, seed: 's' } });
      const again = clientFor(second);
      expect(await again.getStaff(created.id)).toEqual(created);
      expect(second.control.listStaff()).toHaveLength(6);
      const next = await again.createStaff({ lastName: 'Later', email: 'later@example.org' });
      expect(next.id).not.toBe(created.id);
      const feed = await again.readChanges(0);
      expect(feed.changes.map((c) => c.seq)).toEqual([1, 2]);
      await expect(again.unregisterWebhook(hook.id)).resolves.toBeUndefined();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('offers the control surface over HTTP, guarded by the org key', async () => {
    const sandbox = await start();
    const control = `${sandbox.url}/__sandbox`;
    const auth = { Authorization: 'Bearer sandbox-key', 'Content-Type': 'application/json' };
    expect((await fetch(`${control}/counters`)).status).toBe(401);

    const human = await fetch(`${control}/staff`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ firstName: 'Walk', lastName: 'In', email: 'walkin@example.org' }),
    });
    expect(human.status).toBe(201);
    const staff = (await human.json()) as { id: string };
    const hours = await fetch(`${control}/staff/${staff.id}/hours-worked`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ hoursWorked: 4.5 }),
    });
    expect(((await hours.json()) as { hoursWorked: number }).hoursWorked).toBe(4.5);

    const faults = await fetch(`${control}/faults`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ rateLimit: { count: 1, retryAfterSeconds: 7 } }),
    });
    expect(faults.status).toBe(204);
    const limited = await fetch(`${sandbox.apiUrl}/organizations/org_demo`, { headers: auth });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');

    const feed = await clientFor(sandbox).readChanges(0);
    expect(
      feed.changes.map((c) => [c.type, c.origin, c.changedFields.includes('hoursWorked')]),
    ).toEqual([
      ['created', null, false],
      ['updated', null, true],
    ]);
    const seeded = await fetch(`${control}/seed`, {
      method: 'POST',
      headers: auth,
      body: '{"count": 3}',
    });
    expect(await seeded.json()).toEqual({ created: 3 });
    const counters = (await (await fetch(`${control}/counters`, { headers: auth })).json()) as {
      rateLimited: number;
    };
    expect(counters.rateLimited).toBe(1);
  });
});
