import {
  fromInitLive,
  fromSalesforce,
  resolveMapping,
  toInitLive,
  toSalesforce,
  validateForSalesforce,
} from '../../src/core/mapping';
import type { CanonicalValues, FieldMappingEntry } from '../../src/core/mapping';
import type { PairState } from '../../src/core/pair-state';
import { decide, type ObservedChange, type ReconcileSettings } from '../../src/core/reconcile';
import { parseSyncSettings } from '../../src/core/settings';
import { canonicalChangedFields } from '../../src/source-initlive/staff-change';
import { initLiveFields } from '../../src/sink/initlive/plan';

const tshirt = {
  field: 'customAnswers.tshirt_size',
  salesforceField: 'T_Shirt_Size__c',
  direction: 'both',
  type: 'text',
} as const;

function problems(fieldMapping: unknown[]): Array<{ path: string; message: string }> {
  const parsed = parseSyncSettings({ fieldMapping });
  return parsed.ok ? [] : parsed.problems;
}

describe('custom field mapping: settings', () => {
  test('a form answer entry is accepted in the shape of the built-in ones', () => {
    const parsed = parseSyncSettings({
      fieldMapping: [
        {
          field: 'customAnswers.tshirt_size',
          salesforceField: 'T_Shirt_Size__c',
          direction: 'both',
        },
        { field: 'phone', salesforceField: 'Other_Phone__c', direction: 'to_salesforce' },
      ],
    });
    expect(parsed.ok).toBe(true);
  });

  test('bad entries are named by path', () => {
    expect(problems([{ field: 'customAnswers.tshirt_size', direction: 'both' }])).toEqual([
      { path: 'fieldMapping.0.salesforceField', message: expect.stringContaining('required') },
    ]);
    expect(
      problems([{ field: 'customAnswers.9bad', salesforceField: 'X__c', direction: 'both' }])[0]!
        .path,
    ).toBe('fieldMapping.0.field');
    expect(
      problems([{ field: 'customAnswers.size', salesforceField: 'X__c', direction: 'none' }])[0]!
        .path,
    ).toBe('fieldMapping.0.direction');
    expect(problems([{ field: 'phone', direction: 'both', type: 'text' }])[0]!.path).toBe(
      'fieldMapping.0.type',
    );
    // Two fields writing one Contact field.
    expect(
      problems([
        { field: 'customAnswers.cell', salesforceField: 'MobilePhone', direction: 'both' },
      ]),
    ).toEqual([
      {
        path: 'fieldMapping.0.salesforceField',
        message: 'MobilePhone is already mapped from mobilePhone',
      },
    ]);
  });

  test('resolved after the built-in fields, held fields left out', () => {
    const m = resolveMapping([tshirt]);
    expect(m[m.length - 1]).toEqual({
      field: 'customAnswers.tshirt_size',
      salesforceField: 'T_Shirt_Size__c',
      direction: 'both',
      answer: { key: 'tshirt_size', type: 'text' },
    });
    const held = resolveMapping([tshirt], new Set(['t_shirt_size__c']));
    expect(held.map((x) => x.field)).not.toContain('customAnswers.tshirt_size');
    expect(held.map((x) => x.field)).toContain('phone');
  });
});

describe('custom field mapping: values', () => {
  const mapping = resolveMapping([
    tshirt,
    {
      field: 'customAnswers.shirts',
      salesforceField: 'Shirts__c',
      direction: 'both',
      type: 'number',
      scale: 0,
    },
    {
      field: 'customAnswers.driver',
      salesforceField: 'Driver__c',
      direction: 'both',
      type: 'boolean',
    },
    {
      field: 'customAnswers.joined',
      salesforceField: 'Joined__c',
      direction: 'both',
      type: 'date',
    },
  ] as FieldMappingEntry[]);

  test('InitLive answers and Contact fields meet in one canonical form per type', () => {
    const fromIl = fromInitLive(
      {
        id: 'stf_1',
        customAnswers: { tshirt_size: ' M ', shirts: '2.6', driver: 'Yes', other: 'kept out' },
      },
      mapping,
    );
    expect(fromIl).toMatchObject({
      'customAnswers.tshirt_size': 'M',
      'customAnswers.shirts': 3,
      'customAnswers.driver': true,
      // Unanswered: null (a flag: false, as an unchecked checkbox).
      'customAnswers.joined': null,
    });
    expect(Object.keys(fromIl)).not.toContain('customAnswers.other');
    const fromSf = fromSalesforce(
      { T_Shirt_Size__c: 'M', Shirts__c: 3, Driver__c: true, Joined__c: '2026-01-02' },
      mapping,
    );
    expect(fromSf).toMatchObject({
      'customAnswers.tshirt_size': 'M',
      'customAnswers.shirts': 3,
      'customAnswers.driver': true,
      'customAnswers.joined': '2026-01-02',
    });
    // Bulk CSV reads give text: the same canonical values.
    expect(fromSalesforce({ Shirts__c: '3', Driver__c: 'false' }, mapping)).toMatchObject({
      'customAnswers.shirts': 3,
      'customAnswers.driver': false,
    });
    // A record that says nothing about answers says nothing about these fields.
    expect(fromInitLive({ id: 'stf_1', phone: '1' }, mapping)).not.toHaveProperty(
      'customAnswers.tshirt_size',
    );
  });

  test('writes name the Contact field, and the answer under customAnswers', () => {
    const values: CanonicalValues = {
      'customAnswers.tshirt_size': 'L',
      'customAnswers.driver': false,
      'customAnswers.shirts': 2,
    };
    expect(toSalesforce(values, mapping)).toEqual({
      T_Shirt_Size__c: 'L',
      Driver__c: false,
      Shirts__c: 2,
    });
    expect(toInitLive(values, mapping)).toEqual({
      customAnswers: { tshirt_size: 'L', driver: false, shirts: 2 },
    });
    // InitLive replaces customAnswers whole: the answers read before the write go along.
    expect(
      initLiveFields(
        { 'customAnswers.tshirt_size': 'L' },
        mapping,
        {},
        {
          tshirt_size: 'M',
          emergency_contact: 'Sam Lee',
        },
      ),
    ).toEqual({ customAnswers: { tshirt_size: 'L', emergency_contact: 'Sam Lee' } });
  });

  test('a date answer that is not a date is refused before the write', () => {
    expect(validateForSalesforce({ 'customAnswers.joined': 'next spring' }, mapping)).toEqual([
      expect.objectContaining({ field: 'Joined__c', code: 'INVALID_DATE' }),
    ]);
  });

  test('the feed’s changedFields name customAnswers for every mapped answer', () => {
    expect(canonicalChangedFields(['customAnswers', 'phone'], mapping)).toEqual([
      'customAnswers.tshirt_size',
      'customAnswers.shirts',
      'customAnswers.driver',
      'customAnswers.joined',
      'phone',
    ]);
  });
});

