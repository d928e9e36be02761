import type { SalesforceWrite } from '../../src/core/records';
import type { ConsumedRecord } from '../../src/core/transport';
import { itemError, toSalesforceError } from '../../src/infra/salesforce/salesforce-errors';
import { belowReserve, reserveCalls } from '../../src/core/api-reserve';
import {
  coalesceWrites,
  contactBody,
  planRounds,
  routeOf,
  writeProblem,
} from '../../src/sink/salesforce/plan';
import type { PairOp, WriteEnvelope } from '../../src/sink/salesforce/plan';

let offset = 0;
function env(over: Partial<SalesforceWrite>): WriteEnvelope {
  const record: ConsumedRecord = {
    topic: 't',
    partition: 0,
    offset: String(offset++),
    key: 'k',
    value: Buffer.alloc(0),
    headers: {},
    timestamp: 0,
  };
  return {
    record,
    write: {
      orgId: 'o',
      pairId: 'p1',
      operation: 'UPSERT',
      externalId: 'S-1',
      salesforceId: null,
      fields: {},
      fingerprint: '',
      causedBy: '',
      decidedAt: 0,
      attempt: 1,
      ...over,
    },
  };
}

describe('coalesceWrites', () => {
  it('merges consecutive saves of a pair, later fields winning and ids filling in', () => {
    const pairs = coalesceWrites([
      env({ fields: { FirstName: 'A', LastName: 'L' } }),
      env({ pairId: 'p2', externalId: 'S-2', fields: { LastName: 'Other' } }),
      env({ fields: { FirstName: 'B' }, salesforceId: '003000000000001AAA' }),
      env({ fields: { Email: null } }),
    ]);
    expect(pairs).toHaveLength(2);
    const [p1] = pairs[0]!;
    expect(p1).toMatchObject({
      kind: 'save',
      externalId: 'S-1',
      salesforceId: '003000000000001AAA',
      fields: { FirstName: 'B', LastName: 'L', Email: null },
    });
    expect(p1!.sources.map((s) => s.record.offset)).toHaveLength(3);
    expect(pairs[1]![0]!.fields).toEqual({ LastName: 'Other' });
  });

  it('leaves the decoded writes as they were: a merge builds a new map', () => {
    const first = env({ fields: { FirstName: 'A', LastName: 'L' } });
    const [ops] = coalesceWrites([first, env({ fields: { FirstName: 'B' } })]);
    expect(ops![0]!.fields).toEqual({ FirstName: 'B', LastName: 'L' });
    expect(first.write.fields).toEqual({ FirstName: 'A', LastName: 'L' });
  });

  it('lets a delete swallow the saves before it, and keeps a save after a delete separate', () => {
    const [ops] = coalesceWrites([
      env({ fields: { FirstName: 'A' } }),
      env({ operation: 'DELETE', salesforceId: '003000000000001AAA' }),
      env({ fields: { LastName: 'Again' } }),
    ]);
    expect(ops!.map((o) => o.kind)).toEqual(['delete', 'save']);
    expect(ops![0]).toMatchObject({ salesforceId: '003000000000001AAA', fields: {} });
    expect(ops![0]!.sources).toHaveLength(2);
    expect(ops![1]!.fields).toEqual({ LastName: 'Again' });
  });
});

