import { causeOfWriteOutcome, sideOf } from './outcomes';
import { otherSide, sides, type PairState, type Side } from './pair-state';
import type { OutcomeItem } from './records';
import type { SyncDirection } from './reconcile';

/**
 * Each volunteer's sync status ("why did this one not sync?"), built from outcomes: what the
 * record-status store keeps per pair (or per record that never joined a pair), how one outcome
 * changes it, and how the admin API's answer is derived from it and the pair's state. Pure.
 *
 * History holds event kinds, sides, field names and run ids, never field values: addresses and
 * phone numbers do not belong in an audit store.
 */

export type HistoryEvent =
  'read' | 'decided' | 'written' | 'conflict' | 'echo_suppressed' | 'failed';

export interface HistoryEntry {
  at: number;
  event: HistoryEvent;
  side: Side;
  fields: string[];
  runId: string | null;
}

/** Entries kept per record, newest first. */
export const HISTORY_LIMIT = 20;

export interface LastError {
  code: string;
  message: string;
  at: number;
  deadLetterId: string | null;
  side: Side;
}

/** What the store keeps per pair: ids, how it was linked, and where its writes stand. */
export interface StatusFields {
  initliveId?: string;
  salesforceId?: string;
  linkedBy?: string;
  /** Last time a write landed or a decision found nothing to do. */
  lastSyncedAt?: number;
  lastError?: LastError;
  /** Per side written: the cause id of the latest decision that wrote there, and when. */
  awaiting?: Partial<Record<Side, { cause: string; at: number }>>;
  /** Per side: the cause id of the latest write outcome there (landed or refused). */
  landed?: Partial<Record<Side, string>>;
}

/** Where one outcome's status change goes: its pair, or the record itself when it has none. */
export type StatusKey = { pairId: string } | { side: Side; recordId: string };

export interface StatusChange {
  key: StatusKey;
  set: StatusFields;
  history: HistoryEntry[];
}

/** The record an outcome is about, for outcomes that belong to no pair. */
function recordKeyOf(item: OutcomeItem): StatusKey | null {
  if (item.pairId) return { pairId: item.pairId };
  const side = sideOf(item.side);
  // A decision is about the record read; a write about the record written.
  const id = side === 'initlive' ? item.initliveId : item.salesforceId;
  return id ? { side, recordId: id } : null;
}

/**
 * How one outcome changes its record's status and history. Null when it names no record (a
 * record too broken to decode). Unchanged decisions of a full sync leave no history: a quiet
 * run would otherwise push every record's real history out and cost a write per record.
 */
export function statusChangeOf(item: OutcomeItem): StatusChange | null {
  const key = recordKeyOf(item);
  if (!key) return null;
  const side = sideOf(item.side);
  const set: StatusFields = {};
  if (item.initliveId) set.initliveId = item.initliveId;
  if (item.salesforceId) set.salesforceId = item.salesforceId;
  if (item.linkedBy) set.linkedBy = item.linkedBy;
  const history: HistoryEntry[] = [];
  const entry = (event: HistoryEvent, s: Side, fields: string[], at = item.at): void => {
    history.push({ at, event, side: s, fields, runId: item.runId });
  };
  const failure = (s: Side): void => {
    set.lastError = {
      code: item.errorCode ?? 'UNKNOWN',
      message: item.message ?? 'failed',
      at: item.at,
      deadLetterId: item.deadLetterId,
      side: s,
    };
    entry('failed', s, item.fields);
  };
  if (item.stage === 'DECIDED') {
    const quiet = item.result === 'UNCHANGED' && item.runId !== null && item.conflicts.length === 0;
    // An echo of our own write is one event, not a read and a suppression; a full sync's read
    // is its decision (the run id says it was read by that run), which halves what a run stores.
    const echo = item.decision === 'echo';
    if (!quiet && !echo && item.runId === null && item.observedAt !== null) {
      entry('read', side, item.fields, item.observedAt);
    }
    if (item.result === 'FAILED') failure(otherSide(side));
    else if (echo) entry('echo_suppressed', side, item.fields);
    else if (!quiet) entry('decided', side, item.fields);
    if (item.conflicts.length > 0) entry('conflict', side, item.conflicts);
    if (item.result === 'UNCHANGED') set.lastSyncedAt = item.at;
    for (const target of item.writesTo) {
      set.awaiting ??= {};
      set.awaiting[sideOf(target)] = { cause: item.id, at: item.at };
    }
  } else {
    set.landed = { [side]: causeOfWriteOutcome(item.id) };
    if (item.result === 'FAILED') failure(side);
    else if (item.result !== 'SUPERSEDED') {
      set.lastSyncedAt = item.at;
      entry('written', side, item.fields);
    }
  }
  return { key, set, history };
}

/** Merges a change into stored fields (what both adapters do, field by field). */
export function mergeStatus(into: StatusFields, change: StatusFields): StatusFields {
  const out: StatusFields = { ...into, ...change };
  if (change.awaiting) out.awaiting = { ...into.awaiting, ...change.awaiting };
  if (change.landed) out.landed = { ...into.landed, ...change.landed };
  return out;
}

