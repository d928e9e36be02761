import { Connection } from 'jsforce';
import { startConnector } from '../../src/app';
import type { Connector } from '../../src/app';
import type { ReadinessReport } from '../../src/admin/readiness-checks';
import { formatReadinessReport, runDoctor } from '../../src/admin/doctor';
import { loadConfig } from '../../src/config';
import { createLogger, silentLogger } from '../../src/logger';
import { eventually, passwordToken } from '../fixtures/e2e';
import { http } from '../fixtures/http';

/**
 * Custom field mapping, drift and the readiness check on the embedded default (in-memory
 * transport and stores, both sandboxes, the demo organization), through the same HTTP routes,
 * Tooling API calls and sandbox UIs an admin uses.
 */

jest.setTimeout(120_000);

const ORG = 'org_demo';
const TSHIRT = {
  field: 'customAnswers.tshirt_size',
  salesforceField: 'T_Shirt_Size__c',
  direction: 'both',
};

async function start(env: Record<string, string> = {}): Promise<Connector> {
  const config = loadConfig({
    PORT: '0',
    SANDBOX_SALESFORCE_PORT: '0',
    SANDBOX_INITLIVE_PORT: '0',
    SANDBOX_STAFF_COUNT: '6',
    SANDBOX_CONTACT_COUNT: '4',
    ...env,
  });
  const logger = process.env.TEST_LOG ? createLogger({ level: 'debug' }) : silentLogger;
  return startConnector(config, logger, {
    print: () => undefined,
    pipeline: { initliveSource: { pollIntervalMs: 100 }, salesforceSink: { lingerMs: 20 } },
    contactFields: { recheckHeldMs: 300, noticeIntervalMs: 200 },
  });
}

/** A jsforce connection as an admin in Salesforce (not the connector's user tag). */
async function admin(c: Connector): Promise<Connection> {
  const token = await passwordToken(c.sandboxes!.salesforce);
  return new Connection({
    instanceUrl: token.instance_url,
    accessToken: token.access_token,
    version: '62.0',
  });
}

async function createTshirtField(conn: Connection): Promise<string> {
  const r = (await conn.tooling.sobject('CustomField').create({
    FullName: 'Contact.T_Shirt_Size__c',
    Metadata: { type: 'Text', length: 10, label: 'T-Shirt Size' },
  } as never)) as unknown as { id: string; success: boolean };
  expect(r.success).toBe(true);
  return r.id;
}

function contactOf(c: Connector, staffId: string): Record<string, unknown> | undefined {
  return c
    .sandboxes!.salesforce.control.listContacts()
    .find((x) => x.InitLive_Staff_Id__c === staffId);
}

async function checks(c: Connector): Promise<ReadinessReport> {
  const res = await http(`${c.url}/api/orgs/${ORG}/salesforce/checks?fresh=true`, {
    token: c.token,
  });
  expect(res.status).toBe(200);
  return res.body as unknown as ReadinessReport;
}

const statusOf = (report: ReadinessReport): Record<string, string> =>
  Object.fromEntries(report.checks.map((c) => [c.name, c.status]));