describe('custom field mapping: the merge treats answers like built-in fields', () => {
  const mapping = resolveMapping([tshirt]);
  const settings: ReconcileSettings = {
    direction: 'two_way',
    defaultSystem: 'initlive',
    deletePolicy: 'archive',
    mapping,
  };
  let version = 0;
  let replay = 100;
  const il = (values: CanonicalValues): ObservedChange => ({
    side: 'initlive',
    recordId: 'stf_1',
    otherId: null,
    op: 'upsert',
    full: true,
    values,
    version: ++version,
    position: String(version + 1000),
    ours: false,
  });
  const sf = (values: CanonicalValues, ours = false): ObservedChange => ({
    side: 'salesforce',
    recordId: '003000000000001AAA',
    otherId: 'stf_1',
    op: 'upsert',
    full: false,
    values,
    version: 10_000 + (replay += 3),
    position: String(replay),
    ours,
  });
  const ctx = { orgId: 'org_demo', pairId: 'p1', now: 1_000 };
  const staff = { initliveId: 'stf_1', lastName: 'Lee', 'customAnswers.tshirt_size': 'M' };

  function linked(): PairState {
    const created = decide(null, il(staff), settings, ctx);
    expect(created.writes[0]!.values).toMatchObject({ 'customAnswers.tshirt_size': 'M' });
    const echo = decide(created.next, sf(created.writes[0]!.values, true), settings, ctx);
    expect(echo.outcome).toBe('echo');
    return echo.next;
  }

  test('an InitLive edit goes to Salesforce; its echo is consumed, not written back', () => {
    const d = decide(linked(), il({ ...staff, 'customAnswers.tshirt_size': 'L' }), settings, ctx);
    expect(d.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: { 'customAnswers.tshirt_size': 'L', initliveId: 'stf_1' },
      }),
    ]);
    const echo = decide(d.next, sf({ 'customAnswers.tshirt_size': 'L' }, true), settings, ctx);
    expect(echo.outcome).toBe('echo');
    expect(echo.writes).toEqual([]);
  });

  test('a Salesforce edit goes to InitLive in two-way', () => {
    const d = decide(linked(), sf({ 'customAnswers.tshirt_size': 'XL' }), settings, ctx);
    expect(d.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { 'customAnswers.tshirt_size': 'XL' } }),
    ]);
  });

  test('both sides changed before a sync: the default system wins, as for any field', () => {
    let state = linked();
    const mine = decide(state, il({ ...staff, 'customAnswers.tshirt_size': 'S' }), settings, ctx);
    state = mine.next;
    // Salesforce's own edit lands before our write's echo.
    const theirs = decide(state, sf({ 'customAnswers.tshirt_size': 'XL' }), settings, ctx);
    expect(theirs.conflicts).toEqual([
      expect.objectContaining({ field: 'customAnswers.tshirt_size', winner: 'initlive' }),
    ]);
    // Our write of S is still on its way and carries the winner: nothing more to send, and its
    // echo settles the pair on S.
    expect(theirs.writes).toEqual([]);
    const echo = decide(theirs.next, sf({ 'customAnswers.tshirt_size': 'S' }, true), settings, ctx);
    expect(echo.outcome).toBe('echo');
    expect(echo.next.base).toMatchObject({ 'customAnswers.tshirt_size': 'S' });
  });

  test('one-way InitLive -> Salesforce never writes an answer back to InitLive', () => {
    const oneWay = { ...settings, direction: 'initlive_to_salesforce' as const };
    const created = decide(null, il(staff), oneWay, ctx);
    const d = decide(created.next, sf({ 'customAnswers.tshirt_size': 'XL' }), oneWay, ctx);
    expect(d.writes).toEqual([]);
  });
});
