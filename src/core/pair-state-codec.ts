import { SyncError } from '../errors';
import { canonicalFields } from './mapping';
import type { FieldValue, MergeMemory, PairState, PairStatus, PendingWrite } from './pair-state';

/**
 * How a pair state is stored: positional JSON text of its merge data, and beside it, as fields
 * of their own, what linking a record changes (the record ids, the status, which records
 * exist), so a sink that learned a new record's id links it without the state going to and
 * from the store.
 *
 * Why not JSON.stringify(state): a state carries the same fifteen field names up to five times
 * (base, each side's current values, each pending write's fields and pre-write base), most of
 * them with null values, plus the org and pair ids its key already names. That came to 1.5-2 KB
 * per pair, and a full sync moves every pair's state to and from the store two or three times:
 * in the 50,000-per-side benchmark, 600 MB sent to Redis, most of the connector's string
 * writes, parses and garbage. The same states here are about a third of the size.
 *
 * Lossless: decode(encode(s)) deep-equals s (key order aside), null and absent fields kept
 * apart, since the merge treats them differently in places (a pending write's field set to
 * null is a write of null). A value map whose keys are all canonical fields is
 * `[mask, ...values]`, bit i of the mask saying canonicalFields[i] is present and the values
 * following in canonical order, then (when the map holds other names: form answers) one object
 * with the rest; maps stored as plain objects before still decode. Text stored before this
 * format (the state's own JSON, ids and all) still decodes, whatever the fields beside it say.
 * A state member this codec does not know makes encode throw rather than be dropped silently.
 */

/** A pair state as the stores keep it. */
export interface EncodedPair {
  /** Positional JSON of everything below that is not a field of its own (see encodePairState). */
  text: string;
  initliveId: string | null;
  salesforceId: string | null;
  status: PairStatus;
  /**
   * Whether each side's record is known to exist, InitLive first, as '0' or '1' ('10': only
   * the staff member); '' when the state has no merge memory yet.
   */
  exists: string;
}

const FORMAT = 2;

const fieldIndex = new Map<string, number>(canonicalFields.map((f, i) => [f, i]));

type ValueMap = Record<string, FieldValue>;
type EncodedMap = unknown[] | ValueMap;

function encodeMap(map: ValueMap): EncodedMap {
  let mask = 0;
  let extras: ValueMap | null = null;
  for (const key of Object.keys(map)) {
    const i = fieldIndex.get(key);
    if (i === undefined) (extras ??= {})[key] = map[key]!;
    else mask |= 1 << i;
  }
  const out: unknown[] = [mask];
  for (let i = 0; i < canonicalFields.length; i++) {
    if (mask & (1 << i)) out.push(map[canonicalFields[i]!]);
  }
  // Form answers (customAnswers.<key>) and any other name follow as one object.
  if (extras) out.push(extras);
  return out;
}

function decodeMap(encoded: unknown): ValueMap {
  if (!Array.isArray(encoded)) {
    if (encoded === null || typeof encoded !== 'object') throw new TypeError('value map');
    return encoded as ValueMap;
  }
  const mask = encoded[0];
  if (typeof mask !== 'number') throw new TypeError('value map mask');
  const out: ValueMap = {};
  let next = 1;
  for (let i = 0; i < canonicalFields.length; i++) {
    if (mask & (1 << i)) out[canonicalFields[i]!] = encoded[next++] as FieldValue;
  }
  if (next < encoded.length) {
    const extras = encoded[next];
    if (extras === null || typeof extras !== 'object' || Array.isArray(extras)) {
      throw new TypeError('value map extras');
    }
    Object.assign(out, extras);
  }
  return out;
}

const encodeOptionalMap = (map: ValueMap | null): EncodedMap | null =>
  map === null ? null : encodeMap(map);
const decodeOptionalMap = (encoded: unknown): ValueMap | null =>
  encoded === null ? null : decodeMap(encoded);

/** Throws when `rest` (what destructuring left over) holds a member this codec would drop. */
function assertKnown(what: string, rest: object): void {
  const unknown = Object.keys(rest).filter(
    (k) => (rest as Record<string, unknown>)[k] !== undefined,
  );
  if (unknown.length > 0) {
    throw new SyncError(
      'INTERNAL',
      `pair state codec does not know ${what}: ${unknown.join(', ')}`,
    );
  }
}

function encodePending(p: PendingWrite): unknown[] {
  const { fields, preBase, decidedAt, cause, ...rest } = p;
  assertKnown('pending write members', rest);
  const out: unknown[] = [encodeMap(fields), encodeMap(preBase), decidedAt];
  if (cause) {
    const { side, version, op, recordId, ifMatch, ...causeRest } = cause;
    assertKnown('pending write cause members', causeRest);
    out.push([side, version, op, recordId, ifMatch]);
  }
  return out;
}