/** Resolves once Salesforce has taken no write for `quietMs` (a loop never gets there). */
async function settled(c: Connector, quietMs = 1_500, limitMs = 30_000): Promise<void> {
  const counters = (): number => c.sandboxes!.salesforce.control.counters().writes;
  const deadline = Date.now() + limitMs;
  let last = counters();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error('Salesforce writes never stopped');
    await new Promise((r) => setTimeout(r, 100));
    const now = counters();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

describe('custom field mapping on the embedded default', () => {
  let c: Connector;
  beforeAll(async () => {
    c = await start();
  });
  afterAll(async () => {
    await c.stop();
  });

  it('the readiness check passes on the demo org, and the doctor prints the same', async () => {
    const report = await checks(c);
    expect(statusOf(report)).toEqual({
      connection: 'pass',
      api_version: 'pass',
      package_fields: 'pass',
      permission_set: 'pass',
      field_access: 'pass',
      change_data_capture: 'pass',
      streaming: 'pass',
      api_budget: 'pass',
      initlive_key: 'pass',
    });
    expect(report.status).toBe('pass');
    // Each report costs API calls: one made moments ago is answered again, unless asked fresh.
    const url = `${c.url}/api/orgs/${ORG}/salesforce/checks`;
    const again = await http(url, { token: c.token });
    expect((again.body as unknown as ReadinessReport).checkedAt).toBe(report.checkedAt);
    const used = c.sandboxes!.salesforce.control.counters().apiCallsUsed;
    await http(url, { token: c.token });
    expect(c.sandboxes!.salesforce.control.counters().apiCallsUsed).toBe(used);
    const printed: string[] = [];
    const code = await runDoctor({
      url: c.url,
      token: c.token,
      orgId: ORG,
      print: (t) => printed.push(t),
    });
    expect(code).toBe(0);
    // The same report, apart from when it was made and the API calls the checks themselves use.
    const volatile = (line: string): boolean => line.includes('api_budget');
    const text = printed.join('');
    for (const check of report.checks) expect(text).toContain(`PASS  ${check.name}`);
    expect(
      text
        .split('\n')
        .slice(1)
        .filter((l) => !volatile(l)),
    ).toEqual(
      formatReadinessReport({ ...report, checkedAt: 'x' })
        .split('\n')
        .slice(1)
        .filter((l) => !volatile(l)),
    );
  });

  it('a mapping to a field that does not exist gets 400 naming it', async () => {
    const res = await http(`${c.url}/api/orgs/${ORG}/salesforce/settings`, {
      method: 'PUT',
      token: c.token,
      body: { fieldMapping: [{ ...TSHIRT, salesforceField: 'No_Such_Field__c' }] },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      error: {
        code: 'INVALID_INPUT',
        details: {
          fields: [
            {
              path: 'fieldMapping.0.salesforceField',
              message: expect.stringContaining('No_Such_Field__c does not exist on Contact'),
            },
          ],
        },
      },
    });
    // Read-only and wrong-type targets are refused the same way.
    const readOnly = await http(`${c.url}/api/orgs/${ORG}/salesforce/settings`, {
      method: 'PUT',
      token: c.token,
      body: { fieldMapping: [{ ...TSHIRT, salesforceField: 'CreatedDate' }] },
    });
    expect(readOnly.status).toBe(400);
    expect(JSON.stringify(readOnly.body)).toContain('fieldMapping.0.salesforceField');
    const wrongType = await http(`${c.url}/api/orgs/${ORG}/salesforce/settings`, {
      method: 'PUT',
      token: c.token,
      body: { fieldMapping: [{ ...TSHIRT, salesforceField: 'AccountId' }] },
    });
    expect(wrongType.status).toBe(400);
    expect(JSON.stringify(wrongType.body)).toContain(
      'AccountId is a reference field, which cannot hold a text answer',
    );
  });

  it('a form answer reaches a field created with the Tooling API, and in two-way an edit in Salesforce comes back', async () => {
    const conn = await admin(c);
    await createTshirtField(conn);

    const put = await http(`${c.url}/api/orgs/${ORG}/salesforce/settings`, {
      method: 'PUT',
      token: c.token,
      body: { fieldMapping: [TSHIRT] },
    });
    expect(put.status).toBe(200);
    // The answer's type comes from the field; the field is shorter than an InitLive answer.
    expect(put.body).toMatchObject({
      fieldMapping: [{ ...TSHIRT, type: 'text' }],
      warnings: [
        {
          path: 'fieldMapping.0.salesforceField',
          message: expect.stringContaining('T_Shirt_Size__c holds 10 characters'),
        },
      ],
    });

    const il = c.sandboxes!.initlive.control;
    const staff = il.createStaff({
      firstName: 'Tess',
      lastName: 'Shirt',
      email: 'tess.shirt@example.org',
      customAnswers: { tshirt_size: 'M', emergency_contact: 'Sam Lee' },
    });
    await eventually(() => expect(contactOf(c, staff.id)?.T_Shirt_Size__c).toBe('M'));

    const twoWay = await http(`${c.url}/api/orgs/${ORG}/salesforce/settings`, {
      method: 'PUT',
      token: c.token,
      body: { direction: 'two_way', defaultSystem: 'initlive', fieldMapping: [TSHIRT] },
    });
    expect(twoWay.status).toBe(200);
    const contactId = String(contactOf(c, staff.id)!.Id);
    // Sources restart with the new settings; an edit made after that must come back.
    await eventually(async () => {
      const s = await http(`${c.url}/api/orgs/${ORG}/salesforce`, { token: c.token });
      expect(s.body).toMatchObject({ streaming: { sources: { salesforce: 'streaming' } } });
    });
    await conn.sobject('Contact').update({ Id: contactId, T_Shirt_Size__c: 'XL' });
    await eventually(() =>
      expect(il.getStaff(staff.id).customAnswers).toEqual({
        tshirt_size: 'XL',
        // InitLive replaces customAnswers whole: the unmapped answer is kept.
        emergency_contact: 'Sam Lee',
      }),
    );
    await settled(c);
    expect(contactOf(c, staff.id)?.T_Shirt_Size__c).toBe('XL');
  });

  it('a mapped field deleted while streaming is held and reported; the rest syncs, nothing is lost or looped; restoring it heals', async () => {
    const conn = await admin(c);
    const il = c.sandboxes!.initlive.control;
    const sf = c.sandboxes!.salesforce.control;
    const staff = il.createStaff({
      firstName: 'Drift',
      lastName: 'Case',
      customAnswers: { tshirt_size: 'S' },
    });
    await eventually(() => expect(contactOf(c, staff.id)?.T_Shirt_Size__c).toBe('S'));
    const other = il.listStaff().find((s) => s.id !== staff.id && contactOf(c, s.id))!;
    await settled(c);

    sf.deleteContactField('T_Shirt_Size__c');
    // One change carries both the answer and another field: the field goes, the rest lands.
    il.updateStaff(staff.id, { phone: '+1 604 555 0101', customAnswers: { tshirt_size: 'L' } });
    await eventually(() => expect(contactOf(c, staff.id)?.Phone).toBe('+1 604 555 0101'));
    il.updateStaff(other.id, { phone: '+1 604 555 0102' });
    await eventually(() => expect(contactOf(c, other.id)?.Phone).toBe('+1 604 555 0102'));

    const status = await http(`${c.url}/api/orgs/${ORG}/salesforce`, { token: c.token });
    expect(status.body).toMatchObject({
      mapping: {
        problems: [
          {
            field: 'customAnswers.tshirt_size',
            salesforceField: 'T_Shirt_Size__c',
            reason: 'missing',
            message: expect.stringContaining('T_Shirt_Size__c does not exist on Contact'),
          },
        ],
      },
    });
    const metrics = await http(`${c.url}/metrics`);
    expect(metrics.text).toContain(
      'initlive_sync_mapping_problem_state{org="org_demo",field="T_Shirt_Size__c",reason="missing"} 1',
    );
    expect(statusOf(await checks(c)).field_access).toBe('fail');
    // Nothing went to the dead letters for the missing field.
    const errors = await http(`${c.url}/api/orgs/${ORG}/salesforce/errors`, { token: c.token });
    expect(JSON.stringify(errors.body)).not.toContain('T_Shirt_Size__c');
    expect(JSON.stringify(errors.body)).not.toContain('INVALID_FIELD');
    await settled(c);

    // Restored: the field comes back (empty, as a re-created field), the hold is released and
    // the answer changed meanwhile is caught up.
    await createTshirtField(conn);
    await eventually(() => expect(contactOf(c, staff.id)?.T_Shirt_Size__c).toBe('L'), 30_000);
    await eventually(async () => {
      const s = await http(`${c.url}/api/orgs/${ORG}/salesforce`, { token: c.token });
      expect(s.body).toMatchObject({ mapping: { problems: [] } });
    });
    const after = await http(`${c.url}/metrics`);
    expect(after.text).toContain(
      'initlive_sync_mapping_problem_state{org="org_demo",field="T_Shirt_Size__c",reason="missing"} 0',
    );
    il.updateStaff(staff.id, { customAnswers: { tshirt_size: 'XS' } });
    await eventually(() => expect(contactOf(c, staff.id)?.T_Shirt_Size__c).toBe('XS'));
    await settled(c);
    expect(il.getStaff(staff.id).customAnswers).toEqual({ tshirt_size: 'XS' });
    expect(contactOf(c, other.id)?.Phone).toBe('+1 604 555 0102');
  });
});

describe('the readiness check fails the right checks', () => {
  it('on a sandbox started without the package', async () => {
    const c = await start({ SANDBOX_SALESFORCE_PACKAGE: 'missing' });
    try {
      const report = await checks(c);
      expect(report.status).toBe('fail');
      expect(statusOf(report)).toMatchObject({
        connection: 'pass',
        api_version: 'pass',
        package_fields: 'fail',
        permission_set: 'warn',
        field_access: 'fail',
        change_data_capture: 'fail',
        api_budget: 'pass',
        initlive_key: 'pass',
      });
      const pkg = report.checks.find((x) => x.name === 'package_fields')!;
      expect(pkg.message).toContain('InitLive_Staff_Id__c does not exist on Contact');
      expect(pkg.fix).toContain('sf project deploy start');
    } finally {
      await c.stop();
    }
  });

  it('on a sandbox without the CDC selection', async () => {
    const c = await start({ SANDBOX_SALESFORCE_CDC: 'off' });
    try {
      const report = await checks(c);
      const failed = report.checks.filter((x) => x.status !== 'pass').map((x) => x.name);
      expect(failed).toEqual(['change_data_capture']);
      expect(report.checks.find((x) => x.name === 'change_data_capture')!.fix).toContain(
        'Change Data Capture',
      );
    } finally {
      await c.stop();
    }
  });
});
