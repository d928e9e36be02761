import { eventually } from '../fixtures/e2e';
import { INITLIVE, oauthConnect, startAdmin, type AdminFixture } from './admin-fixture';

interface Entry {
  id: string;
  at: string;
  action: string;
  actor: { kind: string; name: string; tokenId: string | null };
  status: number;
  outcome: string;
  requestId: string;
  changes?: Array<{ field: string; before: unknown; after: unknown }>;
  detail?: Record<string, string>;
}

/** Issue 17's audit log: who changed what, when, through which request. */
describe('admin action audit log', () => {
  let fx: AdminFixture;

  beforeAll(async () => {
    fx = await startAdmin();
    expect((await oauthConnect(fx, 'org_a', { initlive: INITLIVE })).status).toBe(200);
  });

  afterAll(async () => {
    await fx.close();
  });

  const audit = async (query = ''): Promise<{ entries: Entry[]; nextBefore: string | null }> => {
    const res = await fx.api('GET', `/api/orgs/org_a/audit${query}`);
    expect(res.status).toBe(200);
    return res.body as unknown as { entries: Entry[]; nextBefore: string | null };
  };

  /** Entries are written once the answer is sent: wait for the one a request made. */
  const entryFor = async (requestId: string): Promise<Entry> => {
    let found: Entry | undefined;
    await eventually(async () => {
      found = (await audit('?limit=500')).entries.find((e) => e.requestId === requestId);
      if (!found) throw new Error(`no audit entry for ${requestId}`);
    });
    return found!;
  };

  it('records the completed connection', async () => {
    const { entries } = await audit();
    expect(entries.map((e) => e.action)).toEqual(['connect.completed', 'connect.started']);
    expect(entries[0]).toMatchObject({ actor: { kind: 'oauth' }, outcome: 'succeeded' });
    expect(entries[1]).toMatchObject({ actor: { kind: 'admin', name: 'root' }, status: 200 });
  });

  it('records a settings change with its fields before and after and the token that made it', async () => {
    const created = await fx.api('POST', '/api/orgs/org_a/tokens', {
      body: { name: 'volunteer-coordinator', role: 'admin' },
    });
    const token = String(created.body.secret);
    const res = await fx.api('PUT', '/api/orgs/org_a/salesforce/settings', {
      token,
      body: { direction: 'two_way', defaultSystem: 'salesforce' },
    });
    expect(res.status).toBe(200);
    const entry = await entryFor(res.headers.get('x-request-id')!);
    expect(entry).toMatchObject({
      action: 'settings.changed',
      actor: { kind: 'org', name: 'volunteer-coordinator', tokenId: String(created.body.id) },
      status: 200,
      outcome: 'succeeded',
    });
    expect(entry.changes).toEqual([
      { field: 'defaultSystem', before: 'initlive', after: 'salesforce' },
      { field: 'direction', before: 'initlive_to_salesforce', after: 'two_way' },
    ]);
    expect(JSON.stringify(entry)).not.toContain(token);
    const minted = await entryFor(created.headers.get('x-request-id')!);
    expect(minted).toMatchObject({
      action: 'token.created',
      actor: { name: 'root' },
      detail: { tokenId: String(created.body.id), name: 'volunteer-coordinator', role: 'admin' },
    });
  });

  it('records Sync now, a refused attempt, and a disconnect, newest first, paged', async () => {
    const viewer = String(
      (
        await fx.api('POST', '/api/orgs/org_a/tokens', {
          body: { name: 'dashboard', role: 'viewer' },
        })
      ).body.secret,
    );
    const sync = await fx.api('POST', '/api/orgs/org_a/salesforce/sync');
    expect(sync.status).toBe(202);
    expect(await entryFor(sync.headers.get('x-request-id')!)).toMatchObject({
      action: 'sync.requested',
      outcome: 'succeeded',
    });
    const refused = await fx.api('POST', '/api/orgs/org_a/salesforce/disconnect', {
      token: viewer,
    });
    expect(refused.status).toBe(403);
    expect(await entryFor(refused.headers.get('x-request-id')!)).toMatchObject({
      action: 'disconnected',
      actor: { name: 'dashboard' },
      status: 403,
      outcome: 'refused',
    });
    const gone = await fx.api('POST', '/api/orgs/org_a/salesforce/disconnect');
    expect(gone.status).toBe(200);
    await entryFor(gone.headers.get('x-request-id')!);

    const page = await audit('?limit=2');
    expect(page.entries.map((e) => e.requestId)).toEqual([
      gone.headers.get('x-request-id'),
      refused.headers.get('x-request-id'),
    ]);
    const next = await audit(`?limit=2&before=${page.nextBefore!}`);
    expect(next.entries[0]?.requestId).toBe(sync.headers.get('x-request-id'));
    expect((await fx.api('GET', '/api/orgs/org_a/audit?limit=0')).status).toBe(400);
    expect((await fx.api('GET', '/api/orgs/org_a/audit?before=yesterday')).status).toBe(400);
  });
});