export type RecordState = 'in_sync' | 'pending' | 'failed' | 'not_linked';

/** The admin API's answer for one record (GET .../salesforce/records). */
export interface RecordView {
  pairId: string | null;
  initliveId: string | null;
  salesforceId: string | null;
  email: string | null;
  linkedBy: string | null;
  state: RecordState;
  /** Human text when not in_sync. */
  reason: string | null;
  lastSyncedAt: string | null;
  lastError: { code: string; message: string; at: string; deadLetterId: string | null } | null;
  history: Array<{
    at: string;
    event: HistoryEvent;
    side: Side;
    fields: string[];
    runId: string | null;
  }>;
}

export interface RecordViewInput {
  pairId: string | null;
  pair: PairState | null;
  status: StatusFields | null;
  history: HistoryEntry[];
  direction: SyncDirection;
  /** Why each side's writes are held in this process right now, when they are. */
  pausedFor?: Partial<Record<Side, string | null>>;
}

const sideName: Record<Side, string> = { initlive: 'InitLive', salesforce: 'Salesforce' };
const iso = (ms: number): string => new Date(ms).toISOString();

/** Sides with a decided write that has no outcome yet. */
export function awaitedSides(status: StatusFields | null): Side[] {
  return sides.filter((s) => {
    const awaited = status?.awaiting?.[s];
    return awaited !== undefined && status?.landed?.[s] !== awaited.cause;
  });
}

function directionReason(pair: PairState | null, direction: SyncDirection): string | null {
  if (!pair) return null;
  if (pair.initliveId && !pair.salesforceId && direction === 'salesforce_to_initlive') {
    return 'direction is salesforce_to_initlive: InitLive staff are not copied to Salesforce';
  }
  if (pair.salesforceId && !pair.initliveId && direction === 'initlive_to_salesforce') {
    return 'direction is initlive_to_salesforce: Salesforce Contacts are not copied to InitLive';
  }
  return null;
}

function notLinkedReason(input: RecordViewInput): string {
  const { pair, status } = input;
  const byDirection = directionReason(pair, input.direction);
  if (byDirection) return byDirection;
  if (status?.lastError) return status.lastError.message;
  if (pair?.status === 'deleted') return 'both records were deleted';
  for (const s of sides) {
    const id = s === 'initlive' ? pair?.initliveId : pair?.salesforceId;
    if (id && pair?.merge?.exists[s] === false) return `deleted in ${sideName[s]}`;
  }
  return 'not linked yet: no decision has written the other system';
}

/** The record's state and the reason behind it, from its pair and its status. */
export function recordView(input: RecordViewInput): RecordView {
  const { pair, status } = input;
  const initliveId = pair?.initliveId ?? status?.initliveId ?? null;
  const salesforceId = pair?.salesforceId ?? status?.salesforceId ?? null;
  const current = pair?.merge?.current;
  const emailOf = (v: Record<string, unknown> | null | undefined): string | null =>
    typeof v?.email === 'string' && v.email !== '' ? v.email : null;
  const linked = Boolean(pair && pair.initliveId && pair.salesforceId && pair.status !== 'deleted');
  const waiting = awaitedSides(status);
  const error = status?.lastError ?? null;
  const errorIsLatest = error !== null && error.at >= (status?.lastSyncedAt ?? 0);
  let state: RecordState;
  let reason: string | null = null;
  if (waiting.length > 0) {
    state = 'pending';
    reason = waiting
      .map((s) => {
        const paused = input.pausedFor?.[s];
        const since = status!.awaiting![s]!.at;
        return `a write to ${sideName[s]} decided at ${iso(since)} has not landed yet${paused ? ` (${sideName[s]} writes are paused: ${paused})` : ''}`;
      })
      .join('; ');
  } else if (errorIsLatest && !(error.code === 'AMBIGUOUS_MATCH' && !linked)) {
    state = 'failed';
    reason = error.message;
  } else if (linked) {
    state = 'in_sync';
  } else {
    state = 'not_linked';
    reason =
      errorIsLatest && error.code === 'AMBIGUOUS_MATCH'
        ? `ambiguous email: ${error.message}`
        : notLinkedReason(input);
  }
  return {
    pairId: input.pairId,
    initliveId,
    salesforceId,
    email: emailOf(current?.initlive) ?? emailOf(current?.salesforce),
    linkedBy: status?.linkedBy ?? null,
    state,
    reason,
    lastSyncedAt: status?.lastSyncedAt ? iso(status.lastSyncedAt) : null,
    lastError: error
      ? {
          code: error.code,
          message: error.message,
          at: iso(error.at),
          deadLetterId: error.deadLetterId,
        }
      : null,
    history: input.history.map((h) => ({ ...h, at: iso(h.at) })),
  };
}
