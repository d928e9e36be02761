import { startConnector } from '../../src/app';
import type { Connector } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { eventually } from '../fixtures/e2e';
import { http } from '../fixtures/http';
import type { Json } from '../fixtures/http';

/**
 * Runs that tell the truth, on the embedded default (`npm start`): a run says it is done only
 * once its writes have landed, its counts are outcomes in the systems written, and every
 * volunteer has a status saying why it did or did not sync.
 */

jest.setTimeout(90_000);

const ORG = 'org_demo';
// Salesforce's Email holds at most 80 characters; InitLive takes up to 254.
const TOO_LONG_EMAIL = `${'x'.repeat(75)}@example.org`;

interface Run extends Json {
  status: string;
  counts: {
    created: { initlive: number; salesforce: number };
    updated: { initlive: number; salesforce: number };
    failed: { initlive: number; salesforce: number };
    unchanged: number;
  };
  progress: { phase: string; outstanding: { salesforce: number } | null };
  error?: string;
}

describe('runs and records that tell the truth (embedded default)', () => {
  let c: Connector;
  const logs: string[] = [];
  const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
    http(`${c.url}/api/orgs/${ORG}/salesforce${path}`, { token: c.token, ...init });

  beforeAll(async () => {
    c = await startConnector(
      loadConfig({
        PORT: '0',
        SANDBOX_SALESFORCE_PORT: '0',
        SANDBOX_INITLIVE_PORT: '0',
        SANDBOX_STAFF_COUNT: '6',
        SANDBOX_CONTACT_COUNT: '4',
        LOG_LEVEL: 'debug',
      }),
      createLogger({ level: 'debug', write: (line) => logs.push(line) }),
      {
        print: () => undefined,
        pipeline: { initliveSource: { pollIntervalMs: 100 }, salesforceSink: { lingerMs: 20 } },
        runner: { job: { settlePollMs: 5 } },
      },
    );
    // Sync now only: nothing streams the new staff across before the run does.
    const settings = await api('/settings');
    expect(
      (await api('/settings', { method: 'PUT', body: { ...settings.body, streaming: false } }))
        .status,
    ).toBe(200);
  });

  afterAll(async () => {
    await c.stop();
  });

  /** Polls the run as a client would and returns the first answer that says it ended. */
  async function firstFinished(runId: string): Promise<Run> {
    for (;;) {
      const run = (await api(`/runs/${runId}`)).body as Run;
      if (['succeeded', 'partially_succeeded', 'failed'].includes(run.status)) return run;
      await new Promise((r) => setImmediate(r));
    }
  }

  it('ends a Sync now only once its Contacts exist, counts outcomes per side, and says why a volunteer failed', async () => {
    const il = c.sandboxes!.initlive.control;
    const sf = c.sandboxes!.salesforce.control;
    const good = [
      il.createStaff({ firstName: 'Ada', lastName: 'Truth', email: 'ada.truth@example.org' }),
      il.createStaff({ firstName: 'Bo', lastName: 'Truth', email: 'bo.truth@example.org' }),
    ];
    const refused = il.createStaff({ firstName: 'Cy', lastName: 'Truth', email: TOO_LONG_EMAIL });

    const sync = await api('/sync', { method: 'POST' });
    expect(sync.status).toBe(202);
    const run = await firstFinished(String(sync.body.runId));
    // The instant the run says it is done, with nothing waited for in between.
    const contacts = sf.listContacts();
    for (const s of good) {
      expect(contacts.find((x) => x.InitLive_Staff_Id__c === s.id)?.Email).toBe(s.email);
    }
    expect(contacts.find((x) => x.InitLive_Staff_Id__c === refused.id)).toBeUndefined();
    expect(run.status).toBe('partially_succeeded');
    expect(run.counts.created.salesforce).toBe(2);
    expect(run.counts.failed).toEqual({ initlive: 0, salesforce: 1 });
    expect(run.progress.phase).toBe('done');

    // The refused volunteer: failed, with the dead letter's reason, and the letter leads back.
    const errors = await api('/errors');
    const letter = (errors.body.items as Json[]).find((l) => l.initliveId === refused.id);
    expect(letter).toBeDefined();
    const status = await api(`/records?initliveId=${refused.id}`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      initliveId: refused.id,
      salesforceId: null,
      state: 'failed',
      reason: letter!.reason,
      lastError: { code: letter!.code, deadLetterId: letter!.id },
    });
    expect(String(status.body.reason)).toContain('Email');
    // A synced one: in sync, linked by the Contact the run created, read-decided-written.
    const synced = await api(`/records?initliveId=${good[0]!.id}`);
    expect(synced.body).toMatchObject({ state: 'in_sync', linkedBy: 'created', reason: null });
    expect(synced.body.salesforceId).toMatch(/^003/);
    const events = (synced.body.history as Json[]).map(
      (h) => `${String(h.event)}:${String(h.side)}`,
    );
    // A full sync's read is its decision (with the run id): no separate read event.
    expect(events).toEqual(['written:salesforce', 'decided:initlive']);
    // By email too, and a record nobody knows is a 404.
    expect((await api(`/records?email=${encodeURIComponent(good[1]!.email!)}`)).body).toMatchObject(
      {
        initliveId: good[1]!.id,
        state: 'in_sync',
      },
    );
    expect((await api('/records?initliveId=stf_nobody')).status).toBe(404);
    expect((await api('/records?initliveId=a&email=b')).status).toBe(400);
  });

  it('writes a link made by email before the run ends, and clears a failure once the record is fixed', async () => {
    const il = c.sandboxes!.initlive.control;
    const sf = c.sandboxes!.salesforce.control;
    // The volunteer Salesforce refused gets an email it takes.
    const refused = il.listStaff().find((s) => s.email === TOO_LONG_EMAIL)!;
    il.updateStaff(refused.id, { email: 'cy.truth@example.org' });
    // The same person on both sides, met by nobody yet: the run links them by email and stamps
    // the Contact with the staff id.
    const contact = sf.createContact({
      FirstName: 'Di',
      LastName: 'Link',
      Email: 'di.link@example.org',
    });
    const staff = il.createStaff({
      firstName: 'Di',
      lastName: 'Link',
      email: 'di.link@example.org',
    });
    const sync = await api('/sync', { method: 'POST' });
    const run = await firstFinished(String(sync.body.runId));
    expect(run.status).toBe('succeeded');
    expect(sf.getContact(String(contact.Id))?.InitLive_Staff_Id__c).toBe(staff.id);
    expect(run.counts.updated.salesforce).toBeGreaterThanOrEqual(1);
    const status = await api(`/records?salesforceId=${String(contact.Id)}`);
    expect(status.body).toMatchObject({
      initliveId: staff.id,
      linkedBy: 'email',
      state: 'in_sync',
    });
  });

  it('answers not_linked, with the direction, for a record the direction keeps to its side', async () => {
    const sf = c.sandboxes!.salesforce.control;
    // InitLive -> Salesforce only: a Contact nobody in InitLive matches stays where it is.
    const contact = sf.createContact({
      FirstName: 'Ed',
      LastName: 'Only',
      Email: 'ed.only@example.org',
    });
    const run = await firstFinished(String((await api('/sync', { method: 'POST' })).body.runId));
    expect(run.status).toBe('succeeded');
    const status = await api(`/records?salesforceId=${String(contact.Id)}`);
    expect(status.body).toMatchObject({
      salesforceId: String(contact.Id),
      initliveId: null,
      state: 'not_linked',
    });
    expect(String(status.body.reason)).toContain('direction is initlive_to_salesforce');
  });

  it('exports the process metrics', async () => {
    const text = (await http(`${c.url}/metrics`)).text;
    expect(text).toMatch(/^process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
  });

  it('never logs a volunteer email or phone', async () => {
    await eventually(() => expect(logs.length).toBeGreaterThan(0));
    const all = logs.join('\n');
    for (const value of [TOO_LONG_EMAIL, 'ada.truth@example.org', 'di.link@example.org']) {
      expect(all).not.toContain(value);
    }
  });
});

