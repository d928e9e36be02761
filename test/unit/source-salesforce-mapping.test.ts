import { resolveMapping } from '../../src/core/mapping';
import { parseCdcEvent } from '../../src/source-salesforce/cdc-event';
import {
  flatFieldName,
  interpretEvent,
  parseSalesforceDate,
  rereadRecord,
  type MappingContext,
} from '../../src/source-salesforce/cdc-mapping';

const ID = '003Dn00000AbCdEIAV';
const ID2 = '003Dn00000AbCdFIAV';
const ctx: MappingContext = { orgId: 'org-1', mapping: resolveMapping(), now: () => 42 };

function message(
  header: Record<string, unknown>,
  fields: Record<string, unknown> = {},
  replayId: unknown = 48211753,
): unknown {
  return {
    schema: 'IeRuaY6cbI_HsV8Rv1Mc5g',
    payload: {
      ChangeEventHeader: {
        entityName: 'Contact',
        recordIds: [ID],
        changeType: 'UPDATE',
        changeOrigin: 'com/salesforce/api/rest/62.0;client=InitLiveSync',
        transactionKey: '0002b3c1-5d3e-8e2a-1f0b-7c5a9d3e4f10',
        sequenceNumber: 1,
        commitTimestamp: 1735689600000,
        commitNumber: 11765432109876,
        commitUser: '005Dn000003XyZaIAK',
        changedFields: [],
        ...header,
      },
      ...fields,
    },
    event: { replayId },
  };
}

function changes(raw: unknown, c: MappingContext = ctx) {
  const outcome = interpretEvent(parseCdcEvent(raw), c);
  if (outcome.kind !== 'changes') throw new Error(`expected changes, got ${outcome.kind}`);
  return outcome.records;
}

