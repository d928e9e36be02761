import type { Connection } from 'jsforce';
import { createSalesforceApi } from '../../src/infra/salesforce/salesforce-api';
import type { ContactRow, SalesforceApi } from '../../src/infra/salesforce/salesforce-api';
import { isSyncError } from '../../src/errors';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { sandboxConnection, staffId } from './sink-salesforce-fixture';

async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

describe('JsforceSalesforceApi against the sandbox', () => {
  let sb: SalesforceSandbox;
  let conn: Connection;
  let api: SalesforceApi;

  beforeEach(async () => {
    sb = await startSalesforceSandbox({ streaming: false, pageSize: 50 });
    conn = await sandboxConnection(sb);
    api = createSalesforceApi(conn, { idsPerQuery: 40 });
  });

  afterEach(async () => {
    await sb.close();
  });

  const staff = (i: number): Record<string, string> => ({
    InitLive_Staff_Id__c: staffId(i),
    LastName: `Last${i}`,
  });

  it('upserts in collections of 200, five to a Composite call, and reports each item in order with Salesforce statusCode', async () => {
    const records = Array.from({ length: 250 }, (_, i) => staff(i));
    records[5] = { ...records[5]!, Email: 'nope' };
    records[6] = { LastName: 'no external id' };
    sb.control.resetApiUsage();
    const results = await api.upsertContacts(records, 'InitLive_Staff_Id__c');
    expect(results).toHaveLength(250);
    // Two collections, one Composite call.
    expect(sb.control.counters().apiCallsUsed).toBe(1);
    expect(sb.control.counters().endpoints).toEqual({ 'POST /composite': 1 });
    expect(results.filter((r) => r.success)).toHaveLength(248);
    const bad = results[5]!;
    expect(bad.success).toBe(false);
    if (!bad.success) {
      expect(bad.errors[0]!.statusCode).toBe('INVALID_EMAIL_ADDRESS');
      expect(bad.error.context.upstreamCode).toBe('INVALID_EMAIL_ADDRESS');
    }
    expect(results[6]).toMatchObject({ success: false, error: { code: 'INVALID_INPUT' } });
    expect(results[0]).toMatchObject({ success: true, created: true });
    expect(api.apiUsage()).toEqual({ used: 1, max: 15_000 });

    const again = await api.upsertContacts([staff(0)], 'InitLive_Staff_Id__c');
    expect(again[0]).toMatchObject({
      success: true,
      created: false,
      id: (results[0] as { id: string }).id,
    });
  });

  it('sends 1,000 records a call: updates and deletes by Id too, and a lone collection as itself', async () => {
    const created = await api.upsertContacts(
      Array.from({ length: 1_001 }, (_, i) => staff(i)),
      'InitLive_Staff_Id__c',
    );
    expect(created.every((r) => r.success)).toBe(true);
    expect(sb.control.counters().endpoints).toMatchObject({
      'POST /composite': 1,
      'PATCH /composite/sobjects/:sobject/:field': 1,
    });
    const ids = created.map((r) => (r as { id: string }).id);
    sb.control.resetApiUsage();
    const updated = await api.updateContacts(
      ids.slice(0, 450).map((Id, i) => ({ Id, Phone: `+1 555 0${i}` })),
    );
    expect(updated.map((r) => r.id)).toEqual(ids.slice(0, 450));
    expect(updated.every((r) => r.success)).toBe(true);
    expect(sb.control.counters().apiCallsUsed).toBe(1);
    const row = sb.control.listContacts().find((c) => c.Id === ids[449]);
    expect(row?.Phone).toBe('+1 555 0449');

    sb.control.resetApiUsage();
    const gone = await api.deleteContacts([...ids.slice(0, 300), ids[0]!]);
    expect(gone).toHaveLength(301);
    expect(gone.slice(0, 300).every((r) => r.success)).toBe(true);
    // Deleted by the first collection of the same call: the second finds it gone.
    expect(gone[300]).toMatchObject({ success: false, id: ids[0] });
    expect(sb.control.counters().apiCallsUsed).toBe(1);
    expect(sb.control.listContacts()).toHaveLength(701);
  });

  it('throws the mapped error of a collection the Composite answer refused as a whole', async () => {
    const records = Array.from({ length: 300 }, (_, i) => staff(i));
    // LastName is no external id: each collection is refused (400 INVALID_FIELD) inside a 200.
    const err = await caught(() => api.upsertContacts(records, 'LastName'));
    expect(err).toMatchObject({
      code: 'SALESFORCE_REJECTED',
      context: { upstreamCode: 'INVALID_FIELD', op: 'upsert' },
    });
    expect(sb.control.listContacts()).toHaveLength(0);
  });

  it('pages a query (one call per page) and reads by Id in batched IN queries, deleted ones on request', async () => {
    const created = await api.upsertContacts(
      Array.from({ length: 120 }, (_, i) => staff(i)),
      'InitLive_Staff_Id__c',
    );
    const ids = created.map((r) => (r.success ? r.id : ''));
    const deleted = await api.deleteContacts(ids.slice(0, 3));
    expect(deleted.every((r) => r.success)).toBe(true);

    sb.control.resetApiUsage();
    const pages: ContactRow[][] = [];
    for await (const page of api.queryContacts(
      'SELECT Id, LastName FROM Contact ORDER BY LastName',
    )) {
      pages.push(page.records);
    }
    expect(pages.map((p) => p.length)).toEqual([50, 50, 17]);
    expect(sb.control.counters().apiCallsUsed).toBe(3);
    expect(pages[0]![0]).not.toHaveProperty('attributes');

    sb.control.resetApiUsage();
    const live = await api.getContactsByIds(ids, ['LastName', 'InitLive_Staff_Id__c']);
    expect(live).toHaveLength(117);
    expect(sb.control.counters().apiCallsUsed).toBe(3);
    const all = await api.getContactsByIds(ids.slice(0, 10), ['IsDeleted'], {
      includeDeleted: true,
    });
    expect(all.filter((r) => r.IsDeleted === true)).toHaveLength(3);
    await expect(api.getContactsByIds(["x' OR Id != '"], ['LastName'])).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });

  it('reads limits and probes the package fields', async () => {
    const limits = await api.limits();
    expect(limits.dailyApiRequests.max).toBe(15_000);
    expect(limits.dailyApiRequests.remaining).toBe(15_000 - sb.control.counters().apiCallsUsed);
    expect(await api.missingContactFields(['InitLive_Tags__c', 'LastName'])).toEqual([]);
    sb.control.uninstallPackage();
    expect(await api.missingContactFields(['InitLive_Tags__c', 'LastName'])).toEqual([
      'InitLive_Tags__c',
    ]);
  });

  it('throws mapped SyncErrors: limits, missing package, revoked credentials', async () => {
    sb.control.uninstallPackage();
    const pkg = await caught(() => api.upsertContacts([staff(1)], 'InitLive_Staff_Id__c'));
    expect(isSyncError(pkg) && pkg.code).toBe('PACKAGE_MISSING');
    const query = await caught(async () => {
      for await (const _ of api.queryContacts('SELECT Id, InitLive_Status__c FROM Contact')) void _;
    });
    expect(isSyncError(query) && query.code).toBe('PACKAGE_MISSING');
    sb.control.installPackage();

    sb.control.exhaustApiLimit();
    const limit = await caught(() => api.upsertContacts([staff(1)], 'InitLive_Staff_Id__c'));
    expect(limit).toMatchObject({
      code: 'API_LIMIT_EXCEEDED',
      context: { upstreamCode: 'REQUEST_LIMIT_EXCEEDED' },
    });
    sb.control.resetApiUsage();

    sb.control.revokeAllGrants();
    const auth = await caught(() => api.limits());
    expect(auth).toMatchObject({ code: 'AUTH_FAILED' });
  });
});