describe('a volunteer whose email matches two Contacts (embedded default)', () => {
  let c: Connector;
  const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
    http(`${c.url}/api/orgs/${ORG}/salesforce${path}`, { token: c.token, ...init });

  beforeAll(async () => {
    c = await startConnector(
      loadConfig({
        PORT: '0',
        SANDBOX_SALESFORCE_PORT: '0',
        SANDBOX_INITLIVE_PORT: '0',
        SANDBOX_STAFF_COUNT: '2',
        SANDBOX_CONTACT_COUNT: '2',
      }),
      createLogger({ level: 'silent' }),
      { print: () => undefined, pipeline: { salesforceSink: { lingerMs: 20 } } },
    );
  });

  afterAll(async () => {
    await c.stop();
  });

  it('is not linked, and says the email is ambiguous', async () => {
    const sf = c.sandboxes!.salesforce.control;
    const il = c.sandboxes!.initlive.control;
    sf.createContact({ FirstName: 'Fay', LastName: 'One', Email: 'fay.twin@example.org' });
    sf.createContact({ FirstName: 'Fay', LastName: 'Two', Email: 'fay.twin@example.org' });
    let run = await http(`${c.url}/api/orgs/${ORG}/salesforce/sync`, {
      method: 'POST',
      token: c.token,
    });
    await eventually(async () => {
      expect((await api(`/runs/${String(run.body.runId)}`)).body.status).toMatch(
        /succeeded|failed/,
      );
    });
    const staff = il.createStaff({
      firstName: 'Fay',
      lastName: 'Twin',
      email: 'fay.twin@example.org',
    });
    run = await api('/sync', { method: 'POST' });
    await eventually(async () => {
      expect((await api(`/runs/${String(run.body.runId)}`)).body.status).toMatch(
        /succeeded|failed/,
      );
    });
    const status = await api(`/records?initliveId=${staff.id}`);
    expect(status.body).toMatchObject({
      initliveId: staff.id,
      salesforceId: null,
      state: 'not_linked',
    });
    expect(String(status.body.reason)).toMatch(/^ambiguous email: .*2 Salesforce Contacts/);
    expect(String(status.body.reason)).not.toContain('fay.twin@example.org');
    // Nobody guessed: no third Contact, neither twin carries the staff id.
    const twins = sf.listContacts().filter((x) => x.Email === 'fay.twin@example.org');
    expect(twins).toHaveLength(2);
    expect(twins.map((x) => x.InitLive_Staff_Id__c ?? null)).toEqual([null, null]);
  });
});

