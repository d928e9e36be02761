import {
  bulkUpdateContacts,
  bulkUpsertContacts,
  parseBulkError,
} from '../../src/infra/salesforce/bulk-ingest';
import { parseCsvRows } from '../../src/batch/salesforce-reader';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { salesforceConnection } from './batch-fixture';

describe('Bulk API 2.0 ingest helpers', () => {
  let sf: SalesforceSandbox;
  beforeAll(async () => {
    sf = await startSalesforceSandbox({
      streaming: false,
      bulkPollDelayMs: 10,
      seed: [
        {
          LastName: 'Existing',
          Email: 'old@example.org',
          Phone: '555',
          InitLive_Staff_Id__c: 'S-1',
        },
      ],
    });
  });
  afterAll(async () => {
    await sf.close();
  });

  it('upserts by external id and answers one result per record, in order, like sObject Collections', async () => {
    const conn = await salesforceConnection(sf);
    sf.control.resetApiUsage();
    const results = await bulkUpsertContacts(
      conn,
      [
        { InitLive_Staff_Id__c: 'S-2', LastName: 'New', Email: 'new@example.org' },
        { InitLive_Staff_Id__c: 'S-3', FirstName: 'NoLastName' },
        { InitLive_Staff_Id__c: null, LastName: 'NoKey' },
        { InitLive_Staff_Id__c: 'S-1', Email: 'changed@example.org', Phone: null },
      ],
      'InitLive_Staff_Id__c',
      { pollMs: 10 },
    );
    expect(results[0]).toMatchObject({ success: true, created: true });
    expect(results[1]).toMatchObject({
      success: false,
      errors: [{ statusCode: 'REQUIRED_FIELD_MISSING' }],
    });
    expect(results[1]!.success === false && results[1]!.error.code).toBe('SALESFORCE_REJECTED');
    expect(results[2]).toMatchObject({ success: false, id: null });
    expect(results[2]!.success === false && results[2]!.error.code).toBe('INVALID_INPUT');
    expect(results[3]).toMatchObject({ success: true, created: false });
    const existing = sf.control.listContacts().find((c) => c.InitLive_Staff_Id__c === 'S-1')!;
    expect(existing.Email).toBe('changed@example.org');
    expect(existing.Phone ?? null).toBeNull(); // null clears (#N/A)
    expect(existing.LastName).toBe('Existing'); // absent stays
    const created = sf.control.listContacts().find((c) => c.InitLive_Staff_Id__c === 'S-2')!;
    expect(results[0]!.success && results[0]!.id).toBe(created.Id);
    // One job, a handful of calls, whatever the number of records.
    expect(sf.control.counters().apiCallsUsed).toBeLessThanOrEqual(12);
  });

  it('updates by Id', async () => {
    const conn = await salesforceConnection(sf);
    const target = sf.control.listContacts()[0]!;
    const results = await bulkUpdateContacts(
      conn,
      [{ Id: String(target.Id), FirstName: 'Renamed' }],
      { pollMs: 10 },
    );
    expect(results).toEqual([{ success: true, id: target.Id, created: false }]);
    expect(sf.control.getContact(String(target.Id))?.FirstName).toBe('Renamed');
  });

  it('parses sf__Error and drops header rows repeated inside CSV pages', () => {
    expect(
      parseBulkError('REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --'),
    ).toEqual({
      statusCode: 'REQUIRED_FIELD_MISSING',
      message: 'Required fields are missing: [LastName]',
      fields: ['LastName'],
    });
    const rows = parseCsvRows('Id,LastName\n003A,Ruiz\nId,LastName\n003B,\n');
    expect(rows).toEqual([
      { Id: '003A', LastName: 'Ruiz' },
      { Id: '003B', LastName: null },
    ]);
  });
});