describe('planRounds', () => {
  const op = (pairId: string, over: Partial<PairOp> = {}): { op: PairOp } => ({
    op: {
      orgId: 'o',
      pairId,
      kind: 'save',
      externalId: pairId.toUpperCase(),
      salesforceId: null,
      fields: {},
      sources: [],
      ...over,
    },
  });

  it('puts independent ops in one round and a pair’s later op in a later round', () => {
    const a1 = op('a', { kind: 'delete', salesforceId: '003000000000001AAA' });
    const a2 = op('a');
    const b = op('b');
    expect(planRounds([a1, b, a2])).toEqual([[a1, b], [a2]]);
  });

  it('never touches one Contact twice in a round (15- and 18-character ids are one Contact)', () => {
    const x = op('x', { salesforceId: '003000000000001AAA' });
    const y = op('y', { salesforceId: '003000000000001' });
    const z = op('z', { externalId: 'x' });
    expect(planRounds([x, y, z])).toEqual([[x], [y, z]]);
  });

  it('routes saves with a known Id to update, others to upsert, and builds bodies with the external id', () => {
    const [upsert, update] = [op('a').op, op('b', { salesforceId: '003000000000001AAA' }).op];
    expect([routeOf(upsert), routeOf(update)]).toEqual(['upsert', 'update']);
    expect(routeOf({ ...upsert, kind: 'delete' })).toBe('delete-by-external-id');
    expect(contactBody({ ...upsert, fields: { Tags: ['a', 'b'] as never } }, 'Ext__c')).toEqual({
      Tags: 'a;b',
      Ext__c: 'A',
    });
  });

  it('flags writes that name no record', () => {
    expect(writeProblem(env({ externalId: null }).write)).toMatch(/neither/);
    expect(writeProblem(env({}).write)).toBeNull();
  });
});

describe('API reserve', () => {
  it('computes a share or an absolute count and says when usage is below it', () => {
    expect(reserveCalls({ ratio: 0.05 }, 15_000)).toBe(750);
    expect(reserveCalls({ calls: 10 }, 15_000)).toBe(10);
    expect(belowReserve({ used: 14_250, max: 15_000 }, { ratio: 0.05 })).toBe(false);
    expect(belowReserve({ used: 14_251, max: 15_000 }, { ratio: 0.05 })).toBe(true);
  });
});

describe('Salesforce error mapping', () => {
  const httpError = (errorCode: string, message: string): Error =>
    Object.assign(new Error(message), { name: errorCode, errorCode });

  it('maps request-level codes to SyncError codes, keeping Salesforce’s code', () => {
    expect(
      toSalesforceError(httpError('REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.')),
    ).toMatchObject({
      code: 'API_LIMIT_EXCEEDED',
      retriable: true,
    });
    expect(
      toSalesforceError(new Error('Unable to refresh session due to: expired access/refresh token'))
        .code,
    ).toBe('AUTH_FAILED');
    const pkg = toSalesforceError(
      httpError('INVALID_FIELD', "No such column 'InitLive_Tags__c' on sobject of type Contact"),
    );
    expect(pkg.code).toBe('PACKAGE_MISSING');
    expect(pkg.message).toContain('InitLive package is not installed');
    expect(pkg.context.field).toBe('InitLive_Tags__c');
    expect(
      toSalesforceError(httpError('INVALID_FIELD', "No such column 'Foo__c'")).toJSON(),
    ).toMatchObject({
      code: 'SALESFORCE_REJECTED',
      context: { upstreamCode: 'INVALID_FIELD' },
    });
    expect(toSalesforceError(httpError('SERVER_UNAVAILABLE', 'down')).code).toBe(
      'UPSTREAM_UNAVAILABLE',
    );
    expect(
      toSalesforceError(
        Object.assign(new Error('connect ECONNREFUSED'), {
          name: 'FetchError',
          code: 'ECONNREFUSED',
        }),
      ).code,
    ).toBe('UPSTREAM_UNAVAILABLE');
    expect(toSalesforceError(new TypeError('x is not a function')).code).toBe('INTERNAL');
  });

  it('maps item errors by statusCode: locks retriable, package fields paused, the rest rejected', () => {
    expect(
      itemError([{ statusCode: 'UNABLE_TO_LOCK_ROW', message: 'locked', fields: [] }]),
    ).toMatchObject({
      code: 'SALESFORCE_REJECTED',
      retriable: true,
    });
    expect(
      itemError([{ statusCode: 'INVALID_FIELD', message: 'bad', fields: ['InitLive_Status__c'] }])
        .code,
    ).toBe('PACKAGE_MISSING');
    const rejected = itemError([
      { statusCode: 'DUPLICATE_VALUE', message: 'dup', fields: ['Email'] },
    ]);
    expect(rejected.toJSON()).toMatchObject({
      code: 'SALESFORCE_REJECTED',
      retriable: false,
      context: { upstreamCode: 'DUPLICATE_VALUE', fields: 'Email' },
    });
  });
});
