import type { Connection } from 'jsforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { caught, connect, staff, startSandbox } from './sandbox-salesforce-helpers';

interface ToolingResult {
  id: string;
  success: boolean;
  errors: unknown[];
}

async function createField(
  conn: Connection,
  fullName: string,
  metadata: Record<string, unknown>,
): Promise<ToolingResult> {
  return (await conn.tooling
    .sobject('CustomField')
    .create({ FullName: fullName, Metadata: metadata } as never)) as unknown as ToolingResult;
}

describe('Salesforce sandbox: Tooling API (through jsforce)', () => {
  let sb: SalesforceSandbox;
  afterEach(async () => {
    await sb.close();
  });

  test('a Contact custom field created with the Tooling API is described, written and read; deleting it removes it', async () => {
    sb = await startSandbox();
    const conn = await connect(sb);
    const created = await createField(conn, 'Contact.T_Shirt_Size__c', {
      type: 'Text',
      length: 10,
      label: 'T-Shirt Size',
    });
    expect(created).toMatchObject({ success: true, errors: [] });
    expect(created.id.startsWith('00N')).toBe(true);

    const field = (await conn.describe('Contact')).fields.find((f) => f.name === 'T_Shirt_Size__c');
    expect(field).toMatchObject({
      type: 'string',
      length: 10,
      label: 'T-Shirt Size',
      custom: true,
      updateable: true,
      createable: true,
    });

    const r = await conn.sobject('Contact').create({ LastName: 'Lee', T_Shirt_Size__c: 'M' });
    const row = await conn.sobject('Contact').retrieve((r as { id: string }).id);
    expect(row.T_Shirt_Size__c).toBe('M');
    const tooLong = await caught(() =>
      conn.sobject('Contact').create({ LastName: 'Lee', T_Shirt_Size__c: 'Extra extra large' }),
    );
    expect(tooLong.errorCode).toBe('STRING_TOO_LONG');

    const found = await conn.tooling.query<{ Id: string; DeveloperName: string }>(
      "SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE TableEnumOrId = 'Contact' AND DeveloperName = 'T_Shirt_Size'",
    );
    expect(found.records.map((x) => x.Id)).toEqual([created.id]);

    await conn.tooling.sobject('CustomField').destroy(created.id);
    const after = (await conn.describe('Contact')).fields.map((f) => f.name);
    expect(after).not.toContain('T_Shirt_Size__c');
    const gone = await caught(() =>
      conn.sobject('Contact').create({ LastName: 'Lee', T_Shirt_Size__c: 'M' }),
    );
    expect(gone.errorCode).toBe('INVALID_FIELD');
    expect(gone.message).toContain("No such column 'T_Shirt_Size__c'");
  });

  test('picklist, number and checkbox fields; a duplicate name and a missing length are refused', async () => {
    sb = await startSandbox();
    const conn = await connect(sb);
    await createField(conn, 'Contact.Shift_Pref__c', {
      type: 'Picklist',
      label: 'Shift preference',
      valueSet: {
        restricted: true,
        valueSetDefinition: { value: [{ fullName: 'Morning' }, { fullName: 'Evening' }] },
      },
    });
    await createField(conn, 'Contact.Shirts__c', {
      type: 'Number',
      label: 'Shirts',
      precision: 3,
      scale: 0,
    });
    await createField(conn, 'Contact.Driver__c', {
      type: 'Checkbox',
      label: 'Driver',
      defaultValue: 'false',
    });
    const fields = (await conn.describe('Contact')).fields;
    expect(fields.find((f) => f.name === 'Shift_Pref__c')).toMatchObject({
      type: 'picklist',
      restrictedPicklist: true,
    });
    expect(fields.find((f) => f.name === 'Shirts__c')).toMatchObject({ type: 'double', scale: 0 });
    expect(fields.find((f) => f.name === 'Driver__c')).toMatchObject({
      type: 'boolean',
      nillable: false,
      defaultValue: false,
    });
    const bad = await caught(() =>
      conn.sobject('Contact').create({ LastName: 'Lee', Shift_Pref__c: 'Night' }),
    );
    expect(bad.errorCode).toBe('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');
    const r = (await conn.sobject('Contact').create({ LastName: 'Lee', Shirts__c: 2.6 })) as {
      id: string;
    };
    const row = await conn.sobject('Contact').retrieve(r.id);
    expect(row.Shirts__c).toBe(3);
    expect(row.Driver__c).toBe(false);

    const dup = await caught(() =>
      createField(conn, 'Contact.Shirts__c', { type: 'Text', length: 5, label: 'Again' }),
    );
    expect(dup.errorCode).toBe('DUPLICATE_DEVELOPER_NAME');
    const noLength = await caught(() =>
      createField(conn, 'Contact.Size__c', { type: 'Text', label: 'Size' }),
    );
    expect(noLength.errorCode).toBe('FIELD_INTEGRITY_EXCEPTION');
  });

  test('the CDC selection and the package’s permission set are read as Salesforce serves them', async () => {
    sb = await startSandbox();
    const conn = await connect(sb);
    const members = await conn.tooling.query<{ DeveloperName: string; SelectedEntity: string }>(
      'SELECT Id, DeveloperName, SelectedEntity FROM PlatformEventChannelMember',
    );
    expect(members.records.map((m) => [m.DeveloperName, m.SelectedEntity])).toEqual([
      ['ChangeEvents_ContactChangeEvent', 'ContactChangeEvent'],
    ]);
    const ps = await conn.query<{ Id: string }>(
      "SELECT Id, Name FROM PermissionSet WHERE Name = 'InitLive_Sync_Integration'",
    );
    expect(ps.records).toHaveLength(1);
    const assigned = await conn.query(
      `SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '${sb.userId}' AND PermissionSetId = '${ps.records[0]!.Id}'`,
    );
    expect(assigned.totalSize).toBe(1);

    sb.control.uninstallPackage();
    const none = await conn.tooling.query('SELECT Id FROM PlatformEventChannelMember');
    expect(none.totalSize).toBe(0);
    const noPs = await conn.query(
      "SELECT Id FROM PermissionSet WHERE Name = 'InitLive_Sync_Integration'",
    );
    expect(noPs.totalSize).toBe(0);
  });

  test('with Contact deselected for CDC no change event is published; selecting it again brings them back', async () => {
    sb = await startSandbox({ changeDataCapture: false });
    const conn = await connect(sb);
    const members = await conn.tooling.query('SELECT Id FROM PlatformEventChannelMember');
    expect(members.totalSize).toBe(0);
    const client = conn.streaming.createClient([]);
    const received: Array<{ payload: { ChangeEventHeader: { recordIds: string[] } } }> = [];
    let writes: Promise<string> = Promise.resolve('');
    const arrived = new Promise<void>((resolve) => {
      const sub = client.subscribe('/data/ContactChangeEvent', (m: (typeof received)[number]) => {
        received.push(m);
        resolve();
      });
      writes = sub.then(async () => {
        await conn.sobject('Contact').upsert([staff(1)], 'InitLive_Staff_Id__c');
        const r = await conn.tooling.sobject('PlatformEventChannelMember').create({
          FullName: 'ChangeEvents_ContactChangeEvent',
          Metadata: { eventChannel: 'ChangeEvents', selectedEntity: 'ContactChangeEvent' },
        } as never);
        expect((r as unknown as ToolingResult).success).toBe(true);
        const created = (await conn.sobject('Contact').create({ LastName: 'Second' })) as {
          id: string;
        };
        return created.id;
      });
    });
    await arrived;
    const second = await writes;
    (client as unknown as { disconnect(): void }).disconnect();
    // The disconnect is asynchronous; the org forgets the Bayeux client once it lands.
    for (let i = 0; i < 100 && sb.control.counters().cometdClients > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The first event delivered is the second write's: the first one was never published.
    expect(received[0]!.payload.ChangeEventHeader.recordIds).toEqual([second]);
  });
});
