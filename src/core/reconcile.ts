import {
  canonicalFields,
  flowsTo,
  normalizeValue,
  sameValue,
  validateForSalesforce,
  type CanonicalField,
  type CanonicalValues,
  type MappedFieldName,
  type MappedField,
  type ResolvedMapping,
  type ValueProblem,
} from './mapping';
import {
  copyJson,
  emptyPair,
  fingerprint,
  otherSide,
  type FieldValue,
  type MergeMemory,
  type PairState,
  type PendingWrite,
  type Side,
} from './pair-state';

/**
 * The reconciler's decision for one observed change, as a pure function of the pair's stored
 * state. See docs/design/reconciler.md for the model; in short:
 *
 * - versions settle order: a change older than what was seen is dropped, a duplicate changes
 *   nothing, so replays and redeliveries are harmless;
 * - each side's last known values are kept, and every mapped field is merged three ways
 *   against the last synced value (the base);
 * - our own writes are remembered as pending until their echo arrives; an echo is consumed
 *   and never written back, while a foreign change that lands before our echo is a concurrent
 *   edit, settled by the default system.
 */

export type SyncDirection = 'initlive_to_salesforce' | 'salesforce_to_initlive' | 'two_way';
export type DeletePolicy = 'archive' | 'propagate' | 'ignore';

export interface ReconcileSettings {
  direction: SyncDirection;
  /** Wins a field both sides changed to different values (two-way only). */
  defaultSystem: Side;
  deletePolicy: DeletePolicy;
  mapping: ResolvedMapping;
  /**
   * Fields whose Salesforce values are unknown since the time given: a Contact field that came
   * back after it had disappeared (re-created empty, or restored) holds whatever it holds, not
   * what was last synced. A pair not decided since then forgets its Salesforce value and merge
   * base for them, so the next look settles them as on first sight (the side with a value
   * wins, both with values: the default system).
   */
  forget?: ReadonlyMap<MappedFieldName, number>;
}

export interface ObservedChange {
  side: Side;
  recordId: string;
  /** The other side's id when the change names it (a Contact's InitLive_Staff_Id__c). */
  otherId: string | null;
  op: 'upsert' | 'delete' | 'undelete';
  /** Values carry the whole record (create, snapshot, InitLive feed) rather than only changed fields. */
  full: boolean;
  values: CanonicalValues;
  /** InitLive staff version; Salesforce commit/modified time in ms. */
  version: number;
  /** Stream position (feed seq, CDC replay id); null for snapshots. */
  position: string | null;
  /** The change carries our origin tag. */
  ours: boolean;
  /**
   * A read taken because our write to this side was refused (e.g. a stale If-Match): the
   * pending writes did not land, so they are rolled back and decided again on what is there.
   */
  writeRejected?: boolean;
  /** Full-sync run that produced this snapshot, for run accounting; null for streaming. */
  runId?: string | null;
  /** Fields the source says changed (the InitLive feed's changedFields); absent: unknown. */
  changed?: MappedFieldName[];
  /**
   * When the record was last modified on its side, epoch ms (the change's commit time, or a
   * read's LastModifiedDate / updatedAt); absent: unknown. Settles a pair whose history is gone.
   */
  modifiedAt?: number;
  /** A full sync paired this record with its counterpart by email, not by an id it carries. */
  matchedByEmail?: boolean;
}

export type WriteOp = 'create' | 'update' | 'delete';

export interface WriteIntent {
  side: Side;
  op: WriteOp;
  /** Canonical values to write (for Salesforce upserts, always with initliveId). */
  values: CanonicalValues;
  fingerprint: string;
  /** The record on the target side, when known. */
  recordId: string | null;
  /** InitLive version the write was decided against (If-Match). */
  ifMatch: number | null;
}

export interface Conflict {
  pairId: string;
  field: MappedFieldName;
  initlive: FieldValue;
  salesforce: FieldValue;
  winner: Side;
}

export type Outcome =
  'applied' | 'unchanged' | 'duplicate' | 'stale' | 'echo' | 'rejected' | 'repaired' | 'incomplete';

export interface ReconcileDecision {
  next: PairState;
  writes: WriteIntent[];
  conflicts: Conflict[];
  outcome: Outcome;
  /** Why a write was refused before costing an API call (outcome 'rejected'). */
  problems: ValueProblem[];
  /** Fields a full sync found different from what the pair knew, at the same version. */
  drifted?: string[];
}

/**
 * Edits on the two sides less than this far apart count as made at the same time when a pair's
 * history is gone (see `decide`): the default system settles them, as any conflict. Also
 * covers the two systems' clocks disagreeing by a little.
 */
export const SIMULTANEOUS_EDIT_MS = 2_000;