function decodePending(encoded: unknown): PendingWrite {
  const [fields, preBase, decidedAt, cause] = encoded as unknown[];
  const out: PendingWrite = {
    fields: decodeMap(fields),
    preBase: decodeMap(preBase),
    decidedAt: decidedAt as number,
  };
  if (cause !== undefined) {
    const [side, version, op, recordId, ifMatch] = cause as unknown[];
    out.cause = {
      side,
      version,
      op,
      recordId,
      ifMatch,
    } as NonNullable<PendingWrite['cause']>;
  }
  return out;
}

function encodeMerge(m: MergeMemory): unknown[] {
  const { current, pending, position, exists: _exists, modified, ...rest } = m;
  assertKnown('merge memory members', rest);
  const out: unknown[] = [
    encodeOptionalMap(current.initlive),
    encodeOptionalMap(current.salesforce),
    pending.initlive.map(encodePending),
    pending.salesforce.map(encodePending),
    position.initlive,
    position.salesforce,
  ];
  if (modified) out.push([modified.initlive, modified.salesforce]);
  return out;
}

function decodeMerge(encoded: unknown, exists: string): MergeMemory {
  const [curIl, curSf, pendIl, pendSf, posIl, posSf, modified] = encoded as unknown[];
  if (!/^[01]{2}$/.test(exists)) throw new TypeError(`exists flags ${JSON.stringify(exists)}`);
  const out: MergeMemory = {
    current: { initlive: decodeOptionalMap(curIl), salesforce: decodeOptionalMap(curSf) },
    pending: {
      initlive: (pendIl as unknown[]).map(decodePending),
      salesforce: (pendSf as unknown[]).map(decodePending),
    },
    position: { initlive: posIl as string | null, salesforce: posSf as string | null },
    exists: { initlive: exists[0] === '1', salesforce: exists[1] === '1' },
  };
  if (modified !== undefined) {
    const [il, sf] = modified as Array<number | null>;
    out.modified = { initlive: il ?? null, salesforce: sf ?? null };
  }
  return out;
}

/** The flags `EncodedPair.exists` holds for a merge memory ('' without one). */
export function existsFlags(merge: MergeMemory | undefined): string {
  if (!merge) return '';
  return `${merge.exists.initlive ? 1 : 0}${merge.exists.salesforce ? 1 : 0}`;
}

/**
 * A state as stored. Its text is `[2, seen.initlive, seen.salesforce, synced.initlive,
 * synced.salesforce, base, written.initlive, written.salesforce, updatedAt, merge?]`, merge
 * being `[current.initlive, current.salesforce, pending.initlive, pending.salesforce,
 * position.initlive, position.salesforce, modified?]`, modified being `[initlive, salesforce]`;
 * the org and pair ids are left out (the store's key names them).
 */
export function encodePairState(state: PairState): EncodedPair {
  const {
    orgId: _orgId,
    pairId: _pairId,
    initliveId,
    salesforceId,
    seen,
    synced,
    base,
    written,
    status,
    updatedAt,
    merge,
    ...rest
  } = state;
  assertKnown('pair state members', rest);
  const out: unknown[] = [
    FORMAT,
    seen.initlive,
    seen.salesforce,
    synced.initlive,
    synced.salesforce,
    encodeOptionalMap(base),
    written.initlive,
    written.salesforce,
    updatedAt,
  ];
  if (merge) out.push(encodeMerge(merge));
  return {
    text: JSON.stringify(out),
    initliveId,
    salesforceId,
    status,
    exists: existsFlags(merge),
  };
}

/** The state stored as `stored` under `orgId` / `pairId`. Throws INTERNAL on what it cannot read. */
export function decodePairState(
  stored: EncodedPair,
  where: { orgId: string; pairId: string } & Record<string, unknown>,
): PairState {
  try {
    const parsed: unknown = JSON.parse(stored.text);
    // Stored before the positional format: the state's own JSON, ids and all.
    if (!Array.isArray(parsed)) return parsed as PairState;
    if (parsed[0] !== FORMAT) throw new TypeError(`unknown format ${String(parsed[0])}`);
    if (!['linked', 'unlinked', 'deleted'].includes(stored.status)) {
      throw new TypeError(`status ${JSON.stringify(stored.status)}`);
    }
    const [, seenIl, seenSf, syncedIl, syncedSf, base, wIl, wSf, updatedAt, merge] =
      parsed as unknown[];
    const state: PairState = {
      orgId: where.orgId,
      pairId: where.pairId,
      initliveId: stored.initliveId,
      salesforceId: stored.salesforceId,
      seen: { initlive: seenIl as number, salesforce: seenSf as number },
      synced: { initlive: syncedIl as number, salesforce: syncedSf as number },
      base: decodeOptionalMap(base),
      written: { initlive: wIl as string | null, salesforce: wSf as string | null },
      status: stored.status,
      updatedAt: updatedAt as number,
    };
    if (merge !== undefined) state.merge = decodeMerge(merge, stored.exists);
    return state;
  } catch (err) {
    throw new SyncError('INTERNAL', 'stored pair state cannot be read', {
      cause: err,
      context: where,
    });
  }
}
