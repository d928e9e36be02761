import { createHash } from 'node:crypto';
import { SyncError } from '../errors';

/**
 * The state the reconciler keeps per linked record pair (InitLive staff <-> Salesforce
 * Contact): the version vector (what each side has shown us and what we last synced), the
 * merge base, and fingerprints of our own writes so their echoes can be recognised. Pure types
 * and helpers only; the VersionStore port applies these states atomically.
 */

export type Side = 'initlive' | 'salesforce';

export const sides: readonly Side[] = ['initlive', 'salesforce'];

/** A canonical field value: what both systems' fields map to. */
export type FieldValue = string | number | boolean | string[] | null;

export type PairStatus = 'linked' | 'unlinked' | 'deleted';

export interface PairState {
  orgId: string;
  pairId: string;
  initliveId: string | null;
  salesforceId: string | null;
  /** Highest version observed per side (InitLive staff.version; Salesforce commit time in ms). */
  seen: Record<Side, number>;
  /** Version of each side at the last sync. */
  synced: Record<Side, number>;
  /** Canonical values at the last sync: the base of a three-way merge. */
  base: Record<string, FieldValue> | null;
  /** Fingerprint of the values we last wrote to each side, to recognise our own echoes. */
  written: Record<Side, string | null>;
  status: PairStatus;
  /** Milliseconds since the epoch of the decision that produced this state. */
  updatedAt: number;
  /** The reconciler's merge memory (src/core/reconcile.ts); absent until its first decision. */
  merge?: MergeMemory;
}

/** A write we decided and whose echo has not come back yet. */
export interface PendingWrite {
  fields: Record<string, FieldValue>;
  /** Base values of those fields before the write: the other side of a concurrent edit. */
  preBase: Record<string, FieldValue>;
  decidedAt: number;
  /**
   * The change that caused the write and how it was sent, so a redelivery of that change (the
   * process died after saving this state but before the write reached the topic) sends the
   * write again instead of dropping it as a duplicate.
   */
  cause?: {
    side: Side;
    version: number;
    op: 'create' | 'update' | 'delete';
    recordId: string | null;
    ifMatch: number | null;
  };
}

/** What the reconciler remembers per pair beyond the version vector. */
export interface MergeMemory {
  /** Last known canonical values of each side (null: none known, or deleted). */
  current: Record<Side, Record<string, FieldValue> | null>;
  /** Our writes per side, oldest first, awaiting their echo. */
  pending: Record<Side, PendingWrite[]>;
  /** Last stream position applied per side (decimal integer text), for duplicate detection. */
  position: Record<Side, string | null>;
  /** Whether the record is known to exist on each side. */
  exists: Record<Side, boolean>;
  /** When each side's record was last modified as far as its changes said (epoch ms). */
  modified?: Record<Side, number | null>;
}

export function otherSide(side: Side): Side {
  return side === 'initlive' ? 'salesforce' : 'initlive';
}

/** The record id a pair holds on one side. */
export function recordIdOf(state: PairState, side: Side): string | null {
  return side === 'initlive' ? state.initliveId : state.salesforceId;
}

/**
 * A deep copy of JSON data (what pair states are: objects, arrays, strings, finite numbers,
 * booleans, null). Several times faster than structuredClone, which goes through V8's
 * serializer; the reconciler copies a state or two per change.
 */
export function copyJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v: unknown) => copyJson(v)) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value))
    out[key] = copyJson((value as Record<string, unknown>)[key]);
  return out as T;
}

/** A pair that holds nothing yet; the starting point of a first decision. */
export function emptyPair(orgId: string, pairId: string, now: number): PairState {
  return {
    orgId,
    pairId,
    initliveId: null,
    salesforceId: null,
    seen: { initlive: 0, salesforce: 0 },
    synced: { initlive: 0, salesforce: 0 },
    base: null,
    written: { initlive: null, salesforce: null },
    status: 'unlinked',
    updatedAt: now,
  };
}

/**
 * JSON with object keys sorted (by UTF-16 code unit) at every depth and arrays kept in order,
 * so equal values always give equal text. Undefined object members are left out, as JSON does.
 * Throws INVALID_INPUT on values JSON cannot carry exactly (NaN, Infinity, bigint, functions).
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) {
        throw new SyncError('INVALID_INPUT', `not a finite number: ${String(value)}`);
      }
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v: unknown) => canonicalJson(v)).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    default:
      throw new SyncError('INVALID_INPUT', `cannot be represented in JSON: ${typeof value}`);
  }
}

/**
 * SHA-256 (hex) of the canonical JSON of `values`. Key order never matters; array order does
 * (a list's order is part of its value).
 */
export function fingerprint(values: Record<string, FieldValue>): string {
  return createHash('sha256').update(canonicalJson(values), 'utf8').digest('hex');
}

function isFieldValue(v: unknown): v is FieldValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

const isVersion = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isOptionalId = (v: unknown): boolean => v === null || (typeof v === 'string' && v !== '');

/**
 * Everything wrong with a state, as readable sentences (empty when valid). The store keys a
 * pair by org id inside a `{...}` hash tag, so org ids may not contain braces.
 */
export function pairStateProblems(state: PairState): string[] {
  const problems: string[] = [];
  const s = state as unknown as Record<string, unknown>;
  if (typeof s.orgId !== 'string' || s.orgId === '' || /[{}]/.test(s.orgId)) {
    problems.push('orgId must be a non-empty string without "{" or "}"');
  }
  if (typeof s.pairId !== 'string' || s.pairId === '')
    problems.push('pairId must be a non-empty string');
  if (!isOptionalId(s.initliveId)) problems.push('initliveId must be null or a non-empty string');
  if (!isOptionalId(s.salesforceId))
    problems.push('salesforceId must be null or a non-empty string');
  for (const key of ['seen', 'synced'] as const) {
    const vector = s[key] as Record<string, unknown> | undefined;
    for (const side of sides) {
      if (!isVersion(vector?.[side])) problems.push(`${key}.${side} must be a safe integer >= 0`);
    }
  }
  if (s.base !== null) {
    if (typeof s.base !== 'object' || Array.isArray(s.base)) {
      problems.push('base must be null or an object');
    } else {
      for (const [field, v] of Object.entries(s.base as Record<string, unknown>)) {
        if (!isFieldValue(v)) problems.push(`base.${field} is not a field value`);
      }
    }
  }
  const written = s.written as Record<string, unknown> | undefined;
  for (const side of sides) {
    const w = written?.[side];
    if (w !== null && typeof w !== 'string')
      problems.push(`written.${side} must be null or a string`);
  }
  if (s.status !== 'linked' && s.status !== 'unlinked' && s.status !== 'deleted') {
    problems.push('status must be linked, unlinked or deleted');
  }
  if (typeof s.updatedAt !== 'number' || !Number.isFinite(s.updatedAt)) {
    problems.push('updatedAt must be a finite number');
  }
  return problems;
}

/** Throws INVALID_INPUT listing every problem when `state` cannot be stored. */
export function assertPairState(state: PairState): void {
  const problems = pairStateProblems(state);
  if (problems.length > 0) {
    throw new SyncError('INVALID_INPUT', `invalid pair state: ${problems.join('; ')}`, {
      context: { orgId: state.orgId, pairId: state.pairId, problems },
    });
  }
}