describe('record history (embedded default, two-way)', () => {
  let c: Connector;
  const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
    http(`${c.url}/api/orgs/${ORG}/salesforce${path}`, { token: c.token, ...init });
  const settings = async (change: Record<string, unknown>): Promise<void> => {
    const now = await api('/settings');
    expect(
      (await api('/settings', { method: 'PUT', body: { ...now.body, ...change } })).status,
    ).toBe(200);
  };

  beforeAll(async () => {
    c = await startConnector(
      loadConfig({
        PORT: '0',
        SANDBOX_SALESFORCE_PORT: '0',
        SANDBOX_INITLIVE_PORT: '0',
        SANDBOX_STAFF_COUNT: '4',
        SANDBOX_CONTACT_COUNT: '2',
      }),
      createLogger({ level: 'silent' }),
      {
        print: () => undefined,
        pipeline: { initliveSource: { pollIntervalMs: 50 }, salesforceSink: { lingerMs: 20 } },
      },
    );
    await settings({ direction: 'two_way', defaultSystem: 'initlive' });
  });

  afterAll(async () => {
    await c.stop();
  });

  it('shows a streamed InitLive change read, decided and written, with field names only', async () => {
    const staff = c.sandboxes!.initlive.control.listStaff()[0]!;
    c.sandboxes!.initlive.control.updateStaff(staff.id, { phone: '+1 604 555 0101' });
    // ... and the Contact's change event comes back, recognised as our own write.
    await eventually(async () => {
      const history = (await api(`/records?initliveId=${staff.id}`)).body.history as Json[];
      expect(history.slice(0, 4).map((h) => [h.event, h.side, h.fields])).toEqual([
        ['echo_suppressed', 'salesforce', ['phone']],
        ['written', 'salesforce', ['InitLive_Staff_Id__c', 'Phone']],
        ['decided', 'initlive', ['phone']],
        ['read', 'initlive', ['phone']],
      ]);
    });
    const view = await api(`/records?initliveId=${staff.id}`);
    expect(view.body.state).toBe('in_sync');
    expect(JSON.stringify(view.body.history)).not.toContain('555 0101');
  });

  it('records a conflict when both sides changed the same field before a sync', async () => {
    await settings({ streaming: false });
    const staff = c.sandboxes!.initlive.control.listStaff()[1]!;
    const contact = c
      .sandboxes!.salesforce.control.listContacts()
      .find((x) => x.InitLive_Staff_Id__c === staff.id)!;
    c.sandboxes!.initlive.control.updateStaff(staff.id, { phone: '+1 604 555 0111' });
    c.sandboxes!.salesforce.control.updateContact(String(contact.Id), { Phone: '+1 604 555 0222' });
    const sync = await api('/sync', { method: 'POST' });
    let run: Json = {};
    await eventually(async () => {
      run = (await api(`/runs/${String(sync.body.runId)}`)).body;
      expect(run.status).toMatch(/succeeded|failed/);
    });
    expect(run).toMatchObject({ status: 'succeeded', counts: { conflicts: 1 } });
    // InitLive is the default system: its phone wins on both sides.
    expect(c.sandboxes!.salesforce.control.getContact(String(contact.Id))?.Phone).toBe(
      '+1 604 555 0111',
    );
    const history = (await api(`/records?initliveId=${staff.id}`)).body.history as Json[];
    expect(history).toContainEqual(
      expect.objectContaining({ event: 'conflict', fields: ['phone'], runId: sync.body.runId }),
    );
  });
});

