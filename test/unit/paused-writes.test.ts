import { startConnector } from '../../src/app';
import type { Connector } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger, silentLogger } from '../../src/logger';
import { eventually } from '../fixtures/e2e';
import { http, type Json } from '../fixtures/http';

/**
 * Paused writes are visible and resume promptly (embedded default, streaming): with the package
 * missing, the organization's status and its errors list say the Salesforce writes are held,
 * why, since when, how many and what to do; once the package is back the held change lands
 * within seconds, on the Contact it was meant for.
 */

jest.setTimeout(60_000);

const ORG = 'org_demo';

describe('writes held while the package is missing', () => {
  let c: Connector;
  const api = (path: string) =>
    http(`${c.url}/api/orgs/${ORG}/salesforce${path}`, { token: c.token });

  beforeAll(async () => {
    c = await startConnector(
      loadConfig({
        PORT: '0',
        SANDBOX_SALESFORCE_PORT: '0',
        SANDBOX_INITLIVE_PORT: '0',
        SANDBOX_STAFF_COUNT: '4',
        SANDBOX_CONTACT_COUNT: '2',
      }),
      silentLogger,
      {
        print: () => undefined,
        pipeline: { initliveSource: { pollIntervalMs: 50 }, salesforceSink: { lingerMs: 20 } },
      },
    );
  });

  afterAll(async () => {
    await c.stop();
  });

  it('shows the cause and the held count, and lands the held change within seconds of the fix', async () => {
    const sf = c.sandboxes!.salesforce.control;
    const staff = c.sandboxes!.initlive.control.listStaff()[0]!;
    const contactId = String(
      sf.listContacts().find((x) => x.InitLive_Staff_Id__c === staff.id)!.Id,
    );
    sf.uninstallPackage();
    c.sandboxes!.initlive.control.updateStaff(staff.id, { phone: '+1 604 555 0177' });

    let paused: Json[] = [];
    await eventually(async () => {
      paused = (await api('')).body.paused as Json[];
      expect(paused).toHaveLength(1);
    });
    expect(paused[0]).toMatchObject({
      side: 'salesforce',
      cause: 'package_missing',
      code: 'PACKAGE_MISSING',
      heldWrites: 1,
      since: expect.stringMatching(/^\d{4}-/),
    });
    expect(String(paused[0]!.action)).toContain('install the InitLive package');
    expect((await api('/errors')).body.paused).toEqual(paused);
    expect(sf.getContact(contactId)?.Phone).not.toBe('+1 604 555 0177');

    sf.installPackage();
    await eventually(() => expect(sf.getContact(contactId)?.Phone).toBe('+1 604 555 0177'), 10_000);
    // The write went to the Contact it was meant for, and brought back the wiped external id.
    expect(sf.getContact(contactId)?.InitLive_Staff_Id__c).toBe(staff.id);
    expect(sf.listContacts().filter((x) => x.Email === staff.email)).toHaveLength(1);
    await eventually(async () => expect((await api('')).body.paused).toEqual([]));
  });
});

describe('an unfixable record', () => {
  let c: Connector;
  const logs: string[] = [];
  const api = (path: string, init: { method?: string } = {}) =>
    http(`${c.url}/api/orgs/${ORG}/salesforce${path}`, { token: c.token, ...init });
  // InitLive takes it; Salesforce's Email holds 80 characters.
  const email = `${'unfixable.'.repeat(8)}@example.org`;

  beforeAll(async () => {
    c = await startConnector(
      loadConfig({
        PORT: '0',
        SANDBOX_SALESFORCE_PORT: '0',
        SANDBOX_INITLIVE_PORT: '0',
        SANDBOX_STAFF_COUNT: '2',
        SANDBOX_CONTACT_COUNT: '2',
        LOG_LEVEL: 'debug',
      }),
      createLogger({ level: 'debug', write: (line) => logs.push(line) }),
      {
        print: () => undefined,
        pipeline: { initliveSource: { pollIntervalMs: 50 }, salesforceSink: { lingerMs: 20 } },
      },
    );
  });

  afterAll(async () => {
    await c.stop();
  });

  it('has one dead letter however often it fails, and its email is in no log line', async () => {
    const staff = c.sandboxes!.initlive.control.createStaff({
      firstName: 'Una',
      lastName: 'Fixable',
      email,
    });
    const mine = async (): Promise<Json[]> =>
      ((await api('/errors')).body.items as Json[]).filter((l) => l.initliveId === staff.id);
    await eventually(async () => expect(await mine()).toHaveLength(1));
    for (let i = 0; i < 2; i++) {
      const run = await api('/sync', { method: 'POST' });
      await eventually(async () => {
        const r = (await api(`/runs/${String(run.body.runId)}`)).body;
        expect(r.status).toBe('partially_succeeded');
      });
    }
    await eventually(async () => {
      const letters = await mine();
      expect(letters).toHaveLength(1);
      expect(Number(letters[0]!.occurrences)).toBeGreaterThanOrEqual(3);
    });
    const letter = (await mine())[0]!;
    expect(letter).toMatchObject({ code: 'SALESFORCE_REJECTED', upstreamCode: 'STRING_TOO_LONG' });
    // The record status points at the one letter.
    const status = await api(`/records?initliveId=${staff.id}`);
    expect(status.body).toMatchObject({ state: 'failed', lastError: { deadLetterId: letter.id } });
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain(email);
  });
});
