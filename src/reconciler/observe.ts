import type { MappedFieldName } from '../core/mapping';
import type { ObservedChange } from '../core/reconcile';
import type { InitLiveStaffChange, SalesforceContactChange } from '../core/records';

/** Stream positions are decimal integers; snapshots carry a run marker instead, meaning "none". */
function streamPosition(sourcePosition: string): string | null {
  return /^\d+$/.test(sourcePosition) ? sourcePosition : null;
}

/** Does a CDC changeOrigin name our client? Observed values carry a trailing "/", so prefix-match. */
export function isOurSalesforceOrigin(origin: string | null, clientTag: string): boolean {
  if (!origin) return false;
  return origin
    .split(/[;,]/)
    .map((part) => part.trim())
    .some(
      (part) => part.startsWith('client=') && part.slice('client='.length).startsWith(clientTag),
    );
}

export function observeInitLive(record: InitLiveStaffChange, ourOrigin: string): ObservedChange {
  const partial =
    record.operation === 'UPDATE' ||
    record.operation === 'ARCHIVE' ||
    record.operation === 'RESTORE';
  return {
    side: 'initlive',
    recordId: record.initliveId,
    otherId: record.salesforceId,
    op: record.operation === 'DELETE' ? 'delete' : 'upsert',
    // The feed always carries the whole record; changedFields says which of it is new.
    full: true,
    values: { ...record.values, initliveId: record.initliveId },
    version: record.sourceVersion,
    position: streamPosition(record.sourcePosition),
    ours: record.origin !== null && record.origin === ourOrigin,
    runId: record.runId,
    ...observedWhen(record),
    ...(record.resync === 'write_rejected' ? { writeRejected: true } : {}),
    ...(partial ? { changed: record.changedFields as MappedFieldName[] } : {}),
  };
}

export function observeSalesforce(
  record: SalesforceContactChange,
  clientTag: string,
): ObservedChange {
  const op =
    record.operation === 'DELETE'
      ? 'delete'
      : record.operation === 'RESTORE'
        ? 'undelete'
        : 'upsert';
  return {
    side: 'salesforce',
    recordId: record.salesforceId,
    otherId: record.initliveId,
    op,
    // A CDC update carries only what changed; create, undelete and snapshots carry everything.
    full: record.operation !== 'UPDATE',
    values: { ...record.values },
    version: record.sourceVersion,
    position: streamPosition(record.sourcePosition),
    ours: isOurSalesforceOrigin(record.origin, clientTag),
    runId: record.runId,
    ...observedWhen(record),
  };
}

/** When the record was modified, and whether a full sync matched it by email. */
function observedWhen(
  record: InitLiveStaffChange | SalesforceContactChange,
): Pick<ObservedChange, 'modifiedAt' | 'matchedByEmail'> {
  return {
    ...(Number.isFinite(record.occurredAt) && record.occurredAt > 0
      ? { modifiedAt: record.occurredAt }
      : {}),
    ...(record.matchedBy === 'email' ? { matchedByEmail: true } : {}),
  };
}
