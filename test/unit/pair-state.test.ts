import { createHash } from 'node:crypto';
import type { PairState } from '../../src/core/pair-state';
import {
  assertPairState,
  canonicalJson,
  copyJson,
  emptyPair,
  fingerprint,
  otherSide,
  pairStateProblems,
  recordIdOf,
} from '../../src/core/pair-state';

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

describe('canonicalJson', () => {
  it('sorts keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1, 2], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,1,2]},"b":1}',
    );
    expect(canonicalJson({ z: 'Zoë', a: true, m: undefined })).toBe('{"a":true,"z":"Zoë"}');
  });

  it('rejects numbers JSON cannot carry', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
    expect(() => canonicalJson([Infinity])).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
    expect(() => canonicalJson({ f: () => 1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });
});

describe('fingerprint', () => {
  it('is the SHA-256 of the canonical JSON', () => {
    expect(fingerprint({ LastName: 'Ng', Email: null })).toBe(
      sha256('{"Email":null,"LastName":"Ng"}'),
    );
    expect(fingerprint({})).toBe(sha256('{}'));
  });

  it('ignores key order but not array order or types', () => {
    const a = fingerprint({ FirstName: 'Ana', Skills: ['x', 'y'], Age: 30 });
    expect(fingerprint({ Age: 30, Skills: ['x', 'y'], FirstName: 'Ana' })).toBe(a);
    expect(fingerprint({ FirstName: 'Ana', Skills: ['y', 'x'], Age: 30 })).not.toBe(a);
    expect(fingerprint({ FirstName: 'Ana', Skills: ['x', 'y'], Age: '30' })).not.toBe(a);
    expect(fingerprint({ FirstName: 'Ana', Skills: ['x', 'y'], Age: 30, Phone: null })).not.toBe(a);
  });
});

describe('emptyPair and validation', () => {
  it('starts unlinked with zero versions, and is valid', () => {
    const p = emptyPair('org-1', 'pair-1', 1234);
    expect(p).toStrictEqual({
      orgId: 'org-1',
      pairId: 'pair-1',
      initliveId: null,
      salesforceId: null,
      seen: { initlive: 0, salesforce: 0 },
      synced: { initlive: 0, salesforce: 0 },
      base: null,
      written: { initlive: null, salesforce: null },
      status: 'unlinked',
      updatedAt: 1234,
    });
    expect(pairStateProblems(p)).toEqual([]);
    expect(() => assertPairState(p)).not.toThrow();
  });

  it('lists every problem of a malformed state', () => {
    const bad = {
      ...emptyPair('org{1}', '', 1),
      initliveId: '',
      seen: { initlive: -1, salesforce: 2 ** 53 },
      synced: { initlive: 1.5 },
      base: { ok: 'x', nested: { no: 1 }, nums: [1, 2] },
      written: { initlive: 5, salesforce: null },
      status: 'gone',
      updatedAt: Number.NaN,
    } as unknown as PairState;
    expect(pairStateProblems(bad)).toEqual([
      'orgId must be a non-empty string without "{" or "}"',
      'pairId must be a non-empty string',
      'initliveId must be null or a non-empty string',
      'seen.initlive must be a safe integer >= 0',
      'seen.salesforce must be a safe integer >= 0',
      'synced.initlive must be a safe integer >= 0',
      'synced.salesforce must be a safe integer >= 0',
      'base.nested is not a field value',
      'base.nums is not a field value',
      'written.initlive must be null or a string',
      'status must be linked, unlinked or deleted',
      'updatedAt must be a finite number',
    ]);
    expect(() => assertPairState(bad)).toThrow(
      expect.objectContaining({
        code: 'INVALID_INPUT',
        context: expect.objectContaining({ pairId: '' }),
      }),
    );
  });
});

describe('side helpers', () => {
  it('names the other side and the id a pair holds on a side', () => {
    expect(otherSide('initlive')).toBe('salesforce');
    expect(otherSide('salesforce')).toBe('initlive');
    const p = { ...emptyPair('o', 'p', 1), initliveId: 'il', salesforceId: 'sf' };
    expect(recordIdOf(p, 'initlive')).toBe('il');
    expect(recordIdOf(p, 'salesforce')).toBe('sf');
  });
});

describe('copyJson', () => {
  it('copies nested objects and arrays deeply, leaving the original untouched', () => {
    const original = {
      a: 1,
      b: 'x',
      c: null,
      d: true,
      tags: ['one', 'two'],
      merge: { current: { initlive: { email: 'a@b.org' }, salesforce: null } },
    };
    const copy = copyJson(original);
    expect(copy).toEqual(original);
    copy.tags.push('three');
    copy.merge.current.initlive.email = 'changed@b.org';
    expect(original.tags).toEqual(['one', 'two']);
    expect(original.merge.current.initlive.email).toBe('a@b.org');
    expect(copy.merge).not.toBe(original.merge);
  });
});