describe('a run whose writes are held (embedded default)', () => {
  let c: Connector;
  const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
    http(`${c.url}/api/orgs/${ORG}/salesforce${path}`, { token: c.token, ...init });

  beforeAll(async () => {
    c = await startConnector(
      loadConfig({
        PORT: '0',
        SANDBOX_SALESFORCE_PORT: '0',
        SANDBOX_INITLIVE_PORT: '0',
        SANDBOX_STAFF_COUNT: '2',
        SANDBOX_CONTACT_COUNT: '2',
        RUN_SETTLE_TIMEOUT_MS: '1500',
      }),
      createLogger({ level: 'silent' }),
      {
        print: () => undefined,
        // The sink leaves 50 calls of the daily allocation to others, and looks again every 200 ms.
        pipeline: {
          salesforceSink: { lingerMs: 20, apiReserve: { calls: 50 }, pauseCheckMs: 200 },
        },
        runner: { job: { settlePollMs: 10 } },
      },
    );
    const now = await api('/settings');
    await api('/settings', { method: 'PUT', body: { ...now.body, streaming: false } });
  });

  afterAll(async () => {
    await c.stop();
  });

  it('stays settling while the sink is paused, then fails naming the outstanding writes', async () => {
    const sf = c.sandboxes!.salesforce.control;
    // 30 calls left: enough for the run's reads, under the sink's reserve of 50.
    sf.setApiDailyMax(sf.counters().apiCallsUsed + 30);
    const staff = c.sandboxes!.initlive.control.createStaff({
      firstName: 'Gus',
      lastName: 'Held',
      email: 'gus.held@example.org',
    });
    const sync = await api('/sync', { method: 'POST' });
    const runId = String(sync.body.runId);
    await eventually(async () => {
      const run = (await api(`/runs/${runId}`)).body;
      expect(run).toMatchObject({
        status: 'running',
        progress: { phase: 'settling', outstanding: { salesforce: 1, decisions: 0 } },
      });
    });
    await eventually(async () => {
      const pending = await api(`/records?initliveId=${staff.id}`);
      expect(pending.body.state).toBe('pending');
      expect(String(pending.body.reason)).toContain('Salesforce writes are paused: api_limit');
    });
    let run: Json = {};
    await eventually(async () => {
      run = (await api(`/runs/${runId}`)).body;
      expect(run.status).toBe('failed');
    }, 15_000);
    expect(String(run.error)).toContain('1 writes to Salesforce');
    expect(sf.listContacts().some((x) => x.InitLive_Staff_Id__c === staff.id)).toBe(false);
    // The allocation is back: the held write lands, and the volunteer is in sync.
    sf.setApiDailyMax(1_000_000);
    await eventually(async () => {
      expect((await api(`/records?initliveId=${staff.id}`)).body.state).toBe('in_sync');
    });
    expect(sf.listContacts().filter((x) => x.InitLive_Staff_Id__c === staff.id)).toHaveLength(1);
  });
});
