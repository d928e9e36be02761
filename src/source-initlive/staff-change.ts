import { fromInitLive, initlivePathOf } from '../core/mapping';
import type { MappedFieldName, ResolvedMapping } from '../core/mapping';
import type { ChangeOperation, FieldValues, InitLiveStaffChange } from '../core/records';
import type { Staff, StaffChange, StaffChangeType } from '../infra/initlive';

/**
 * Turns InitLive's change feed entries (and re-read staff records) into the change envelope
 * the reconciler consumes. Pure: no I/O, so the source and the InitLive sink build the same
 * records the same way.
 */

const operations: Record<StaffChangeType, ChangeOperation> = {
  created: 'CREATE',
  updated: 'UPDATE',
  archived: 'ARCHIVE',
  restored: 'RESTORE',
  deleted: 'DELETE',
};

/**
 * `sourcePosition` of records that do not come from the feed (a re-read after a 412). It is
 * not a decimal number, so the reconciler treats it as "no stream position" (null) and
 * settles such a record by its version alone.
 */
export const SNAPSHOT_POSITION = 'snapshot';

/**
 * Canonical names for InitLive's `changedFields`, restricted to the org's mapping. InitLive
 * names top-level fields, so `address` stands for every address part; a nested path
 * (`address.city`) is accepted too in case a feed ever reports one. Fields outside the
 * mapping are dropped; `customAnswers` stands for every mapped form answer.
 */
export function canonicalChangedFields(
  changedFields: readonly string[],
  mapping: ResolvedMapping,
): MappedFieldName[] {
  const out: MappedFieldName[] = [];
  const add = (f: MappedFieldName): void => {
    if (!out.includes(f)) out.push(f);
  };
  for (const name of changedFields) {
    for (const m of mapping) {
      const path = initlivePathOf(m);
      if (path === name || path.startsWith(`${name}.`)) add(m.field);
    }
  }
  return out;
}

function valuesOf(staff: Staff | null, mapping: ResolvedMapping): FieldValues {
  if (staff === null) return {};
  const values: FieldValues = {};
  for (const [field, value] of Object.entries(fromInitLive(staff, mapping))) {
    if (value !== undefined) values[field] = value;
  }
  return values;
}

/**
 * One feed entry as a change record: the full record after the change in `values` (empty for
 * a delete), the feed's `seq` as the position and the staff version as the version.
 */
export function staffChangeFromFeed(
  orgId: string,
  entry: StaffChange,
  mapping: ResolvedMapping,
  observedAt: number,
): InitLiveStaffChange {
  return {
    orgId,
    initliveId: entry.staffId,
    salesforceId: null,
    operation: operations[entry.type],
    changedFields:
      entry.type === 'deleted' ? [] : canonicalChangedFields(entry.changedFields, mapping),
    values: valuesOf(entry.staff, mapping),
    sourceVersion: entry.version,
    sourcePosition: String(entry.seq),
    origin: entry.origin,
    observedAt,
    occurredAt: Date.parse(entry.occurredAt),
    runId: null,
  };
}

/**
 * A staff record as it is now, read outside the feed: a SNAPSHOT with the full values, no
 * changed fields, `SNAPSHOT_POSITION` and no origin (a read does not know who wrote last).
 */
export function staffSnapshot(
  orgId: string,
  staff: Staff,
  mapping: ResolvedMapping,
  observedAt: number,
  salesforceId: string | null = null,
  resync: string | null = null,
): InitLiveStaffChange {
  return {
    orgId,
    initliveId: staff.id,
    salesforceId,
    operation: 'SNAPSHOT',
    changedFields: [],
    values: valuesOf(staff, mapping),
    sourceVersion: staff.version,
    sourcePosition: SNAPSHOT_POSITION,
    origin: null,
    observedAt,
    occurredAt: Date.parse(staff.updatedAt),
    runId: null,
    resync,
  };
}
