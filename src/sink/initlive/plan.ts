import { CUSTOM_ANSWER_PREFIX, toInitLive } from '../../core/mapping';
import type { CanonicalValues, ResolvedMapping } from '../../core/mapping';
import type { FieldValues, InitLiveWrite } from '../../core/records';
import type { ConsumedRecord } from '../../core/transport';
import { SyncError } from '../../errors';
import type { BatchOperation, NewStaff, StaffPatch } from '../../infra/initlive';

/**
 * Turns a batch of InitLive write commands (one org, in topic order) into InitLive batch
 * operations. Pure: what the pair store knows is passed in.
 *
 * Several writes to one pair in a batch are coalesced only when that is safe:
 * - writes following a create of the same pair (whose id is not known yet) are folded into
 *   the create, since the create is what they would have updated;
 * - consecutive updates (archive and restore are updates of `status`) of the same record are
 *   merged, later fields winning, when the later one was decided against the same version
 *   (same `ifMatch`) or without one. A later write decided against a newer version stays a
 *   separate operation; operations run in order, so the second applies after the first.
 * A delete is never merged.
 */

export interface DecodedWrite {
  write: InitLiveWrite;
  record: ConsumedRecord;
}

/** What the store knows of a pair: its InitLive id and InitLive's last known values. */
export interface KnownPair {
  initliveId: string | null;
  salesforceId: string | null;
  values: FieldValues;
  /**
   * Every form answer the staff member has now (read just before an update that writes some):
   * InitLive replaces customAnswers whole, so the answers the mapping does not name are sent
   * back as they are.
   */
  answers?: Record<string, unknown>;
  /**
   * Fingerprints of the writes to InitLive the pair still waits to see land (its pending list);
   * absent when unknown. Only read for a create of a pair that already has a staff id.
   */
  pending?: ReadonlySet<string>;
}

/** Whether a write carries form answers (an update of it must not drop the other answers). */
export function writesAnswers(write: InitLiveWrite): boolean {
  if (write.operation === 'CREATE' || write.operation === 'DELETE') return false;
  for (const key in write.fields) if (key.startsWith(CUSTOM_ANSWER_PREFIX)) return true;
  return false;
}

export type PlannedKind = 'create' | 'update' | 'archive' | 'restore' | 'delete';

export interface PlannedOp {
  kind: PlannedKind;
  pairId: string;
  /** Target staff id; null for a create. */
  initliveId: string | null;
  operation: BatchOperation;
  /** The write commands this operation carries, in order (several when coalesced). */
  writes: DecodedWrite[];
}

export interface WritePlan {
  ops: PlannedOp[];
  /** Writes that can never be sent as they are (they go to dead letters). */
  invalid: Array<{ write: DecodedWrite; error: SyncError }>;
  /**
   * Creates of a pair that has a staff id by now and no longer waits for them: they landed, or
   * the staff member was seen holding their values. Sent again (a redelivery after a crash)
   * they would overwrite whatever was edited there since.
   */
  superseded: DecodedWrite[];
}

interface Draft {
  kind: PlannedKind;
  pairId: string;
  initliveId: string | null;
  ifMatch: number | null;
  fields: FieldValues;
  writes: DecodedWrite[];
}

export const ADDRESS_PARTS = ['street', 'city', 'region', 'postalCode', 'country'] as const;

/**
 * Whether an update naming only some address parts lacks the others: InitLive replaces the
 * whole address, so the missing parts must be read first or they would be cleared.
 */
export function lacksAddressParts(write: InitLiveWrite, known: FieldValues): boolean {
  if (write.operation === 'CREATE' || write.operation === 'DELETE') return false;
  const named = ADDRESS_PARTS.filter((p) => p in write.fields);
  if (named.length === 0 || named.length === ADDRESS_PARTS.length) return false;
  return ADDRESS_PARTS.some((p) => !(p in write.fields) && !(p in known));
}

const updateLike = (kind: PlannedKind): boolean =>
  kind === 'update' || kind === 'archive' || kind === 'restore';

function fieldsOf(write: InitLiveWrite): FieldValues {
  const fields = { ...write.fields };
  if (write.operation === 'ARCHIVE') fields.status = 'archived';
  if (write.operation === 'RESTORE') fields.status = 'active';
  return fields;
}

function kindOf(write: InitLiveWrite): PlannedKind {
  return write.operation.toLowerCase() as PlannedKind;
}

/**
 * Canonical values -> InitLive staff fields, adapted to InitLive's rules: InitLive replaces
 * the whole address on a patch, so a patch naming some address parts is completed with the
 * parts InitLive last showed us; an empty tag list is `[]` (InitLive refuses null) and an
 * empty first name is `""`.
 */
