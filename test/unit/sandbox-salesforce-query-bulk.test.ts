import type { Connection } from 'jsforce';
import type { ContactWriteEvent, SalesforceSandbox } from '../../src/sandbox/salesforce';
import { caught, connect, staff, startSandbox } from './sandbox-salesforce-helpers';

function seed(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => staff(i, { InitLive_Hours_Worked__c: i % 10 }));
}

async function readAll(stream: NodeJS.EventEmitter): Promise<Record<string, string>[]> {
  return new Promise((resolve, reject) => {
    const out: Record<string, string>[] = [];
    stream.on('record', (r: Record<string, string>) => out.push(r));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}

describe('Salesforce sandbox query and Bulk 2.0 (through jsforce)', () => {
  let sb: SalesforceSandbox;
  let conn: Connection;

  describe('with 5,000 contacts', () => {
    beforeAll(async () => {
      sb = await startSandbox({ seed: seed(5000) });
      conn = await connect(sb);
    });
    afterAll(async () => {
      await sb.close();
    });

    test('autoFetch walks 2,000-record pages', async () => {
      const before = sb.control.counters().apiCallsUsed;
      const res = await conn.query(
        'SELECT Id, InitLive_Staff_Id__c FROM Contact WHERE InitLive_Hours_Worked__c < 9 ORDER BY InitLive_Staff_Id__c',
        {
          autoFetch: true,
          maxFetch: 10_000,
        },
      );
      expect(res.totalSize).toBe(4500);
      expect(res.records).toHaveLength(4500);
      const keys = res.records.map((r) => r.InitLive_Staff_Id__c as string);
      expect([...keys].sort()).toEqual(keys);
      expect(new Set(res.records.map((r) => r.Id)).size).toBe(4500);
      // 2,000 + 2,000 + 500: three calls.
      expect(sb.control.counters().apiCallsUsed - before).toBe(3);
    });

    test('a single page hands out nextRecordsUrl with a locator', async () => {
      const res = await conn.query('SELECT Id FROM Contact');
      expect(res.done).toBe(false);
      expect(res.records).toHaveLength(2000);
      expect(res.nextRecordsUrl).toMatch(
        /\/services\/data\/v62\.0\/query\/01g[A-Za-z0-9]{15}-2000$/,
      );
      const more = await conn.queryMore(res.nextRecordsUrl!);
      expect(more.records).toHaveLength(2000);
    });

    test('bulk2.query returns every row', async () => {
      const rows = await readAll(
        await conn.bulk2.query('SELECT Id, InitLive_Staff_Id__c, CreatedDate FROM Contact', {
          pollInterval: 10,
        }),
      );
      expect(rows).toHaveLength(5000);
      expect(rows[0]).toEqual({
        Id: expect.stringMatching(/^003/),
        InitLive_Staff_Id__c: 'S-00000',
        CreatedDate: expect.stringMatching(/\.000Z$|Z$/),
      });
    });

    test('an unknown job id is NOT_FOUND', async () => {
      const job = conn.bulk2.job('query', { id: 'unknown' });
      expect((await caught(() => job.check())).errorCode).toBe('NOT_FOUND');
    });
  });

  describe('on an empty org', () => {
    let events: ContactWriteEvent[][];
    beforeEach(async () => {
      sb = await startSandbox({ bulkPollDelayMs: 200 });
      conn = await connect(sb);
      events = [];
      sb.control.onWrite((b) => events.push(b));
    });
    afterEach(async () => {
      await sb.close();
    });

    test('query results before JobComplete answer 412 JOB_NOT_COMPLETE', async () => {
      const created = await conn.request<{ id: string; state: string }>({
        method: 'POST',
        url: '/jobs/query',
        body: JSON.stringify({ operation: 'query', query: 'SELECT Id FROM Contact' }),
        headers: { 'content-type': 'application/json' },
      });
      expect(created.state).toBe('UploadComplete');
      const job = conn.bulk2.job('query', { id: created.id });
      const err = await caught(async () => (await job.result()).on('data', () => undefined));
      expect(err.errorCode).toBe('JOB_NOT_COMPLETE');
      await job.poll(20, 5000);
      expect(job.getInfo().state).toBe('JobComplete');
    });

    test('bulk2 ingest upsert: successes, failures and the same write events as REST', async () => {
      sb.control.createContact(staff(1, { Title: 'Before' }));
      events = [];
      const input = [
        staff(1, { Title: 'After' }),
        staff(2),
        { InitLive_Staff_Id__c: 'S-00003', FirstName: 'No last name' },
        staff(4, { Email: 'bad-email' }),
        staff(5, { InitLive_Status__c: 'active', Title: null }),
      ];
      const res = await conn.bulk2.loadAndWaitForResults({
        object: 'Contact',
        operation: 'upsert',
        externalIdFieldName: 'InitLive_Staff_Id__c',
        input,
        pollInterval: 20,
        pollTimeout: 10_000,
      });
      expect(
        res.successfulResults.map((r) => [
          (r as Record<string, unknown>).InitLive_Staff_Id__c,
          r.sf__Created,
        ]),
      ).toEqual([
        ['S-00001', 'false'],
        ['S-00002', 'true'],
        ['S-00005', 'true'],
      ]);
      expect(
        res.failedResults.map((r) => [
          (r as Record<string, unknown>).InitLive_Staff_Id__c,
          String(r.sf__Error).split(':')[0],
        ]),
      ).toEqual([
        ['S-00003', 'REQUIRED_FIELD_MISSING'],
        ['S-00004', 'INVALID_EMAIL_ADDRESS'],
      ]);
      expect(res.unprocessedRecords).toEqual([]);
      const flat = events.flat();
      expect(flat.map((e) => `${e.changeType}:${e.api}:${e.client}`)).toEqual([
        'UPDATE:bulkapi:InitLiveSync',
        'CREATE:bulkapi:InitLiveSync',
        'CREATE:bulkapi:InitLiveSync',
      ]);
      const updated = sb.control.listContacts().find((c) => c.InitLive_Staff_Id__c === 'S-00001');
      expect(updated?.Title).toBe('After');
    });

    test('#N/A clears a field in bulk updates', async () => {
      const c = sb.control.createContact(staff(9, { Title: 'Boss', MailingCity: 'Oslo' }));
      const res = await conn.bulk2.loadAndWaitForResults({
        object: 'Contact',
        operation: 'update',
        input: [{ Id: String(c.Id), Title: null, MailingCity: 'Bergen' }],
        pollInterval: 20,
      });
      expect(res.successfulResults).toHaveLength(1);
      expect(sb.control.getContact(String(c.Id))).toMatchObject({
        Title: null,
        MailingCity: 'Bergen',
      });
      expect(events.at(-1)![0]!.changedFields).toEqual([
        'MailingCity',
        'Title',
        'LastModifiedDate',
      ]);
    });

    test('an ingest job naming a missing field fails', async () => {
      sb.control.uninstallPackage();
      const err = await caught(() =>
        conn.bulk2.loadAndWaitForResults({
          object: 'Contact',
          operation: 'insert',
          input: [{ LastName: 'X', InitLive_Tags__c: 'a' }],
          pollInterval: 20,
        }),
      );
      expect(err.message).toContain('Field name not found : InitLive_Tags__c');
      // jsforce deletes a failed job in the background; let that call finish before closing.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(sb.control.listContacts()).toHaveLength(0);
    });
  });
});
