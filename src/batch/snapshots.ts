import { fromInitLive, fromSalesforce } from '../core/mapping';
import type { ResolvedMapping } from '../core/mapping';
import type { PairState } from '../core/pair-state';
import type { FieldValues, InitLiveStaffChange, SalesforceContactChange } from '../core/records';
import type { Staff } from '../infra/initlive';
import type { ContactRow } from '../infra/salesforce/salesforce-api';

/**
 * The change records a full sync produces: a SNAPSHOT per record read, carrying the run id and
 * the record's real version, and a DELETE per linked record found gone. Pure.
 */

function valuesOf(canonical: Record<string, unknown>): FieldValues {
  const out: FieldValues = {};
  for (const [k, v] of Object.entries(canonical))
    if (v !== undefined) out[k] = v as FieldValues[string];
  return out;
}

/** Stamps Contact fields the mapping needs, plus what every snapshot carries. */
export function contactFieldsFor(mapping: ResolvedMapping): string[] {
  return [
    ...new Set([
      'Id',
      'LastModifiedDate',
      'InitLive_Staff_Id__c',
      ...mapping.map((m) => m.salesforceField),
    ]),
  ];
}

/** Where a run's records come from: the reconciler names their decisions by record, not offset. */
export function snapshotPosition(runId: string): string {
  return `snapshot:${runId}`;
}

/** One staff member as a SNAPSHOT change record of run `runId`. */
export function staffSnapshotOf(
  orgId: string,
  runId: string,
  staff: Staff,
  mapping: ResolvedMapping,
  now: number,
): InitLiveStaffChange {
  return {
    orgId,
    initliveId: staff.id,
    salesforceId: null,
    operation: 'SNAPSHOT',
    changedFields: [],
    values: valuesOf(fromInitLive(staff, mapping)),
    sourceVersion: staff.version,
    sourcePosition: snapshotPosition(runId),
    origin: null,
    observedAt: now,
    occurredAt: Date.parse(staff.updatedAt) || now,
    runId,
  };
}

/** One Contact row as a SNAPSHOT change record of run `runId`. */
export function contactSnapshotOf(
  orgId: string,
  runId: string,
  row: ContactRow,
  mapping: ResolvedMapping,
  now: number,
): SalesforceContactChange {
  const modified =
    typeof row.LastModifiedDate === 'string' ? Date.parse(row.LastModifiedDate) : Number.NaN;
  const ext = row.InitLive_Staff_Id__c;
  return {
    orgId,
    salesforceId: row.Id,
    initliveId: typeof ext === 'string' && ext !== '' ? ext : null,
    operation: 'SNAPSHOT',
    changedFields: [],
    values: valuesOf(fromSalesforce(row, mapping)),
    sourceVersion: Number.isFinite(modified) ? modified : 0,
    sourcePosition: snapshotPosition(runId),
    origin: null,
    commitUser: null,
    transactionKey: null,
    sequenceNumber: null,
    observedAt: now,
    occurredAt: Number.isFinite(modified) ? modified : now,
    runId,
  };
}

/** A linked staff member the run found gone: a DELETE one version past the last seen. */
export function staffGoneOf(runId: string, pair: PairState, now: number): InitLiveStaffChange {
  return {
    orgId: pair.orgId,
    initliveId: pair.initliveId!,
    salesforceId: pair.salesforceId,
    operation: 'DELETE',
    changedFields: [],
    values: {},
    sourceVersion: pair.seen.initlive + 1,
    sourcePosition: snapshotPosition(runId),
    origin: null,
    observedAt: now,
    occurredAt: now,
    runId,
  };
}

/** A linked Contact the run found gone: a DELETE at now (Salesforce versions are times). */
export function contactGoneOf(
  runId: string,
  pair: PairState,
  now: number,
): SalesforceContactChange {
  return {
    orgId: pair.orgId,
    salesforceId: pair.salesforceId!,
    initliveId: pair.initliveId,
    operation: 'DELETE',
    changedFields: [],
    values: {},
    sourceVersion: Math.max(now, pair.seen.salesforce + 1),
    sourcePosition: snapshotPosition(runId),
    origin: null,
    commitUser: null,
    transactionKey: null,
    sequenceNumber: null,
    observedAt: now,
    occurredAt: now,
    runId,
  };
}