export function initLiveFields(
  fields: FieldValues,
  mapping: ResolvedMapping,
  known: FieldValues,
  answers?: Record<string, unknown>,
): Record<string, unknown> {
  const values: CanonicalValues = { ...fields };
  if (ADDRESS_PARTS.some((p) => p in fields)) {
    for (const p of ADDRESS_PARTS) {
      if (!(p in values) && p in known) values[p] = known[p] ?? null;
    }
  }
  const out = toInitLive(values, mapping);
  if ('tags' in out && out.tags === null) out.tags = [];
  if ('firstName' in out && out.firstName === null) out.firstName = '';
  if (answers && out.customAnswers) out.customAnswers = { ...answers, ...out.customAnswers };
  const address = out.address as Record<string, unknown> | undefined;
  if (address) {
    for (const p of ADDRESS_PARTS) address[p] ??= null;
    if (ADDRESS_PARTS.every((p) => address[p] === null)) out.address = null;
  }
  return out;
}

function toOperation(
  draft: Draft,
  mapping: ResolvedMapping,
  known: KnownPair | undefined,
): BatchOperation {
  const ifMatch = draft.ifMatch ?? undefined;
  const id = draft.initliveId ?? '';
  switch (draft.kind) {
    case 'create':
      return { op: 'create', staff: initLiveFields(draft.fields, mapping, {}) as NewStaff };
    case 'delete':
      return { op: 'delete', id, ifMatch };
    default: {
      const patch = initLiveFields(
        draft.fields,
        mapping,
        known?.values ?? {},
        known?.answers,
      ) as StaffPatch;
      const keys = Object.keys(patch);
      if (keys.length === 1 && patch.status === 'archived') return { op: 'archive', id, ifMatch };
      return { op: 'update', id, patch, ifMatch };
    }
  }
}

/**
 * Plans one org's writes. `known` maps pair ids to what the store holds; a create whose pair
 * already has an InitLive id (the create landed before and this is a redelivery, or a second
 * create was decided before the first one's id came back) becomes an update of that id, so
 * redelivery never duplicates a staff member.
 */
export function planWrites(
  writes: readonly DecodedWrite[],
  mapping: ResolvedMapping,
  known: ReadonlyMap<string, KnownPair>,
): WritePlan {
  const drafts: Draft[] = [];
  const lastByPair = new Map<string, Draft>();
  const invalid: WritePlan['invalid'] = [];
  const superseded: DecodedWrite[] = [];

  for (const item of writes) {
    const { write } = item;
    const last = lastByPair.get(write.pairId);
    const pair = known.get(write.pairId);
    const id = write.initliveId ?? pair?.initliveId ?? null;
    let kind = kindOf(write);
    if (kind === 'create' && id !== null) {
      if (pair?.pending && !pair.pending.has(write.fingerprint)) {
        superseded.push(item);
        continue;
      }
      // Updates that id like any other, so successive creates of one pair go as one write.
      kind = 'update';
    }
    const fields = fieldsOf(write);

    if (last?.kind === 'create' && last.initliveId === null && kind !== 'delete' && id === null) {
      Object.assign(last.fields, fields);
      last.writes.push(item);
      continue;
    }
    if (kind === 'create') {
      const draft: Draft = {
        kind,
        pairId: write.pairId,
        initliveId: null,
        ifMatch: null,
        fields,
        writes: [item],
      };
      drafts.push(draft);
      lastByPair.set(write.pairId, draft);
      continue;
    }
    if (id === null) {
      invalid.push({
        write: item,
        error: new SyncError(
          'INVALID_INPUT',
          `${write.operation} of pair ${write.pairId} names no InitLive staff id and the pair has none`,
          { context: { pairId: write.pairId, operation: write.operation } },
        ),
      });
      continue;
    }
    if (
      last &&
      updateLike(last.kind) &&
      updateLike(kind) &&
      last.initliveId === id &&
      (write.ifMatch === null || write.ifMatch === last.ifMatch)
    ) {
      Object.assign(last.fields, fields);
      last.kind = 'update';
      last.writes.push(item);
      continue;
    }
    const draft: Draft = {
      kind,
      pairId: write.pairId,
      initliveId: id,
      ifMatch: write.ifMatch,
      fields,
      writes: [item],
    };
    drafts.push(draft);
    lastByPair.set(write.pairId, draft);
  }

  const ops = drafts.map((d): PlannedOp => ({
    kind: d.kind,
    pairId: d.pairId,
    initliveId: d.initliveId,
    operation: toOperation(d, mapping, known.get(d.pairId)),
    writes: d.writes,
  }));
  return { ops, invalid, superseded };
}
