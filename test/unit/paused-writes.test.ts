import { startConnector } from '../../src/app';
import type { Connector } from '../../src/app';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
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
