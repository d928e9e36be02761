import { fromSalesforce, type ResolvedMapping } from '../core/mapping';
import type { ChangeOperation, FieldValues, SalesforceContactChange } from '../core/records';
import type { CdcEvent } from './cdc-event';

/**
 * Turning one CDC event into change records. Pure: no I/O, so every rule here is unit-tested
 * without a server.
 */

/** What one event asks of the source. */
export type EventOutcome =
  /** Ready-made records, one per record id. */
  | { kind: 'changes'; records: SalesforceContactChange[] }
  /** The event cannot be applied as is (gap event, text diff, missing value): re-read these ids. */
  | { kind: 'reread'; recordIds: string[]; reason: string }
  /** Too many changes in one transaction: only a full sync can catch up. */
  | { kind: 'overflow' };

const operations: Record<'CREATE' | 'UPDATE' | 'DELETE' | 'UNDELETE', ChangeOperation> = {
  CREATE: 'CREATE',
  UPDATE: 'UPDATE',
  DELETE: 'DELETE',
  UNDELETE: 'RESTORE',
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Name and the address compounds nest their parts in CDC payloads; REST uses flat names. */
function isCompound(field: string): boolean {
  return field === 'Name' || /Address$/.test(field);
}

function compoundPrefix(field: string): string {
  return field === 'Name' ? '' : field.slice(0, -'Address'.length);
}

/**
 * The flat API name of a changedFields / nulledFields entry: `Name.FirstName` → `FirstName`,
 * `MailingAddress.City` → `MailingCity`, `Phone` → `Phone`.
 */
export function flatFieldName(path: string): string {
  const dot = path.indexOf('.');
  if (dot < 0) return path;
  const head = path.slice(0, dot);
  const rest = path.slice(dot + 1);
  return isCompound(head) ? compoundPrefix(head) + rest : rest;
}

/** CDC body fields with compound fields flattened to their REST names. */
export function flattenFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (isCompound(name) && isPlainObject(value)) {
      for (const [part, v] of Object.entries(value)) out[compoundPrefix(name) + part] = v;
    } else {
      out[name] = value;
    }
  }
  return out;
}

/** Long text may arrive as `{"diff": "<unified diff>"}`, which we cannot apply. */
function isTextDiff(value: unknown): boolean {
  return isPlainObject(value) && 'diff' in value;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The Contact fields (REST names) an event carries or names as changed. */
export function eventFieldNames(event: CdcEvent): string[] {
  const names = new Set(Object.keys(flattenFields(event.fields)));
  for (const f of event.header.changedFields ?? []) names.add(flatFieldName(f));
  return [...names];
}

export interface MappingContext {
  orgId: string;
  mapping: ResolvedMapping;
  now: () => number;
}

/**
 * Maps one valid CDC event. CREATE and UNDELETE carry every mapped field they hold; UPDATE
 * carries only the mapped fields named in changedFields (a cleared field as an explicit null);
 * DELETE carries none. A mapped value we cannot read (a text diff, a changed field absent
 * from the body) makes the whole event a re-read, so no value is ever guessed.
 */
export function interpretEvent(event: CdcEvent, ctx: MappingContext): EventOutcome {
  const { header } = event;
  const type = header.changeType;
  if (type === 'GAP_OVERFLOW') return { kind: 'overflow' };
  if (type.startsWith('GAP_')) {
    return { kind: 'reread', recordIds: header.recordIds, reason: type };
  }
  const op = operations[type as keyof typeof operations];

  const flat = flattenFields(event.fields);
  for (const f of stringList(header.nulledFields)) flat[flatFieldName(f)] = null;
  const bySalesforceField = new Map(ctx.mapping.map((m) => [m.salesforceField, m]));
  const diffed = stringList(header.diffFields).map(flatFieldName);
  if (diffed.some((f) => bySalesforceField.has(f))) {
    return { kind: 'reread', recordIds: header.recordIds, reason: 'diff_field' };
  }

  let source: Record<string, unknown> = {};
  if (op === 'UPDATE' && (header.changedFields ?? []).length > 0) {
    for (const name of (header.changedFields ?? []).map(flatFieldName)) {
      if (!bySalesforceField.has(name)) continue;
      if (!(name in flat)) {
        return { kind: 'reread', recordIds: header.recordIds, reason: 'changed_field_missing' };
      }
      source[name] = flat[name];
    }
  } else if (op !== 'DELETE') {
    source = flat;
  }
  for (const [name, value] of Object.entries(source)) {
    if (bySalesforceField.has(name) && isTextDiff(value)) {
      return { kind: 'reread', recordIds: header.recordIds, reason: 'text_diff' };
    }
  }

  const values = fromSalesforce(source, ctx.mapping) as FieldValues;
  const changedFields = Object.keys(values);
  const initliveId = typeof values.initliveId === 'string' ? values.initliveId : null;
  const observedAt = ctx.now();
  const origin = header.changeOrigin ? header.changeOrigin : null;
  return {
    kind: 'changes',
    records: header.recordIds.map((salesforceId) => ({
      orgId: ctx.orgId,
      salesforceId,
      initliveId,
      operation: op,
      changedFields: [...changedFields],
      values: { ...values },
      sourceVersion: header.commitTimestamp,
      sourcePosition: String(event.replayId),
      origin,
      observedAt,
      occurredAt: header.commitTimestamp,
      runId: null,
      commitUser: header.commitUser ?? null,
      transactionKey: header.transactionKey ?? null,
      sequenceNumber: header.sequenceNumber ?? null,
    })),
  };
}

/** Salesforce REST datetimes end in `+0000`, which Date.parse does not promise to read. */
export function parseSalesforceDate(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Records for re-read Contacts (gap events): a SNAPSHOT with every mapped value for a live
 * record, a DELETE for one in the recycle bin or gone altogether (`row` undefined).
 */
export function rereadRecord(
  salesforceId: string,
  row: Record<string, unknown> | undefined,
  gap: { replayId: number; commitTimestamp: number },
  ctx: MappingContext,
): SalesforceContactChange {
  const version = parseSalesforceDate(row?.LastModifiedDate) ?? gap.commitTimestamp;
  const live = row !== undefined && row.IsDeleted !== true;
  const values = live ? (fromSalesforce(row, ctx.mapping) as FieldValues) : {};
  return {
    orgId: ctx.orgId,
    salesforceId: typeof row?.Id === 'string' ? row.Id : salesforceId,
    initliveId: typeof values.initliveId === 'string' ? values.initliveId : null,
    operation: live ? 'SNAPSHOT' : 'DELETE',
    changedFields: [],
    values,
    sourceVersion: version,
    sourcePosition: String(gap.replayId),
    origin: null,
    observedAt: ctx.now(),
    occurredAt: version,
    runId: null,
    commitUser: null,
    transactionKey: null,
    sequenceNumber: null,
  };
}
