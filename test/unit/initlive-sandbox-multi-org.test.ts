import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInitLiveClient } from '../../src/infra/initlive';
import type { InitLiveApi } from '../../src/infra/initlive';
import { fastRetryPolicy } from '../../src/retry';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox, SandboxOrg } from '../../src/sandbox/initlive';

const ORIGIN = 'salesforce-sync';

function clientFor(sandbox: InitLiveSandbox, org: SandboxOrg): InitLiveApi {
  return createInitLiveClient({
    baseUrl: sandbox.baseUrl,
    apiKey: org.apiKey,
    orgId: org.id,
    changeOrigin: ORIGIN,
    retryPolicy: fastRetryPolicy,
  });
}

async function createOrgOverHttp(
  sandbox: InitLiveSandbox,
  body: Record<string, unknown>,
): Promise<SandboxOrg> {
  const res = await fetch(`${sandbox.url}/__sandbox/orgs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer sandbox-key' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as SandboxOrg;
}

async function allStaff(api: InitLiveApi): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of api.listStaff()) ids.push(...page.map((s) => s.id));
  return ids;
}

describe('InitLive sandbox: several organizations on one server', () => {
  let sandbox: InitLiveSandbox;
  afterEach(async () => {
    await sandbox.close();
  });

  it("keeps each organization's staff and change feed to its own key", async () => {
    sandbox = await startInitLiveSandbox({ rateLimit: false, randomSeed: 7 });
    const a = sandbox.orgs[0]!;
    const b = await createOrgOverHttp(sandbox, { staffCount: 20, name: 'Org B' });
    expect(b.id).not.toBe(a.id);
    expect(b.apiKey).not.toBe(a.apiKey);
    expect(sandbox.orgs.map((o) => o.id)).toEqual([a.id, b.id]);
    const apiA = clientFor(sandbox, a);
    const apiB = clientFor(sandbox, b);
    await expect(apiB.getOrganization()).resolves.toMatchObject({ id: b.id, name: 'Org B' });

    expect(await allStaff(apiA)).toHaveLength(0);
    expect(await allStaff(apiB)).toHaveLength(20);

    const made = await apiA.createStaff({ firstName: 'Ada', lastName: 'A', email: 'ada@a.org' });
    // The same email is free in B: uniqueness is per organization.
    await apiB.createStaff({ firstName: 'Ada', lastName: 'B', email: 'ada@a.org' });
    expect((await apiA.readChanges(0)).changes.map((c) => c.staffId)).toEqual([made.id]);
    const feedB = (await apiB.readChanges(0)).changes;
    expect(feedB).toHaveLength(1);
    expect(feedB[0]!.staffId).not.toBe(made.id);
    await expect(apiB.getStaff(made.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // A key reaches its own organization only.
    const crossed = createInitLiveClient({
      baseUrl: sandbox.baseUrl,
      apiKey: b.apiKey,
      orgId: a.id,
      changeOrigin: ORIGIN,
      retryPolicy: fastRetryPolicy,
    });
    await expect(crossed.getOrganization()).rejects.toBeDefined();
    expect(sandbox.control.listStaff({ orgId: a.id })).toHaveLength(1);
    expect(sandbox.control.listStaff({ orgId: b.id })).toHaveLength(21);
  });

  it("A's spent rate limit and injected faults leave B alone", async () => {
    sandbox = await startInitLiveSandbox({ rateLimit: { perSecond: 0.001, burst: 2 } });
    const a = sandbox.orgs[0]!;
    const b = sandbox.control.createOrg();
    const get = (org: SandboxOrg): Promise<Response> =>
      fetch(`${sandbox.apiUrl}/organizations/${org.id}`, {
        headers: { Authorization: `Bearer ${org.apiKey}` },
      });
    expect((await get(a)).status).toBe(200);
    expect((await get(a)).status).toBe(200);
    expect((await get(a)).status).toBe(429);
    expect((await get(b)).status).toBe(200);

    sandbox.control.failNextWithServerError(5, { orgId: b.id });
    expect((await get(b)).status).toBe(503);
    expect((await get(a)).status).toBe(429);
  });

  it('keeps created organizations in the state file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'initlive-orgs-'));
    const stateFile = join(dir, 'state.json');
    try {
      sandbox = await startInitLiveSandbox({ rateLimit: false, stateFile });
      const b = sandbox.control.createOrg({ id: 'org_b', staffCount: 3 });
      await sandbox.close();

      sandbox = await startInitLiveSandbox({ rateLimit: false, stateFile });
      expect(sandbox.orgs.map((o) => o.id)).toEqual(['org_demo', 'org_b']);
      expect(await allStaff(clientFor(sandbox, b))).toHaveLength(3);
      expect(() => sandbox.control.createOrg({ id: 'org_b' })).toThrow(/exists/);
    } finally {
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