/** Pending writes older than this are forgotten: their echo is not coming (the write failed). */
export const PENDING_TTL_MS = 15 * 60_000;
const MAX_PENDING = 64;

function emptyMemory(): MergeMemory {
  return {
    current: { initlive: null, salesforce: null },
    pending: { initlive: [], salesforce: [] },
    position: { initlive: null, salesforce: null },
    exists: { initlive: false, salesforce: false },
  };
}

function comparePositions(a: string, b: string): number {
  // Positions are decimal integers (feed seq, replay id) that may exceed 2^53.
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Can values flow from `from` to the other side for this field under these settings? */
export function canFlow(m: MappedField, from: Side, direction: SyncDirection): boolean {
  const to = otherSide(from);
  if (!flowsTo(m, to)) return false;
  if (direction === 'two_way') return true;
  return direction === (from === 'initlive' ? 'initlive_to_salesforce' : 'salesforce_to_initlive');
}

function idField(side: Side): 'initliveId' | 'salesforceId' {
  return side === 'initlive' ? 'initliveId' : 'salesforceId';
}

function clone<T>(v: T): T {
  return copyJson(v);
}

/**
 * A change seen before. Nothing is decided again, but writes it caused that have not been
 * confirmed yet are sent once more: the process may have died after saving the decision and
 * before the writes reached their topic. Sinks write idempotently, so a second copy is harmless.
 */
function redelivered(prev: PairState, mem: MergeMemory, change: ObservedChange): ReconcileDecision {
  const writes: WriteIntent[] = [];
  for (const target of ['salesforce', 'initlive'] as Side[]) {
    for (const p of mem.pending[target]) {
      if (!p.cause || p.cause.side !== change.side || p.cause.version !== change.version) continue;
      writes.push({
        side: target,
        op: p.cause.op,
        values: p.fields,
        fingerprint: fingerprint(p.fields),
        recordId: p.cause.recordId,
        ifMatch: p.cause.ifMatch,
      });
    }
  }
  return { next: prev, writes, conflicts: [], outcome: 'duplicate', problems: [] };
}

function unchanged(
  prev: PairState,
  outcome: Outcome,
  problems: ValueProblem[] = [],
): ReconcileDecision {
  return { next: prev, writes: [], conflicts: [], outcome, problems };
}

/**
 * Decides what one change means for its pair. Pure: the caller applies `next` with one
 * compare-and-apply and, only once that succeeded, emits `writes`.
 */
export function decide(
  stored: PairState | null,
  change: ObservedChange,
  settings: ReconcileSettings,
  ctx: { orgId: string; pairId: string; now: number },
): ReconcileDecision {
  const forgotten = forgetFields(stored, settings.forget);
  const prev = forgotten ?? emptyPair(ctx.orgId, ctx.pairId, ctx.now);
  // A record seen before but with fields to settle afresh is decided again, not skipped.
  const refresh = forgotten !== stored;
  const { side } = change;
  const other = otherSide(side);
  const mem = prev.merge ? clone(prev.merge) : emptyMemory();

  if (change.writeRejected) return decideAfterRejectedWrite(prev, mem, change, settings, ctx);

  // Order and duplicates first: a redelivered or replayed event must change nothing.
  const lastPos = mem.position[side];
  if (
    change.position !== null &&
    lastPos !== null &&
    comparePositions(change.position, lastPos) <= 0
  ) {
    return redelivered(prev, mem, change);
  }
  const sameVersion = isSameVersion(side, change, prev.seen[side]);
  if (change.version < prev.seen[side] && !sameVersion) return unchanged(prev, 'stale');
  if (
    sameVersion &&
    (side === 'initlive' || change.position === null) &&
    prev.seen[side] > 0 &&
    !refresh
  ) {
    // A full sync's read at the version the pair knows: the values should be what it knows.
    // When they are not (drift), repair; streaming keeps this fast path.
    const repair = change.runId ? repairDrift(prev, mem, change, settings, ctx) : null;
    return repair ?? redelivered(prev, mem, change);
  }

  // Part of a record no pair knows (a CDC update names only what changed, and not the external
  // id unless that changed): creating its counterpart from the fragment would make a person
  // with no name or email. The reconciler reads the record whole and decides again; it
  // predates the connection, or the store lost its links (StateEpoch). Naming its counterpart
  // does not make it whole: the fields it leaves out would be taken as empty.
  if (stored === null && !change.full && change.op === 'upsert') {
    return unchanged(prev, 'incomplete');
  }
  // Our own write coming back for a pair nobody stored (the store lost it, and the source read
  // its feed again): it holds what we copied from the other record, nothing a person did here,
  // and deciding on it could undo a later edit there. The repair run after the loss reads both.
  if (stored === null && change.ours && change.position !== null) {
    return unchanged(prev, 'echo');
  }
  const next = clone(prev);
  next.updatedAt = ctx.now;
  next.seen[side] = Math.max(prev.seen[side], change.version);
  if (change.position !== null) mem.position[side] = change.position;
  next[idField(side)] = change.recordId;
  if (change.otherId && next[idField(other)] === null) {
    next[idField(other)] = change.otherId;
    // A streamed change naming its counterpart, for a pair no one stored (the store lost its
    // links, or the link was made outside the connector): that record exists as far as anyone
    // knows, so what changed here flows to it. A full sync's read does not: it reads the other
    // side too and decides once it has both.
    if (stored === null && !change.runId && change.position !== null) {
      mem.exists[other] = true;
    }
  }
  next.merge = mem;
  if (next.status === 'unlinked' && next.initliveId && next.salesforceId) next.status = 'linked';

  // Forget pending writes whose echo never came.
  for (const s of [side, other]) {
    mem.pending[s] = mem.pending[s].filter((p) => ctx.now - p.decidedAt < PENDING_TTL_MS);
  }

  if (change.op === 'delete') return decideDelete(prev, next, mem, change, settings, ctx);

  const before: CanonicalValues = mem.current[side] ?? {};
  const incoming: CanonicalValues = {};
  for (const [f, v] of Object.entries(change.values) as Array<[MappedFieldName, FieldValue]>) {
    incoming[f] = normalizeValue(f, v);
  }
  if (change.op === 'undelete') incoming.status = 'active';

  mem.exists[side] = true;
  // Which fields the source says changed: the feed names them, a CDC update carries only
  // them; for a snapshot, whatever differs from what we knew.
  const changedSet = change.changed
    ? new Set(change.changed)
    : change.full
      ? null
      : new Set(Object.keys(incoming) as MappedFieldName[]);
  const isChanged = (f: MappedFieldName): boolean =>
    changedSet ? changedSet.has(f) : !sameValue(f, incoming[f] ?? null, before[f] ?? null);

  // The newest pending write of ours that covers each field.
  const pendingFor = new Map<MappedFieldName, PendingWrite>();
  for (const p of mem.pending[side]) {
    for (const f of Object.keys(p.fields) as MappedFieldName[]) pendingFor.set(f, p);
  }

  // A field of a change tagged with our origin holding a value we wrote is our echo; other
  // fields of it were changed by someone else in the same transaction (a trigger, a flow).
  const ourValue = (f: MappedFieldName, v: FieldValue): boolean =>
    mem.pending[side].some((p) => f in p.fields && sameValue(f, v, p.fields[f] ?? null));
  const cur: CanonicalValues = { ...before };
  const concurrent = new Set<MappedFieldName>();
  // The first read of this side of a pair decided blind (its history lost), last modified well
  // before the other side's change we are writing to it: it shows what the field held before
  // that edit, not an edit of its own, so our write still wins it.
  const otherModified = mem.modified?.[other] ?? null;
  const predatesOurWrite =
    (mem.modified?.[side] ?? null) === null &&
    change.modifiedAt !== undefined &&
    otherModified !== null &&
    change.modifiedAt < otherModified - SIMULTANEOUS_EDIT_MS;
  for (const m of settings.mapping) {
    const f = m.field;
    if (!change.full && !(f in incoming)) continue;
    const v = incoming[f] ?? null;
    const p = pendingFor.get(f);
    if (change.ours && ourValue(f, v)) {
      // Our own write landing (perhaps an older one): a newer write of ours supersedes it.
      if (!p || sameValue(f, v, p.fields[f] ?? null)) cur[f] = v;
      continue;
    }
    if (p && f !== 'initliveId') {
      // Our write to this field has not landed yet: an unchanged or pre-write value is just
      // the old state; our value means it landed; anything else is a concurrent foreign edit.
      if (!isChanged(f) || sameValue(f, v, p.preBase[f] ?? null)) continue;
      if (predatesOurWrite) {
        cur[f] = p.fields[f] ?? null;
        continue;
      }
      if (!sameValue(f, v, p.fields[f] ?? null)) concurrent.add(f);
    }
    cur[f] = v;
  }
  // Which of our writes this change shows landed. Our echo confirms a write when the fields it
  // carries hold the written values (a CDC update leaves out fields the write did not change);
  // any other read must show every written value.
  const landed = (p: PendingWrite): boolean => {
    const fs = (Object.keys(p.fields) as MappedFieldName[]).filter((f) => f !== 'initliveId');
    const shown = fs.filter((f) => f in incoming);
    const matches = shown.every((f) => sameValue(f, incoming[f] ?? null, p.fields[f] ?? null));
    return matches && (change.ours ? shown.length > 0 : shown.length === fs.length);
  };
  if (change.ours) {
    // Sinks write a pair's records in order and may merge consecutive ones into one call, so
    // the echo of a write also confirms every older write of ours to this record.
    let newest = -1;
    mem.pending[side].forEach((p, i) => {
      if (landed(p)) newest = i;
    });
    // A change event leaves out a field the call set to what it held (a merged write putting
    // back what an earlier one changed): a newer write showing no field, decided before the
    // echo's commit, went in that call; left pending, it would turn the next edit of that
    // field into a conflict with a write long landed.
    const inCall = (p: PendingWrite): boolean =>
      newest >= 0 &&
      side === 'salesforce' &&
      !change.full &&
      p.decidedAt <= change.version &&
      Object.keys(p.fields).every((f) => f === 'initliveId' || !(f in incoming));
    mem.pending[side] = mem.pending[side].slice(newest + 1).filter((p) => !inCall(p));
  } else {
    mem.pending[side] = mem.pending[side].filter((p) => !landed(p));
  }
  mem.current[side] = cur;
  if (change.modifiedAt !== undefined) {
    mem.modified = { initlive: null, salesforce: null, ...mem.modified, [side]: change.modifiedAt };
  }

  // The other record was deleted (we knew its id, it no longer exists): changes here stay
  // here, except restoring an InitLive staff member, which recreates the Contact.
  if (!mem.exists[other] && next[idField(other)] !== null) {
    const restoring =
      side === 'initlive' &&
      cur.status === 'active' &&
      !sameValue('status', before.status ?? null, 'active');
    if (
      !restoring ||
      !canFlow(
        { field: 'status', salesforceField: '', direction: 'both' },
        side,
        settings.direction,
      )
    ) {
      return {
        next,
        writes: [],
        conflicts: [],
        outcome: change.ours ? 'echo' : 'unchanged',
        problems: [],
      };
    }
    next[idField(other)] = null;
    mem.current[other] = null;
    mem.pending[other] = [];
    next.base = null;
  }

  const baseBefore = next.base;
  const base: CanonicalValues = { ...baseBefore };
  const targets: Record<Side, CanonicalValues> = { initlive: {}, salesforce: {} };
  const conflicts: Conflict[] = [];
  const currentOf = (s: Side): CanonicalValues => mem.current[s] ?? {};
  // A streamed change for a pair nobody stored, naming its counterpart (the store lost its
  // history): what the other side holds is unknown, so only the fields this change says it
  // changed flow. The rest are taken as last synced at this side's values, so a later read of
  // the other side tells what changed there meanwhile.
  const blind =
    stored === null && mem.current[other] === null && change.position !== null && changedSet;
  // A pair linked by the records' own ids (a Contact's external id) before anyone here decided
  // it: synced once, its history gone. A run's email match (never synced) does not count.
  const newer =
    baseBefore === null &&
    next.initliveId !== null &&
    next.salesforceId !== null &&
    !change.matchedByEmail
      ? newerSide(mem)
      : null;

  // What a blind decision takes the other record to hold: as it stands, unknown values would
  // read as empty, and a later change of either side would fight over them.
  const assumed: CanonicalValues = {};
  for (const m of settings.mapping) {
    const f = m.field;
    if (f === 'initliveId') continue;
    const toOther = canFlow(m, side, settings.direction);
    const toSide = canFlow(m, other, settings.direction);
    if (!toOther && !toSide) continue;

    const pending = pendingFor.get(f);
    if (concurrent.has(f) && pending) {
      const mine = cur[f] ?? null;
      const theirs = pending.fields[f] ?? null;
      const winner = toOther && toSide ? settings.defaultSystem : toOther ? side : other;
      const target = winner === side ? mine : theirs;
      if (toOther && toSide) {
        conflicts.push({
          pairId: next.pairId,
          field: f,
          initlive: side === 'initlive' ? mine : theirs,
          salesforce: side === 'salesforce' ? mine : theirs,
          winner,
        });
      }
      base[f] = target;
      if (winner === side) {
        // Our pending write will overwrite this side with the loser: write the winner again.
        targets[side][f] = target;
        if (!sameValue(f, currentOf(other)[f] ?? null, target)) targets[other][f] = target;
      } else {
        // Our pending write carries the winner; expect it.
        cur[f] = target;
      }
      continue;
    }

    if (blind) {
      base[f] = currentOf(side)[f] ?? null;
      if (!blind.has(f)) assumed[f] = base[f];
      // What the other record holds is unknown: the change flows as made, an emptied field too.
      else if (toOther) targets[other][f] = base[f];
      continue;
    }
    const il = currentOf('initlive')[f] ?? null;
    const sf = currentOf('salesforce')[f] ?? null;
    if (sameValue(f, il, sf)) {
      base[f] = il;
      continue;
    }
    const hasBase = next.base !== null && f in base;
    const b = hasBase ? (base[f] ?? null) : undefined;
    const ilChanged = b === undefined ? il !== null : !sameValue(f, il, b);
    const sfChanged = b === undefined ? sf !== null : !sameValue(f, sf, b);
    const canToSf = canFlow(m, 'initlive', settings.direction);
    const canToIl = canFlow(m, 'salesforce', settings.direction);

    let winner: Side | null = null;
    if (b === undefined && newer !== null) {
      // Synced once, history gone: the record modified last holds the later edit, a value
      // cleared there included.
      winner = (newer === 'initlive' ? canToSf : canToIl) ? newer : null;
    } else if (ilChanged && sfChanged) {
      if (canToSf && canToIl) {
        winner =
          b === undefined && (il === null || sf === null)
            ? il === null
              ? 'salesforce'
              : 'initlive'
            : settings.defaultSystem;
        if (b !== undefined || (il !== null && sf !== null)) {
          conflicts.push({ pairId: next.pairId, field: f, initlive: il, salesforce: sf, winner });
        }
      } else winner = canToSf ? 'initlive' : 'salesforce';
    } else if (ilChanged) {
      winner = canToSf ? 'initlive' : null;
    } else if (sfChanged) {
      winner = canToIl ? 'salesforce' : null;
    }
    if (winner === null) continue;
    const target = winner === 'initlive' ? il : sf;
    base[f] = target;
    // A Contact's status that is no volunteer's (none, or `deleted`) leaves theirs as it is.
    if (f === 'status' && winner === 'salesforce' && target !== 'active' && target !== 'archived')
      continue;
    targets[otherSide(winner)][f] = target;
  }

  next.base = base;
  if (blind) mem.current[other] = { ...assumed, ...mem.current[other] };
  const { writes, problems } = writesFor(next, mem, targets, change, settings, ctx.now, baseBefore);
  if (problems.length > 0) return unchanged(prev, 'rejected', problems);
  if (writes.length > 0 || next.status === 'linked') next.synced = { ...next.seen };
  return {
    next,
    writes,
    conflicts,
    outcome: writes.length > 0 ? 'applied' : change.ours ? 'echo' : 'unchanged',
    problems: [],
  };
}

/**
 * The side modified last, when both times are known and further apart than
 * SIMULTANEOUS_EDIT_MS. For a pair whose history is gone (records that were synced and name
 * each other, no merge base): what was synced is unknown, but the side modified after the
 * other holds the later edit; the default system would undo a change made on the other side
 * while the history was being lost. Null otherwise: the default system settles it.
 */
function newerSide(mem: MergeMemory): Side | null {
  const il = mem.modified?.initlive ?? null;
  const sf = mem.modified?.salesforce ?? null;
  if (il === null || sf === null || Math.abs(il - sf) < SIMULTANEOUS_EDIT_MS) return null;
  return il > sf ? 'initlive' : 'salesforce';
}

/**
 * The writes that carry `targets` to each side, remembered as pending until their echo comes
 * (and, on the same mem, what each side will hold once they land). A create writes every field
 * that may flow there; a Salesforce write always carries the external id. `problems` lists what
 * Salesforce would refuse, checked before any API call.
 */
function writesFor(
  next: PairState,
  mem: MergeMemory,
  targets: Record<Side, CanonicalValues>,
  change: ObservedChange,
  settings: ReconcileSettings,
  now: number,
  baseBefore: CanonicalValues | null,
): { writes: WriteIntent[]; problems: ValueProblem[] } {
  const writes: WriteIntent[] = [];
  const problems: ValueProblem[] = [];
  for (const target of ['salesforce', 'initlive'] as Side[]) {
    const values = targets[target];
    if (Object.keys(values).length === 0) continue;
    const creating = !mem.exists[target] && next[idField(target)] === null;
    const writeValues: CanonicalValues = creating
      ? {
          ...fullFrom(mem.current[otherSide(target)], settings.mapping, target, settings.direction),
          ...clearedBy(change, settings, target),
          ...values,
        }
      : values;
    if (target === 'salesforce') {
      if (next.initliveId === null) continue; // cannot upsert without the external id
      writeValues.initliveId = next.initliveId;
      problems.push(...validateForSalesforce(writeValues, settings.mapping, creating));
    }
    const preBase: CanonicalValues = {};
    for (const f of Object.keys(writeValues) as MappedFieldName[])
      preBase[f] = baseBefore?.[f] ?? null;
    mem.pending[target] = [
      ...mem.pending[target],
      {
        fields: writeValues,
        preBase,
        decidedAt: now,
        cause: {
          side: change.side,
          version: change.version,
          op: creating ? ('create' as const) : ('update' as const),
          recordId: next[idField(target)],
          ifMatch: target === 'initlive' && !creating ? next.seen.initlive || null : null,
        },
      },
    ].slice(-MAX_PENDING);
    mem.current[target] = { ...(mem.current[target] ?? {}), ...writeValues };
    writes.push({
      side: target,
      op: creating ? 'create' : 'update',
      values: writeValues,
      fingerprint: fingerprint(writeValues),
      recordId: next[idField(target)],
      ifMatch: target === 'initlive' && !creating ? next.seen.initlive || null : null,
    });
  }
  return { writes, problems };
}

/**
 * Whether a change is at the version the pair has seen of its side. Salesforce snapshots carry
 * LastModifiedDate, which Salesforce keeps to the second, while change events carry the commit
 * time to the millisecond: a snapshot of the same commit reads up to 999 ms older.
 */
function isSameVersion(side: Side, change: ObservedChange, seen: number): boolean {
  if (change.version === seen) return true;
  return (
    side === 'salesforce' &&
    change.position === null &&
    change.version % 1000 === 0 &&
    change.version === seen - (seen % 1000)
  );
}

/**
 * A full sync read a record at the version the pair knows, yet its mapped values differ from
 * what the pair believes it holds: drift (a value changed without a change event, a restore, a
 * reinstalled package that wiped our fields). Each drifted field is settled by the rules: one-way,
 * the source side's value; two-way, the default system's, except that a value that went missing
 * (null where the pair knew one) is restored, never spread. The other side is written, and a
 * Contact that lost our external id gets it back. Fields with a write of ours still on its way
 * are not drift. Null when nothing drifted (or the pair is not linked).
 */
function repairDrift(
  prev: PairState,
  mem: MergeMemory,
  change: ObservedChange,
  settings: ReconcileSettings,
  ctx: { now: number },
): ReconcileDecision | null {
  const { side } = change;
  const other = otherSide(side);
  const known = mem.current[side];
  const theirs = mem.current[other] ?? {};
  if (!known || !change.full || change.op !== 'upsert' || prev.status !== 'linked') return null;
  if (!prev.initliveId || !prev.salesforceId || !mem.exists.initlive || !mem.exists.salesforce) {
    return null;
  }
  const inFlight = new Set(mem.pending[side].flatMap((p) => Object.keys(p.fields)));
  const targets: Record<Side, CanonicalValues> = { initlive: {}, salesforce: {} };
  const base: CanonicalValues = { ...prev.base };
  const cur: CanonicalValues = { ...known };
  const drifted: string[] = [];
  for (const m of settings.mapping) {
    const f = m.field;
    if (f === 'initliveId' || inFlight.has(f) || !(f in change.values)) continue;
    const actual = normalizeValue(f, change.values[f]);
    const before = known[f] ?? null;
    if (sameValue(f, actual, before)) continue;
    drifted.push(f);
    cur[f] = actual;
    const toOther = canFlow(m, side, settings.direction);
    const toSide = canFlow(m, other, settings.direction);
    if (!toOther && !toSide) continue;
    const lost = actual === null && before !== null;
    const winner =
      toOther && toSide ? (lost ? other : settings.defaultSystem) : toOther ? side : other;
    const value = winner === side ? actual : (theirs[f] ?? null);
    base[f] = value;
    const target = otherSide(winner);
    const targetHolds = target === side ? actual : (theirs[f] ?? null);
    if (!sameValue(f, targetHolds, value)) targets[target][f] = value;
  }
  const linkLost =
    side === 'salesforce' &&
    'initliveId' in change.values &&
    !sameValue(
      'initliveId',
      normalizeValue('initliveId', change.values.initliveId),
      prev.initliveId,
    ) &&
    settings.direction !== 'salesforce_to_initlive';
  if (linkLost) {
    drifted.push('initliveId');
    targets.salesforce.initliveId = prev.initliveId;
  }
  if (drifted.length === 0) return null;
  const next = clone(prev);
  next.updatedAt = ctx.now;
  next.merge = mem;
  mem.current[side] = cur;
  const baseBefore = next.base;
  next.base = base;
  const { writes, problems } = writesFor(next, mem, targets, change, settings, ctx.now, baseBefore);
  if (problems.length > 0) return unchanged(prev, 'rejected', problems);
  next.synced = { ...next.seen };
  return {
    next,
    writes,
    conflicts: [],
    outcome: writes.length > 0 ? 'repaired' : 'unchanged',
    problems: [],
    drifted,
  };
}

/**
 * Our writes to `change.side` were refused: put the merge base of their fields back to what it
 * was before them, take the record as it really is, and decide again (same rules as any change).
 */
function decideAfterRejectedWrite(
  prev: PairState,
  mem: MergeMemory,
  change: ObservedChange,
  settings: ReconcileSettings,
  ctx: { orgId: string; pairId: string; now: number },
): ReconcileDecision {
  const side = change.side;
  if (mem.pending[side].length === 0 && change.version <= prev.seen[side])
    return unchanged(prev, 'duplicate');
  // The Contact is gone and our deletion write to the volunteer (archive, or delete under
  // `propagate`) was refused because they changed meanwhile: deciding again on the record as
  // read would take it for a volunteer without a Contact, so send the deletion again instead.
  const deletion =
    side === 'initlive' && !mem.exists.salesforce && prev.salesforceId !== null
      ? [...mem.pending.initlive].reverse().find(
          (p) =>
            p.cause?.side === 'salesforce' &&
            // An archive the record already shows has landed: nothing to send again.
            (p.cause.op === 'delete' ||
              (p.fields.status === 'archived' && change.values.status !== 'archived')),
        )
      : undefined;
  if (deletion?.cause) return resendDeletion(prev, mem, change, deletion, ctx);
  const rolledBack: PairState = structuredClone(prev);
  const base: Record<string, FieldValue> = { ...(rolledBack.base ?? {}) };
  // Writes land in order: those up to the newest the record shows did, and only the rest are
  // taken back (taking back a landed one would make our own write look like an edit there).
  const shows = (p: PendingWrite): boolean =>
    (Object.keys(p.fields) as MappedFieldName[]).every(
      (f) =>
        f === 'initliveId' ||
        sameValue(f, normalizeValue(f, change.values[f] ?? null), p.fields[f] ?? null),
    );
  const pending = mem.pending[side];
  let landed = -1;
  pending.forEach((p, i) => {
    if (shows(p)) landed = i;
  });
  // Newest first, so the oldest pre-write value wins for a field written twice.
  for (const p of pending.slice(landed + 1).reverse()) {
    for (const [f, v] of Object.entries(p.preBase)) base[f] = v;
  }
  rolledBack.base = base;
  rolledBack.merge = {
    ...mem,
    pending: { ...mem.pending, [side]: [] },
    current: { ...mem.current, [side]: {} },
  };
  // Decide on the record as read, as a snapshot newer than anything seen from this side.
  rolledBack.seen = { ...rolledBack.seen, [side]: Math.min(prev.seen[side], change.version - 1) };
  const d = decide(
    rolledBack,
    { ...change, writeRejected: false, position: null, ours: false },
    settings,
    ctx,
  );
  // Never move the version vector backwards, whatever the read said.
  d.next.seen = { ...d.next.seen, [side]: Math.max(prev.seen[side], d.next.seen[side]) };
  return d;
}

/** The deletion write `pending` again, against the version just read (see above). */
function resendDeletion(
  prev: PairState,
  mem: MergeMemory,
  change: ObservedChange,
  pending: PendingWrite,
  ctx: { now: number },
): ReconcileDecision {
  const next = clone(prev);
  next.updatedAt = ctx.now;
  next.seen = { ...next.seen, initlive: Math.max(prev.seen.initlive, change.version) };
  const op = pending.cause!.op;
  // An archive keeps the volunteer: the writes before it that the refusal took back go again
  // with it, for fields the read still shows as they were before them (an edit made there
  // meanwhile stays).
  const carried: CanonicalValues = {};
  const preBase: CanonicalValues = { status: pending.preBase.status ?? null };
  if (op !== 'delete') {
    for (const p of mem.pending.initlive) {
      if (p === pending) continue;
      for (const [f, v] of Object.entries(p.fields) as Array<[MappedFieldName, FieldValue]>) {
        if (f === 'status' || f === 'initliveId') continue;
        const read = normalizeValue(f, change.values[f] ?? null);
        if (f in carried || sameValue(f, read, p.preBase[f] ?? null)) {
          carried[f] = v;
          if (!(f in preBase)) preBase[f] = p.preBase[f] ?? null;
        }
      }
    }
  }
  const values: CanonicalValues = op === 'delete' ? {} : { ...carried, status: 'archived' };
  const write: WriteIntent = {
    side: 'initlive',
    op,
    values,
    fingerprint: fingerprint(values),
    recordId: prev.initliveId,
    ifMatch: change.version,
  };
  next.merge = {
    ...mem,
    current: { ...mem.current, initlive: { ...(mem.current.initlive ?? {}), ...change.values } },
    pending: {
      ...mem.pending,
      initlive: [
        {
          ...pending,
          ...(op === 'delete' ? {} : { fields: values, preBase }),
          decidedAt: ctx.now,
          cause: { ...pending.cause!, ifMatch: change.version },
        },
      ],
    },
  };
  return { next, writes: [write], conflicts: [], outcome: 'applied', problems: [] };
}

/** The stored state without what `forget` says is unknown now (see ReconcileSettings.forget). */
function forgetFields(
  stored: PairState | null,
  forget: ReadonlyMap<MappedFieldName, number> | undefined,
): PairState | null {
  if (!stored || !forget || forget.size === 0) return stored;
  const fields = [...forget].filter(([, at]) => stored.updatedAt < at).map(([f]) => f);
  if (fields.length === 0) return stored;
  const out = clone(stored);
  for (const f of fields) {
    if (out.base) delete out.base[f];
    if (out.merge?.current.salesforce) delete out.merge.current.salesforce[f];
  }
  return out;
}

/**
 * The fields a streamed change just emptied, as nulls for a create on the other side: a create
 * the sink matches to an existing record by email (after the store lost the link) must empty
 * them there too, and a new record is empty there anyway.
 */
function clearedBy(
  change: ObservedChange,
  settings: ReconcileSettings,
  target: Side,
): CanonicalValues {
  const out: CanonicalValues = {};
  if (change.side === target || change.position === null) return out;
  for (const f of change.changed ?? []) {
    const m = settings.mapping.find((x) => x.field === f);
    if (!m || f === 'initliveId' || (change.values[f] ?? null) !== null) continue;
    if (canFlow(m, change.side, settings.direction)) out[f] = null;
  }
  return out;
}

/** Every field that may flow to `target`, from the source side's known values. */
function fullFrom(
  source: CanonicalValues | null,
  mapping: ResolvedMapping,
  target: Side,
  direction: SyncDirection,
): CanonicalValues {
  const out: CanonicalValues = {};
  for (const m of mapping) {
    if (m.field === 'initliveId') continue;
    const v = source?.[m.field];
    if (v !== undefined && v !== null && canFlow(m, otherSide(target), direction)) out[m.field] = v;
  }
  return out;
}

function decideDelete(
  prev: PairState,
  next: PairState,
  mem: MergeMemory,
  change: ObservedChange,
  settings: ReconcileSettings,
  ctx: { now: number },
): ReconcileDecision {
  const { side } = change;
  const other = otherSide(side);
  mem.exists[side] = false;
  mem.current[side] = null;
  mem.pending[side] = [];
  const flows =
    settings.direction === 'two_way' ||
    settings.direction ===
      (side === 'initlive' ? 'initlive_to_salesforce' : 'salesforce_to_initlive');
  const otherId = next[idField(other)];
  // Deleted while our create of its counterpart is still on its way: the deletion follows the
  // create (sinks write a pair's records in order), keyed as the create is, or the counterpart
  // would land active and stay so.
  const creating = otherId === null && mem.pending[other].length > 0;
  if (!flows || (!mem.exists[other] && otherId === null && !creating)) {
    next.status = 'deleted';
    return { next, writes: [], conflicts: [], outcome: 'applied', problems: [] };
  }
  if (settings.deletePolicy === 'ignore') {
    next.status = 'unlinked';
    next[idField(side)] = null;
    return { next, writes: [], conflicts: [], outcome: 'applied', problems: [] };
  }
  let write: WriteIntent;
  if (settings.deletePolicy === 'propagate') {
    mem.exists[other] = false;
    mem.current[other] = null;
    next.status = 'deleted';
    write = {
      side: other,
      op: 'delete',
      values: {},
      fingerprint: fingerprint({}),
      recordId: otherId,
      ifMatch: null,
    };
  } else {
    // archive: InitLive staff are archived; Salesforce keeps the Contact, marked by our status field.
    const status = other === 'initlive' ? 'archived' : 'deleted';
    const values: CanonicalValues = { status };
    if (other === 'salesforce' && next.initliveId) values.initliveId = next.initliveId;
    mem.current[other] = { ...(mem.current[other] ?? {}), status };
    next.base = { ...(prev.base ?? {}), status };
    write = {
      side: other,
      op: 'update',
      values,
      fingerprint: fingerprint(values),
      recordId: otherId,
      ifMatch: other === 'initlive' ? next.seen.initlive || null : null,
    };
  }
  // Remembered like any write of ours, so a redelivered delete sends it again until confirmed.
  mem.pending[other] = [
    ...mem.pending[other],
    {
      fields: write.values,
      preBase: { status: prev.base?.status ?? null },
      decidedAt: ctx.now,
      cause: {
        side,
        version: change.version,
        op: write.op,
        recordId: write.recordId,
        ifMatch: write.ifMatch,
      },
    },
  ].slice(-MAX_PENDING);
  next.synced = { ...next.seen };
  return { next, writes: [write], conflicts: [], outcome: 'applied', problems: [] };
}

/** Canonical fields the reconciler merges (the external id is linked, not merged). */
export const mergedFields: readonly CanonicalField[] = canonicalFields.filter(
  (f) => f !== 'initliveId',
);
