import { defaultMapping } from '../../src/core/mapping';
import type { InitLiveWrite } from '../../src/core/records';
import type { ConsumedRecord } from '../../src/core/transport';
import { initLiveFields, planWrites } from '../../src/sink/initlive/plan';
import type { DecodedWrite, KnownPair } from '../../src/sink/initlive/plan';

let offset = 0;
function item(
  w: Partial<InitLiveWrite> & Pick<InitLiveWrite, 'pairId' | 'operation'>,
): DecodedWrite {
  const record: ConsumedRecord = {
    topic: 't',
    partition: 0,
    offset: String(offset++),
    key: `org/${w.pairId}`,
    value: Buffer.alloc(0),
    headers: {},
    timestamp: 0,
  };
  return {
    record,
    write: {
      orgId: 'org',
      initliveId: null,
      salesforceId: null,
      ifMatch: null,
      fields: {},
      fingerprint: 'fp',
      causedBy: 'test',
      decidedAt: 0,
      attempt: 1,
      ...w,
    },
  };
}

const none = new Map<string, KnownPair>();

describe('planWrites', () => {
  it('merges updates of one record decided against the same version, later fields winning', () => {
    const plan = planWrites(
      [
        item({
          pairId: 'a',
          operation: 'UPDATE',
          initliveId: 's1',
          ifMatch: 3,
          fields: { firstName: 'A', phone: '1' },
        }),
        item({
          pairId: 'b',
          operation: 'UPDATE',
          initliveId: 's2',
          ifMatch: 1,
          fields: { firstName: 'B' },
        }),
        item({
          pairId: 'a',
          operation: 'UPDATE',
          initliveId: 's1',
          ifMatch: 3,
          fields: { firstName: 'A2' },
        }),
        item({ pairId: 'a', operation: 'ARCHIVE', initliveId: 's1', ifMatch: null }),
      ],
      defaultMapping,
      none,
    );
    expect(plan.invalid).toEqual([]);
    expect(plan.ops.map((o) => o.operation)).toEqual([
      {
        op: 'update',
        id: 's1',
        ifMatch: 3,
        patch: { firstName: 'A2', phone: '1', status: 'archived' },
      },
      { op: 'update', id: 's2', ifMatch: 1, patch: { firstName: 'B' } },
    ]);
    expect(plan.ops[0]!.writes).toHaveLength(3);
  });

  it('keeps a write decided against a newer version, and every delete, as separate operations in order', () => {
    const plan = planWrites(
      [
        item({
          pairId: 'a',
          operation: 'UPDATE',
          initliveId: 's1',
          ifMatch: 3,
          fields: { firstName: 'A' },
        }),
        item({
          pairId: 'a',
          operation: 'UPDATE',
          initliveId: 's1',
          ifMatch: 4,
          fields: { firstName: 'B' },
        }),
        item({ pairId: 'a', operation: 'DELETE', initliveId: 's1', ifMatch: 5 }),
      ],
      defaultMapping,
      none,
    );
    expect(plan.ops.map((o) => [o.kind, o.operation.op])).toEqual([
      ['update', 'update'],
      ['update', 'update'],
      ['delete', 'delete'],
    ]);
    expect(plan.ops[1]!.operation).toMatchObject({ ifMatch: 4 });
  });

  it('folds writes that follow a create into it, and turns a create of a linked pair into an update', () => {
    const known = new Map<string, KnownPair>([
      ['linked', { initliveId: 's9', salesforceId: null, values: {} }],
    ]);
    const plan = planWrites(
      [
        item({ pairId: 'new', operation: 'CREATE', fields: { lastName: 'N', tags: ['x'] } }),
        item({ pairId: 'new', operation: 'UPDATE', fields: { firstName: 'F' } }),
        item({ pairId: 'new', operation: 'CREATE', fields: { email: 'n@example.org' } }),
        item({ pairId: 'linked', operation: 'CREATE', fields: { lastName: 'L' } }),
        item({ pairId: 'orphan', operation: 'UPDATE', fields: { lastName: 'O' } }),
      ],
      defaultMapping,
      known,
    );
    expect(plan.ops.map((o) => o.operation)).toEqual([
      {
        op: 'create',
        staff: { lastName: 'N', tags: ['x'], firstName: 'F', email: 'n@example.org' },
      },
      { op: 'update', id: 's9', ifMatch: undefined, patch: { lastName: 'L' } },
    ]);
    expect(plan.ops[0]!.writes).toHaveLength(3);
    expect(plan.invalid).toHaveLength(1);
    expect(plan.invalid[0]!.error.code).toBe('INVALID_INPUT');
    expect(plan.invalid[0]!.write.write.pairId).toBe('orphan');
  });

  it('sends the creates a linked pair still awaits as one update, and leaves out those it no longer awaits', () => {
    // Two creates decided before the first one's id came back, redelivered after a crash: one
    // update carrying the later values, not the older ones landing last.
    const known = new Map<string, KnownPair>([
      [
        'awaited',
        { initliveId: 's1', salesforceId: null, values: {}, pending: new Set(['c1', 'c2']) },
      ],
      ['landed', { initliveId: 's2', salesforceId: null, values: {}, pending: new Set() }],
    ]);
    const landed = item({
      pairId: 'landed',
      operation: 'CREATE',
      fingerprint: 'c3',
      fields: { lastName: 'Old' },
    });
    const plan = planWrites(
      [
        item({
          pairId: 'awaited',
          operation: 'CREATE',
          fingerprint: 'c1',
          fields: { lastName: 'L', phone: '1' },
        }),
        landed,
        item({
          pairId: 'awaited',
          operation: 'CREATE',
          fingerprint: 'c2',
          fields: { lastName: 'L', phone: null },
        }),
      ],
      defaultMapping,
      known,
    );
    expect(plan.ops.map((o) => o.operation)).toEqual([
      { op: 'update', id: 's1', ifMatch: undefined, patch: { lastName: 'L', phone: null } },
    ]);
    expect(plan.ops[0]!.writes).toHaveLength(2);
    expect(plan.superseded).toEqual([landed]);
    expect(plan.invalid).toEqual([]);
  });

  it('sends a plain archive as an archive operation and a restore as a status update', () => {
    const plan = planWrites(
      [
        item({ pairId: 'a', operation: 'ARCHIVE', initliveId: 's1', ifMatch: 2 }),
        item({ pairId: 'b', operation: 'RESTORE', initliveId: 's2', ifMatch: 7 }),
      ],
      defaultMapping,
      none,
    );
    expect(plan.ops.map((o) => o.operation)).toEqual([
      { op: 'archive', id: 's1', ifMatch: 2 },
      { op: 'update', id: 's2', ifMatch: 7, patch: { status: 'active' } },
    ]);
  });
});

describe('initLiveFields', () => {
  it('completes a partial address from known values and adapts empty values to InitLive', () => {
    expect(
      initLiveFields(
        { city: 'Porto', tags: null, firstName: null, hoursWorked: 3, initliveId: 'x' },
        defaultMapping,
        { street: 'Rua 1', city: 'Lisbon', country: 'PT' },
      ),
    ).toEqual({
      firstName: '',
      tags: [],
      address: { street: 'Rua 1', city: 'Porto', region: null, postalCode: null, country: 'PT' },
    });
    expect(
      initLiveFields(
        { street: null, city: null, region: null, postalCode: null, country: null },
        defaultMapping,
        {},
      ),
    ).toEqual({ address: null });
  });
});
