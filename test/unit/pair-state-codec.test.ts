import { resolveMapping } from '../../src/core/mapping';
import type { PairState } from '../../src/core/pair-state';
import { emptyPair } from '../../src/core/pair-state';
import { decodePairState, encodePairState } from '../../src/core/pair-state-codec';
import { decide, type ReconcileSettings } from '../../src/core/reconcile';

const where = { orgId: 'org_a', pairId: 'pair_1' };

/** A state using every member: nulls and absent fields apart, a map with a foreign key. */
function richState(): PairState {
  return {
    ...emptyPair('org_a', 'pair_1', 1_700_000_000_000),
    initliveId: 'stf_1',
    salesforceId: '003000000000001AAA',
    seen: { initlive: 7, salesforce: 1_732_000_000_123 },
    synced: { initlive: 6, salesforce: 1_732_000_000_000 },
    base: { firstName: 'Ada', phone: null, tags: ['a', 'b'], hoursWorked: 0 },
    written: { initlive: null, salesforce: 'f'.repeat(64) },
    status: 'linked',
    merge: {
      current: {
        initlive: { firstName: 'Ada', phone: null, email: 'ada@example.org', status: 'active' },
        salesforce: null,
      },
      pending: {
        initlive: [{ fields: { phone: null }, preBase: { phone: '555' }, decidedAt: 5 }],
        salesforce: [
          {
            fields: { firstName: 'Ada', initliveId: 'stf_1', birthdate: '1815-12-10' },
            preBase: { firstName: null },
            decidedAt: 6,
            cause: { side: 'initlive', version: 7, op: 'update', recordId: '003x', ifMatch: null },
          },
          {
            // Not a canonical field: it follows the canonical ones as an object.
            fields: { Custom__c: 'x', firstName: 'B' },
            preBase: {},
            decidedAt: 7,
            cause: { side: 'salesforce', version: 2, op: 'create', recordId: null, ifMatch: 3 },
          },
        ],
      },
      position: { initlive: '12', salesforce: '98765432109876543210' },
      exists: { initlive: true, salesforce: false },
    },
  };
}

describe('pair state codec', () => {
  it('round-trips every member, keeping null and absent fields apart', () => {
    const state = richState();
    const decoded = decodePairState(encodePairState(state), where);
    expect(decoded).toEqual(state);
    expect(decoded.base).toHaveProperty('phone', null);
    expect(decoded.base).not.toHaveProperty('email');
    expect(decoded.merge?.pending.initlive[0]).not.toHaveProperty('cause');
  });

  it('keeps form answers beside the canonical fields, and reads maps stored as plain objects', () => {
    const state = richState();
    state.base = {
      firstName: 'Ada',
      'customAnswers.tshirt_size': 'M',
      'customAnswers.driver': false,
    };
    const encoded = encodePairState(state);
    const text = JSON.parse(encoded.text) as unknown[];
    // [mask, 'Ada', {answers}]: the canonical part stays positional.
    expect(text[5]).toEqual([
      2,
      'Ada',
      { 'customAnswers.tshirt_size': 'M', 'customAnswers.driver': false },
    ]);
    expect(decodePairState(encoded, where).base).toEqual(state.base);
    // Before answers had their own slot, such a map was stored as its object.
    text[5] = { firstName: 'Ada', 'customAnswers.tshirt_size': 'M' };
    const old = decodePairState({ ...encoded, text: JSON.stringify(text) }, where);
    expect(old.base).toEqual({ firstName: 'Ada', 'customAnswers.tshirt_size': 'M' });
  });

  it('round-trips a state without merge memory and with a null base', () => {
    const state = emptyPair('org_a', 'pair_1', 42);
    const decoded = decodePairState(encodePairState(state), where);
    expect(decoded).toEqual(state);
    expect(decoded).not.toHaveProperty('merge');
  });

  it('keeps the link fields beside the text, and the org and pair ids to the store key', () => {
    const encoded = encodePairState(richState());
    expect(encoded).toMatchObject({
      initliveId: 'stf_1',
      salesforceId: '003000000000001AAA',
      status: 'linked',
      exists: '10',
    });
    for (const left of ['org_a', 'pair_1', '003000000000001AAA', 'linked']) {
      expect(encoded.text).not.toContain(left);
    }
    expect(encodePairState(emptyPair('org_a', 'pair_1', 1)).exists).toBe('');
    expect(decodePairState(encoded, { orgId: 'org_b', pairId: 'pair_9' })).toMatchObject({
      orgId: 'org_b',
      pairId: 'pair_9',
    });
  });

  it('reads text stored as the state’s own JSON, before this format, whatever the fields say', () => {
    const state = richState();
    const legacy = { text: JSON.stringify(state), initliveId: null, salesforceId: null };
    expect(decodePairState({ ...legacy, status: '' as 'linked', exists: '' }, where)).toEqual(
      state,
    );
  });

  it('refuses to drop a member it does not know', () => {
    const state = { ...richState(), extra: 1 } as PairState;
    expect(() => encodePairState(state)).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    const pending = richState();
    (pending.merge!.pending.initlive[0] as unknown as Record<string, unknown>).note = 'x';
    expect(() => encodePairState(pending)).toThrow(/pending write members: note/);
  });

  it('fails with INTERNAL on what it cannot read', () => {
    const good = encodePairState(richState());
    const bad = [
      ...['', '[3]', '[2,', '[2,0,0,0,0,7]'].map((text) => ({ ...good, text })),
      { ...good, status: '' as 'linked' },
      { ...good, exists: '' },
      { ...good, exists: '2x' },
    ];
    for (const stored of bad) {
      expect(() => decodePairState(stored, where)).toThrow(
        expect.objectContaining({ code: 'INTERNAL', context: where }),
      );
    }
  });

  it('stores a state decided from a new staff member in under 40% of its JSON', () => {
    const settings: ReconcileSettings = {
      direction: 'two_way',
      defaultSystem: 'initlive',
      deletePolicy: 'archive',
      mapping: resolveMapping([]),
    };
    const d = decide(
      null,
      {
        side: 'initlive',
        recordId: 'stf_00018K9R1A',
        otherId: null,
        op: 'upsert',
        full: true,
        values: {
          initliveId: 'stf_00018K9R1A',
          firstName: 'Staff001298',
          lastName: 'Only',
          email: 'staff001298@example.org',
          phone: null,
          mobilePhone: null,
          street: null,
          city: null,
          region: null,
          postalCode: null,
          country: null,
          birthdate: null,
          tags: null,
          status: 'active',
          hoursWorked: 0,
        },
        version: 1,
        position: null,
        ours: false,
      },
      settings,
      { orgId: 'org_demo', pairId: 'pair_bd2b34b6-97d7-4622-bef7-815f2b541f92', now: 1 },
    );
    const encoded = encodePairState(d.next);
    expect(decodePairState(encoded, { orgId: 'org_demo', pairId: d.next.pairId })).toEqual(d.next);
    expect(encoded.text.length).toBeLessThan(JSON.stringify(d.next).length / 2.5);
  });
});
