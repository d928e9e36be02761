import { isSyncError } from '../../src/errors';
import type { SyncError } from '../../src/errors';
import { createLogger } from '../../src/logger';
import { fastRetryPolicy } from '../../src/retry';
import { createInitLiveClient } from '../../src/infra/initlive';
import type { InitLiveApi, StaffPatch } from '../../src/infra/initlive';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox } from '../../src/sandbox/initlive';

const ORIGIN = 'salesforce-sync';

async function caught(promise: Promise<unknown>): Promise<SyncError> {
  try {
    await promise;
  } catch (err) {
    if (isSyncError(err)) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('InitLive client against the InitLive sandbox', () => {
  let sandbox: InitLiveSandbox;
  let client: InitLiveApi;
  let emailCounter = 0;
  const freshEmail = (): string => `person${++emailCounter}@example.org`;

  beforeAll(async () => {
    sandbox = await startInitLiveSandbox({ rateLimit: false, randomSeed: 42 });
    client = createInitLiveClient({
      baseUrl: sandbox.baseUrl,
      apiKey: 'sandbox-key',
      orgId: 'org_demo',
      changeOrigin: ORIGIN,
      retryPolicy: fastRetryPolicy,
    });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('reads the organization', async () => {
    await expect(client.getOrganization()).resolves.toEqual({
      id: 'org_demo',
      name: 'Demo Volunteer Organization',
      timezone: 'America/Los_Angeles',
    });
  });

  it('pages through 10,000 staff without losing or repeating anyone', async () => {
    const before = sandbox.control.listStaff().length;
    sandbox.control.seedStaff(10_000, { seed: 'paging' });
    const seen = new Set<string>();
    let total = 0;
    let pages = 0;
    for await (const page of client.listStaff({ pageSize: 1000 })) {
      pages++;
      expect(page.length).toBeLessThanOrEqual(1000);
      for (const staff of page) seen.add(staff.id);
      total += page.length;
    }
    expect(total).toBe(before + 10_000);
    expect(seen.size).toBe(total);
    expect(pages).toBeGreaterThanOrEqual(10);

    const expectedActive = sandbox.control.listStaff().filter((s) => s.status === 'active').length;
    let active = 0;
    for await (const page of client.listStaff({ status: 'active', pageSize: 700 })) {
      expect(page.every((s) => s.status === 'active')).toBe(true);
      active += page.length;
    }
    expect(active).toBe(expectedActive);
    expect(active).toBeLessThan(total);
  });

  it('reads the change feed across pages in seq order and records the origin', async () => {
    const start = sandbox.control.feed().at(-1)?.seq ?? 0;
    const created = [];
    for (let i = 0; i < 25; i++) {
      created.push(
        await client.createStaff({
          firstName: `Feed${i}`,
          lastName: 'Tester',
          email: freshEmail(),
        }),
      );
    }
    const human = sandbox.control.createStaff({ firstName: 'Walk', lastName: 'In' });
    const seqs: number[] = [];
    const origins: Array<string | null> = [];
    let after = start;
    let pages = 0;
    for (;;) {
      const page = await client.readChanges(after, 10);
      pages++;
      for (const change of page.changes) {
        seqs.push(change.seq);
        origins.push(change.origin);
        expect(change.type).toBe('created');
        expect(change.staff?.id).toBe(change.staffId);
      }
      after = page.nextAfter;
      if (!page.hasMore) break;
    }
    expect(pages).toBe(3);
    expect(seqs).toHaveLength(26);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
    expect(origins.slice(0, 25).every((o) => o === ORIGIN)).toBe(true);
    expect(origins[25]).toBeNull();
    const last = await client.readChanges(after);
    expect(last).toEqual({ changes: [], nextAfter: after, hasMore: false });
    expect(created.map((s) => s.id)).toContain(
      (await client.readChanges(start, 1)).changes[0]?.staffId,
    );
    expect(human.id).toMatch(/^stf_/);
  });

  it('records archive, restore, update and delete with the changed fields', async () => {
    const staff = await client.createStaff({ lastName: 'Lifecycle', email: freshEmail() });
    const from = sandbox.control.feed().at(-1)!.seq;
    const updated = await client.updateStaff(staff.id, {
      phone: '+1 415 555 0142',
      tags: ['Greeter'],
    });
    const archived = await client.updateStaff(staff.id, { status: 'archived' });
    const restored = await client.updateStaff(
      staff.id,
      { status: 'active' },
      { ifMatch: archived.version },
    );
    await client.deleteStaff(staff.id, { ifMatch: restored.version });
    const { changes } = await client.readChanges(from);
    expect(changes.map((c) => [c.type, c.version, c.changedFields])).toEqual([
      ['updated', 2, ['phone', 'tags']],
      ['archived', 3, ['status']],
      ['restored', 4, ['status']],
      ['deleted', 5, []],
    ]);
    expect(changes[3]?.staff).toBeNull();
    expect(changes[0]?.staff).toEqual(updated);
    expect(changes.every((c) => c.origin === ORIGIN)).toBe(true);
    expect((await caught(client.getStaff(staff.id))).code).toBe('NOT_FOUND');
  });

  it('turns a stale If-Match into STALE_VERSION and leaves the record alone', async () => {
    const staff = await client.createStaff({ lastName: 'Versioned', email: freshEmail() });
    sandbox.control.updateStaff(staff.id, { firstName: 'Changed in the UI' });
    const err = await caught(
      client.updateStaff(staff.id, { firstName: 'Ours' }, { ifMatch: staff.version }),
    );
    expect(err.code).toBe('STALE_VERSION');
    expect(err.context.status).toBe(412);
    expect(err.context.initliveCode).toBe('version_mismatch');
    const current = await client.getStaff(staff.id);
    expect(current.firstName).toBe('Changed in the UI');
    expect(current.version).toBe(2);
    const ok = await client.updateStaff(
      staff.id,
      { firstName: 'Ours' },
      { ifMatch: current.version },
    );
    expect(ok.version).toBe(3);
    expect((await caught(client.deleteStaff(staff.id, { ifMatch: 1 }))).code).toBe('STALE_VERSION');
  });

  it('keeps the version and records nothing for a patch that changes nothing', async () => {
    const staff = await client.createStaff({
      lastName: 'Same',
      email: freshEmail(),
      customAnswers: { a: 1, b: 'x' },
      address: {
        street: '1 Main St',
        city: 'Oakland',
        region: 'CA',
        postalCode: '94607',
        country: 'US',
      },
    });
    const seqBefore = sandbox.control.feed().at(-1)?.seq;
    const again = await client.updateStaff(staff.id, {
      lastName: 'Same',
      customAnswers: { b: 'x', a: 1 },
      address: staff.address,
    });
    expect(again.version).toBe(staff.version);
    expect(again.updatedAt).toBe(staff.updatedAt);
    expect(sandbox.control.feed().at(-1)?.seq).toBe(seqBefore);
  });

  it('rejects a duplicate email, case-insensitively, naming the holder', async () => {
    const email = freshEmail();
    const first = await client.createStaff({ lastName: 'First', email });
    const err = await caught(
      client.createStaff({ lastName: 'Second', email: email.toUpperCase() }),
    );
    expect(err.code).toBe('INITLIVE_REJECTED');
    expect(err.retriable).toBe(false);
    expect(err.context.initliveCode).toBe('duplicate_email');
    expect(err.context.status).toBe(409);
    expect(err.context.details).toMatchObject({ existingId: first.id });
    const other = await client.createStaff({ lastName: 'Other', email: freshEmail() });
    const viaUpdate = await caught(client.updateStaff(other.id, { email }));
    expect(viaUpdate.context.initliveCode).toBe('duplicate_email');
    // Changing only the case of one's own email is not a conflict.
    const recased = await client.updateStaff(first.id, { email: email.toUpperCase() });
    expect(recased.email).toBe(email.toUpperCase());
  });

  it('runs a batch to the end when some operations fail, one result per operation in order', async () => {
    const a = await client.createStaff({ lastName: 'BatchA', email: freshEmail() });
    const b = await client.createStaff({ lastName: 'BatchB', email: freshEmail() });
    const newEmail = freshEmail();
    const outcomes = await client.batch([
      { op: 'create', staff: { lastName: 'BatchNew', email: newEmail } },
      { op: 'create', staff: { lastName: 'BatchDup', email: newEmail } },
      { op: 'update', id: a.id, patch: { firstName: 'Stale' }, ifMatch: 99 },
      { op: 'update', id: a.id, patch: { firstName: 'Fresh' }, ifMatch: a.version },
      { op: 'archive', id: b.id },
      { op: 'delete', id: 'stf_DOESNOTEXIST' },
      { op: 'create', staff: { lastName: '', email: 'not-an-email' } },
    ]);
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.error.code))).toEqual([
      'ok',
      'INITLIVE_REJECTED',
      'STALE_VERSION',
      'ok',
      'ok',
      'NOT_FOUND',
      'INITLIVE_REJECTED',
    ]);
    const dup = outcomes[1];
    expect(dup && !dup.ok && dup.error.context.initliveCode).toBe('duplicate_email');
    const invalid = outcomes[6];
    expect(invalid && !invalid.ok && invalid.error.context.details).toMatchObject({
      lastName: expect.any(String),
      email: expect.any(String),
    });
    expect((await client.getStaff(a.id)).firstName).toBe('Fresh');
    expect((await client.getStaff(b.id)).status).toBe('archived');
    const feed = sandbox.control.feed().slice(-3);
    expect(feed.map((c) => c.type)).toEqual(['created', 'updated', 'archived']);
    expect(feed.every((c) => c.origin === ORIGIN)).toBe(true);
  });

  it('splits a batch longer than 200 operations', async () => {
    const ops = Array.from({ length: 250 }, (_, i) => ({
      op: 'create' as const,
      staff: { lastName: `Bulk${i}`, email: freshEmail() },
    }));
    const outcomes = await client.batch(ops);
    expect(outcomes).toHaveLength(250);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(
      sandbox.control.counters().requests['POST /organizations/:orgId/staff/batch'],
    ).toBeGreaterThanOrEqual(2);
  });

  it('treats hoursWorked as read-only, changing only through check-ins', async () => {
    const staff = await client.createStaff({ lastName: 'Hours', email: freshEmail() });
    const err = await caught(
      client.updateStaff(staff.id, { hoursWorked: 3 } as unknown as StaffPatch),
    );
    expect(err.code).toBe('INITLIVE_REJECTED');
    expect(err.context.details).toEqual({ hoursWorked: 'is read-only' });
    const created = await caught(
      client.createStaff({ lastName: 'Hours', hoursWorked: 1 } as unknown as { lastName: string }),
    );
    expect(created.context.details).toMatchObject({ hoursWorked: 'is read-only' });

    sandbox.control.setHoursWorked(staff.id, 12.5);
    const after = await client.getStaff(staff.id);
    expect(after.hoursWorked).toBe(12.5);
    expect(after.version).toBe(staff.version + 1);
    const last = sandbox.control.feed().at(-1);
    expect(last).toMatchObject({ type: 'updated', changedFields: ['hoursWorked'], origin: null });
  });

  it('carries Unicode and dates through unchanged', async () => {
    const input = {
      firstName: 'Zoë 李',
      lastName: 'Núñez-Ó Súilleabháin 🎉',
      email: freshEmail(),
      birthdate: '1990-01-01',
      tags: ['Bénévole', '志愿者'],
      customAnswers: { note: 'Größe: M — “quoted”\nsecond line' },
      address: {
        street: '千代田1-1',
        city: '東京',
        region: '東京都',
        postalCode: '100-0001',
        country: 'JP',
      },
    };
    const created = await client.createStaff(input);
    const fetched = await client.getStaff(created.id);
    expect(fetched).toMatchObject(input);
    expect(fetched.birthdate).toBe('1990-01-01');
    const edge = await client.updateStaff(created.id, { birthdate: '2000-02-29' });
    expect(edge.birthdate).toBe('2000-02-29');
    const bad = await caught(client.updateStaff(created.id, { birthdate: '2001-02-29' }));
    expect(bad.context.details).toHaveProperty('birthdate');
  });

  it('names every bad field of an invalid create', async () => {
    const err = await caught(
      client.createStaff({
        firstName: 'X',
        email: 'no-at-sign',
        phone: '',
        tags: ['a', 'A'],
        birthdate: '01/04/1990',
        nickname: 'x',
      } as unknown as { lastName: string }),
    );
    expect(err.code).toBe('INITLIVE_REJECTED');
    expect(err.context.initliveCode).toBe('invalid_request');
    expect(Object.keys(err.context.details as object).sort()).toEqual(
      ['birthdate', 'email', 'lastName', 'nickname', 'phone', 'tags.1'].sort(),
    );
  });

  it('maps a missing or foreign key to AUTH_FAILED (401 / 403)', async () => {
    const multi = await startInitLiveSandbox({
      rateLimit: false,
      orgs: [
        { id: 'org_a', name: 'A', timezone: 'UTC', apiKey: 'key-of-org-a' },
        { id: 'org_b', name: 'B', timezone: 'Europe/Paris', apiKey: 'key-of-org-b' },
      ],
    });
    try {
      const wrongKey = createInitLiveClient({
        baseUrl: multi.baseUrl,
        apiKey: 'not-a-key',
        orgId: 'org_a',
        changeOrigin: ORIGIN,
        retryPolicy: fastRetryPolicy,
      });
      const e401 = await caught(wrongKey.getOrganization());
      expect(e401.code).toBe('AUTH_FAILED');
      expect(e401.context.status).toBe(401);

      const otherOrg = createInitLiveClient({
        baseUrl: multi.baseUrl,
        apiKey: 'key-of-org-b',
        orgId: 'org_a',
        changeOrigin: ORIGIN,
        retryPolicy: fastRetryPolicy,
      });
      const e403 = await caught(otherOrg.listStaff()[Symbol.asyncIterator]().next());
      expect(e403.code).toBe('AUTH_FAILED');
      expect(e403.context.status).toBe(403);
      expect(multi.control.counters().responses['403']).toBe(1);

      const own = createInitLiveClient({
        baseUrl: multi.baseUrl,
        apiKey: 'key-of-org-b',
        orgId: 'org_b',
        changeOrigin: ORIGIN,
      });
      await own.createStaff({ lastName: 'InB', email: 'same@example.org' });
      // Emails are unique per organization only.
      multi.control.createStaff({ lastName: 'InA', email: 'same@example.org' }, { orgId: 'org_a' });
      expect((await own.getOrganization()).timezone).toBe('Europe/Paris');
    } finally {
      await multi.close();
    }
  });

  it('answers every failure in the one error shape', async () => {
    const auth = { Authorization: 'Bearer sandbox-key' };
    const cases: Array<[string, RequestInit, number, string]> = [
      [`${sandbox.apiUrl}/nowhere`, { headers: auth }, 404, 'not_found'],
      [`${sandbox.apiUrl}/organizations/org_demo/staff`, { headers: {} }, 401, 'unauthorized'],
      [
        `${sandbox.apiUrl}/organizations/org_demo/staff`,
        {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: '{"lastName": ',
        },
        400,
        'invalid_request',
      ],
      [
        `${sandbox.apiUrl}/organizations/org_demo/staff?limit=1001`,
        { headers: auth },
        400,
        'invalid_request',
      ],
      [
        `${sandbox.apiUrl}/organizations/org_demo/staff?cursor=garbage`,
        { headers: auth },
        400,
        'invalid_request',
      ],
      [`${sandbox.url}/elsewhere`, {}, 404, 'not_found'],
    ];
    for (const [url, init, status, code] of cases) {
      const res = await fetch(url, init);
      expect([url, res.status]).toEqual([url, status]);
      const body = (await res.json()) as {
        error: { code: string; message: string; details: unknown };
      };
      expect(body.error.code).toBe(code);
      expect(typeof body.error.message).toBe('string');
      expect(typeof body.error.details).toBe('object');
    }
  });

  it('returns the version as ETag', async () => {
    const staff = await client.createStaff({ lastName: 'Etag', email: freshEmail() });
    const res = await fetch(`${sandbox.apiUrl}/organizations/org_demo/staff/${staff.id}`, {
      headers: { Authorization: 'Bearer sandbox-key' },
    });
    expect(res.headers.get('etag')).toBe(`"${staff.version}"`);
  });

  it('reports a response that breaks the contract as INVALID_INPUT', async () => {
    const broken = createInitLiveClient({
      baseUrl: sandbox.baseUrl,
      apiKey: 'sandbox-key',
      orgId: 'org_demo',
      changeOrigin: ORIGIN,
      retryPolicy: fastRetryPolicy,
      fetch: async () =>
        new Response(JSON.stringify({ data: [{ seq: 'one' }], nextAfter: 1, hasMore: false }), {
          status: 200,
        }),
    });
    const err = await caught(broken.readChanges(0));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toMatch(/malformed response: data\.0\.seq/);
    const notJson = createInitLiveClient({
      baseUrl: sandbox.baseUrl,
      apiKey: 'sandbox-key',
      orgId: 'org_demo',
      changeOrigin: ORIGIN,
      fetch: async () => new Response('<html>', { status: 200 }),
    });
    expect((await caught(notJson.getOrganization())).code).toBe('INVALID_INPUT');
  });

  it('never logs the integration key', async () => {
    const lines: string[] = [];
    const secretKey = 'sandbox-key';
    const logged = createInitLiveClient({
      baseUrl: sandbox.baseUrl,
      apiKey: secretKey,
      orgId: 'org_demo',
      changeOrigin: ORIGIN,
      retryPolicy: fastRetryPolicy,
      logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }),
    });
    sandbox.control.failNextWithServerError(1);
    await logged.getOrganization();
    await logged.createStaff({ lastName: 'Logged', email: freshEmail() });
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.some((l) => l.includes('retried'))).toBe(true);
    expect(lines.join('\n')).not.toContain(secretKey);
  });
});
