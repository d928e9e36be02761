import { toSalesforce, type CanonicalValues } from '../core/mapping';
import type { PairState } from '../core/pair-state';
import type { ReconcileSettings, WriteIntent } from '../core/reconcile';
import type { InitLiveWrite, SalesforceWrite } from '../core/records';

/** Turns a decided write into the command the Salesforce sink executes. */
export function salesforceWriteOf(
  intent: WriteIntent,
  pair: PairState,
  settings: ReconcileSettings,
  causedBy: string,
  now: number,
  runId: string | null = null,
  causeId: string | null = null,
): SalesforceWrite {
  return {
    orgId: pair.orgId,
    pairId: pair.pairId,
    operation: intent.op === 'delete' ? 'DELETE' : 'UPSERT',
    externalId: pair.initliveId,
    salesforceId: intent.recordId ?? pair.salesforceId,
    fields: intent.op === 'delete' ? {} : toSalesforce(intent.values, settings.mapping),
    fingerprint: intent.fingerprint,
    causedBy,
    decidedAt: now,
    attempt: 1,
    runId,
    causeId,
  };
}

/** Turns a decided write into the command the InitLive sink executes (canonical fields). */
export function initliveWriteOf(
  intent: WriteIntent,
  pair: PairState,
  causedBy: string,
  now: number,
  runId: string | null = null,
  causeId: string | null = null,
): InitLiveWrite {
  const fields: CanonicalValues = { ...intent.values };
  // Never written to InitLive: its own id, and read-only check-in totals.
  delete fields.initliveId;
  delete fields.hoursWorked;
  return {
    orgId: pair.orgId,
    pairId: pair.pairId,
    operation: intent.op === 'create' ? 'CREATE' : intent.op === 'delete' ? 'DELETE' : 'UPDATE',
    initliveId: intent.recordId ?? pair.initliveId,
    salesforceId: pair.salesforceId,
    ifMatch: intent.ifMatch,
    fields,
    fingerprint: intent.fingerprint,
    causedBy,
    decidedAt: now,
    attempt: 1,
    runId,
    causeId,
  };
}
