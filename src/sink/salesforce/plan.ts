import type { FieldValue, FieldValues, SalesforceWrite } from '../../core/records';
import type { ConsumedRecord } from '../../core/transport';
import type { ContactFields } from '../../infra/salesforce/salesforce-api';
import { withoutHeld } from './field-drift';

/** A decoded write with the record it came in (kept whole for dead letters). */
export interface WriteEnvelope {
  record: ConsumedRecord;
  write: SalesforceWrite;
}

/**
 * One change to make to one pair's Contact: several writes of a burst folded together.
 * `save` becomes an update by Id when the Contact's Id is known, else an upsert by the
 * external id; `delete` deletes by Id (looked up by external id when unknown).
 */
export interface PairOp {
  orgId: string;
  pairId: string;
  kind: 'save' | 'delete';
  externalId: string | null;
  salesforceId: string | null;
  /** The Contact was found by its email for this create (contact-lookup.ts): link it once written. */
  matched?: boolean;
  fields: FieldValues;
  /** The consumed writes folded into this op, oldest first. */
  sources: WriteEnvelope[];
}

/** What a write must name to be executable at all; null when fine. */
export function writeProblem(write: SalesforceWrite): string | null {
  if (!write.orgId || !write.pairId) return 'write has no orgId or pairId';
  if (write.operation !== 'UPSERT' && write.operation !== 'DELETE') {
    return `unknown operation ${String(write.operation)}`;
  }
  if (!write.externalId && !write.salesforceId) {
    return 'write names neither an InitLive staff id nor a Salesforce Contact id';
  }
  return null;
}

const pairKey = (orgId: string, pairId: string): string => `${orgId}\u0000${pairId}`;

/**
 * Folds a batch's writes per pair, keeping order: consecutive saves merge (later fields win,
 * ids fill in), a delete swallows the saves before it (the record ends up deleted either way),
 * and a save after a delete starts a new op so the re-creation happens after the delete.
 * Returns each pair's ops in order, pairs in first-seen order.
 */
export function coalesceWrites(envelopes: readonly WriteEnvelope[]): PairOp[][] {
  const byPair = new Map<string, PairOp[]>();
  for (const env of envelopes) {
    const w = env.write;
    const key = pairKey(w.orgId, w.pairId);
    let ops = byPair.get(key);
    if (!ops) byPair.set(key, (ops = []));
    const last = ops[ops.length - 1];
    const kind = w.operation === 'DELETE' ? 'delete' : 'save';
    if (last && (last.kind === 'save' || kind === 'delete')) {
      last.externalId = w.externalId ?? last.externalId;
      last.salesforceId = w.salesforceId ?? last.salesforceId;
      last.fields = kind === 'delete' ? {} : { ...last.fields, ...w.fields };
      last.kind = kind;
      last.sources.push(env);
      continue;
    }
    ops.push({
      orgId: w.orgId,
      pairId: w.pairId,
      kind,
      externalId: w.externalId,
      salesforceId: w.salesforceId,
      // The write's own map, not a copy: a merge above builds a new one, and nothing writes
      // into an op's fields, so a sink holding a Bulk job's worth of ops holds one map each.
      fields: kind === 'delete' ? {} : w.fields,
      sources: [env],
    });
  }
  return [...byPair.values()];
}

/** 15-character form: 15- and 18-character ids of one record compare equal. */
const idKey = (id: string): string => `id:${id.slice(0, 15)}`;
const extKey = (ext: string): string => `ext:${ext.toLowerCase()}`;

function targetsOf(op: PairOp): string[] {
  const out: string[] = [];
  if (op.salesforceId) out.push(idKey(op.salesforceId));
  if (op.externalId && (op.kind === 'save' || !op.salesforceId)) out.push(extKey(op.externalId));
  return out;
}

/**
 * Splits queued ops into rounds executed one after the other: a pair's later op goes to a later
 * round than its earlier one, and no round touches one Contact (by Id or external id) twice,
 * which Salesforce would refuse as a duplicate within one call. Usually there is one round.
 */
export function planRounds<T extends { op: PairOp }>(entries: readonly T[]): T[][] {
  const rounds: Array<{ items: T[]; targets: Set<string> }> = [];
  const lastRound = new Map<string, number>();
  for (const entry of entries) {
    const key = pairKey(entry.op.orgId, entry.op.pairId);
    const targets = targetsOf(entry.op);
    let r = (lastRound.get(key) ?? -1) + 1;
    while (rounds[r]?.targets && targets.some((t) => rounds[r]!.targets.has(t))) r++;
    const round = (rounds[r] ??= { items: [], targets: new Set() });
    round.items.push(entry);
    for (const t of targets) round.targets.add(t);
    lastRound.set(key, r);
  }
  return rounds.map((r) => r.items);
}

function toSalesforceValue(value: FieldValue): string | number | boolean | null {
  // The reconciler joins multi-values already; a stray array still gets Salesforce's form.
  return Array.isArray(value) ? value.join(';') : value;
}

/** The body of an upsert or update: the op's fields plus the external id it is keyed by. */
export function contactBody(op: PairOp, externalIdField: string): ContactFields {
  const body: ContactFields = {};
  for (const [k, v] of Object.entries(op.fields)) body[k] = toSalesforceValue(v);
  if (op.externalId) body[externalIdField] = op.externalId;
  return body;
}

/**
 * The records of one upsert or update call: each op's body (an update's with its Id), without
 * the fields drift holds back (`held`, lower-cased; null when none, the usual case).
 */
export function callRecords(
  route: 'upsert' | 'update',
  ops: readonly PairOp[],
  externalIdField: string,
  held: ReadonlySet<string> | null,
): ContactFields[] {
  const records = ops.map((op) => {
    const body = contactBody(op, externalIdField);
    return route === 'update' ? { ...body, Id: op.salesforceId! } : body;
  });
  return held === null ? records : records.map((r) => withoutHeld(r, held));
}

/** How an op is executed. */
export type OpRoute = 'upsert' | 'update' | 'delete' | 'delete-by-external-id';

export function routeOf(op: PairOp): OpRoute {
  if (op.kind === 'delete') return op.salesforceId ? 'delete' : 'delete-by-external-id';
  // A known Id wins over the external id: a Contact linked by email may not carry our
  // external id yet, and an upsert by it would create a duplicate instead of updating.
  return op.salesforceId ? 'update' : 'upsert';
}