describe('CDC event -> SalesforceContactChange', () => {
  test('an UPDATE carries only the changed mapped fields, canonical, with its header', () => {
    const [record, ...rest] = changes(
      message(
        {
          changedFields: [
            'Name.FirstName',
            'Phone',
            'Title',
            'MailingAddress.City',
            'LastModifiedDate',
          ],
        },
        {
          Name: { FirstName: 'Dana' },
          Phone: '+1 415 555 0142',
          Title: null,
          MailingAddress: { City: null },
          LastModifiedDate: '2025-01-01T00:00:00.000Z',
        },
      ),
    );
    expect(rest).toHaveLength(0);
    expect(record).toEqual({
      orgId: 'org-1',
      salesforceId: ID,
      initliveId: null,
      operation: 'UPDATE',
      changedFields: ['firstName', 'phone', 'city'],
      values: { firstName: 'Dana', phone: '+1 415 555 0142', city: null },
      sourceVersion: 1735689600000,
      sourcePosition: '48211753',
      origin: 'com/salesforce/api/rest/62.0;client=InitLiveSync',
      observedAt: 42,
      occurredAt: 1735689600000,
      runId: null,
      commitUser: '005Dn000003XyZaIAK',
      transactionKey: '0002b3c1-5d3e-8e2a-1f0b-7c5a9d3e4f10',
      sequenceNumber: 1,
    });
  });

  test('a CREATE flattens compound fields and reads the InitLive id', () => {
    const [record] = changes(
      message(
        { changeType: 'CREATE', changeOrigin: '' },
        {
          Name: { Salutation: 'Ms.', FirstName: 'Dana', LastName: 'Scully' },
          Email: 'dana@example.org',
          MailingAddress: {
            Street: '1 Main St',
            City: 'Washington',
            State: 'DC',
            PostalCode: '20001',
            Country: 'US',
          },
          InitLive_Staff_Id__c: 'S-00042',
          InitLive_Tags__c: 'a;b',
          OwnerId: '005Dn000003XyZaIAK',
        },
      ),
    );
    expect(record!.operation).toBe('CREATE');
    expect(record!.origin).toBeNull();
    expect(record!.initliveId).toBe('S-00042');
    expect(record!.values).toEqual({
      initliveId: 'S-00042',
      firstName: 'Dana',
      lastName: 'Scully',
      email: 'dana@example.org',
      street: '1 Main St',
      city: 'Washington',
      region: 'DC',
      postalCode: '20001',
      country: 'US',
      tags: ['a', 'b'],
    });
    expect([...record!.changedFields].sort()).toEqual(Object.keys(record!.values).sort());
  });

  test('one record per record id; DELETE has no values; UNDELETE becomes RESTORE', () => {
    const deleted = changes(message({ changeType: 'DELETE', recordIds: [ID, ID2] }));
    expect(deleted.map((r) => [r.salesforceId, r.operation, r.values])).toEqual([
      [ID, 'DELETE', {}],
      [ID2, 'DELETE', {}],
    ]);
    const [restored] = changes(message({ changeType: 'UNDELETE' }, { Name: { LastName: 'Back' } }));
    expect(restored!.operation).toBe('RESTORE');
    expect(restored!.values).toEqual({ lastName: 'Back' });
  });

  test('a mapping override reads the overriding Salesforce field', () => {
    const custom = {
      ...ctx,
      mapping: resolveMapping([
        { field: 'phone', direction: 'both', salesforceField: 'Work_Phone__c' },
      ]),
    };
    const [record] = changes(
      message({ changedFields: ['Phone', 'Work_Phone__c'] }, { Phone: '1', Work_Phone__c: '2' }),
      custom,
    );
    expect(record!.values).toEqual({ phone: '2' });
  });

  test('nulledFields are applied and bitmap-style diffFields are tolerated', () => {
    const [record] = changes(
      message(
        {
          changedFields: ['Name.LastName', 'Email'],
          nulledFields: ['Name.LastName'],
          diffFields: '0x00',
        },
        { Email: 'x@example.org' },
      ),
    );
    expect(record!.values).toEqual({ lastName: null, email: 'x@example.org' });
  });

  test('a text diff on a mapped field, or a changed field with no value, means re-reading the record', () => {
    const diffed = interpretEvent(
      parseCdcEvent(
        message(
          { changedFields: ['InitLive_Tags__c'] },
          { InitLive_Tags__c: { diff: '--- \n+++ abc\n' } },
        ),
      ),
      ctx,
    );
    expect(diffed).toEqual({ kind: 'reread', recordIds: [ID], reason: 'text_diff' });
    const missing = interpretEvent(parseCdcEvent(message({ changedFields: ['Email'] })), ctx);
    expect(missing).toMatchObject({ kind: 'reread', recordIds: [ID] });
    // A diff on a field we do not map does not matter.
    const unmapped = interpretEvent(
      parseCdcEvent(
        message(
          { changedFields: ['Description', 'Email'] },
          { Description: { diff: 'x' }, Email: 'a@b.org' },
        ),
      ),
      ctx,
    );
    expect(unmapped.kind).toBe('changes');
  });

  test('gap events ask for a re-read, GAP_OVERFLOW for a full sync', () => {
    expect(
      interpretEvent(
        parseCdcEvent(message({ changeType: 'GAP_UPDATE', recordIds: [ID, ID2] })),
        ctx,
      ),
    ).toEqual({
      kind: 'reread',
      recordIds: [ID, ID2],
      reason: 'GAP_UPDATE',
    });
    expect(
      interpretEvent(parseCdcEvent(message({ changeType: 'GAP_OVERFLOW', recordIds: [] })), ctx),
    ).toEqual({
      kind: 'overflow',
    });
  });

  test('malformed events are refused with INVALID_INPUT naming the problem', () => {
    const cases: unknown[] = [
      { payload: {}, event: { replayId: 1 } },
      message({}, {}, 'not-a-number'),
      message({ recordIds: ["003' OR Id != '"] }),
      message({ changeType: 'MERGE' }),
      message({ entityName: 'Account' }),
      message({ recordIds: [] }),
      null,
    ];
    for (const raw of cases) {
      expect(() => parseCdcEvent(raw)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    }
  });

  test('re-read rows become SNAPSHOT records, deleted or missing ones DELETE', () => {
    const gap = { replayId: 7, commitTimestamp: 1000 };
    const live = rereadRecord(
      ID,
      {
        Id: ID,
        IsDeleted: false,
        LastModifiedDate: '2025-01-01T00:00:00.000+0000',
        FirstName: 'A',
        LastName: 'B',
        Email: null,
      },
      gap,
      ctx,
    );
    expect(live).toMatchObject({
      operation: 'SNAPSHOT',
      values: { firstName: 'A', lastName: 'B', email: null },
      sourceVersion: Date.UTC(2025, 0, 1),
      sourcePosition: '7',
      changedFields: [],
    });
    expect(
      rereadRecord(
        ID,
        { Id: ID, IsDeleted: true, LastModifiedDate: '2025-01-02T00:00:00.000+0000' },
        gap,
        ctx,
      ),
    ).toMatchObject({
      operation: 'DELETE',
      values: {},
      sourceVersion: Date.UTC(2025, 0, 2),
    });
    expect(rereadRecord(ID2, undefined, gap, ctx)).toMatchObject({
      operation: 'DELETE',
      salesforceId: ID2,
      sourceVersion: 1000,
    });
  });

  test('field paths and dates', () => {
    expect(flatFieldName('Name.FirstName')).toBe('FirstName');
    expect(flatFieldName('MailingAddress.PostalCode')).toBe('MailingPostalCode');
    expect(flatFieldName('Phone')).toBe('Phone');
    expect(parseSalesforceDate('2025-01-01T00:00:00.000+0000')).toBe(Date.UTC(2025, 0, 1));
    expect(parseSalesforceDate('2025-01-01T00:00:00.000Z')).toBe(Date.UTC(2025, 0, 1));
    expect(parseSalesforceDate('nope')).toBeNull();
  });
});
