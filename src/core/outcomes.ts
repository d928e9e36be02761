import type { Side } from './pair-state';
import type { OutcomeItem, OutcomeSide } from './records';

/**
 * Outcomes: what became of every change the reconciler decided and every write a sink finished
 * (the SyncOutcome records of schemas/sync-outcome.avsc). Pure helpers shared by the components
 * that produce outcomes and by the stores that count them, so every process and both store
 * adapters agree on ids and arithmetic.
 *
 * Counting rule: each outcome names the outcomes it causes (`writesTo`, `decisions`), and each
 * component produces an outcome before the records it causes, all of one organization on one
 * partition. So a consumer reading in order always meets a cause before its effects, and a run
 * has landed exactly when it has every decision of the records it emitted and every outcome those
 * decisions (and their writes) caused.
 */

export function outcomeSide(side: Side): OutcomeSide {
  return side === 'initlive' ? 'INITLIVE' : 'SALESFORCE';
}

export function sideOf(side: OutcomeSide): Side {
  return side === 'INITLIVE' ? 'initlive' : 'salesforce';
}

const letter: Record<Side, string> = { initlive: 'i', salesforce: 's' };

/**
 * Id of a decision on a full-sync snapshot: the run reads each record once, so the record names
 * the decision, and a page produced again after a crash is counted once. A DELETE the run
 * produced for a record gone missing is a decision of its own.
 */
export function snapshotDecisionId(side: Side, recordId: string, gone = false): string {
  return `r:${letter[side]}:${recordId}${gone ? ':d' : ''}`;
}

/** Id of any other decision: its change record's place in the topic (a redelivery keeps it). */
export function positionDecisionId(topicLetter: string, partition: number, offset: string): string {
  return `k:${topicLetter}${partition}:${offset}`;
}

/** Id of a write's outcome: what caused it and the side written (one write per side per cause). */
export function writeOutcomeId(causeId: string, side: Side): string {
  return `${causeId}>${letter[side]}`;
}

/** The cause id a write outcome's id was derived from. */
export function causeOfWriteOutcome(id: string): string {
  const i = id.lastIndexOf('>');
  return i < 0 ? id : id.slice(0, i);
}

/** Counter names of a run's tally (short: they are stored per run, and sent per outcome). */
export const tallyFields = {
  decided: 'd',
  causedDecisions: 'cd',
  written: { initlive: 'w:i', salesforce: 'w:s' },
  causedWrites: { initlive: 'cw:i', salesforce: 'cw:s' },
  created: { initlive: 'cr:i', salesforce: 'cr:s' },
  updated: { initlive: 'up:i', salesforce: 'up:s' },
  deleted: { initlive: 'de:i', salesforce: 'de:s' },
  failed: { initlive: 'fa:i', salesforce: 'fa:s' },
  repaired: { initlive: 'rp:i', salesforce: 'rp:s' },
  unchanged: 'un',
  conflicts: 'cf',
} as const;

/** A run's counters, by tally field name; absent means 0. */
export type RunTally = Record<string, number>;

/**
 * What one outcome adds to its run's tally. Failures count on the side that did not get the
 * record: a write refused by Salesforce, or a decision whose write Salesforce would refuse,
 * counts under salesforce whichever system the record came from.
 */
export function tallyIncrements(item: OutcomeItem): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const side = sideOf(item.side);
  const f = tallyFields;
  if (item.stage === 'DECIDED') {
    out.push([f.decided, 1]);
    if (item.result === 'FAILED')
      out.push([f.failed[side === 'initlive' ? 'salesforce' : 'initlive'], 1]);
    else if (item.result === 'UNCHANGED') out.push([f.unchanged, 1]);
  } else {
    out.push([f.written[side], 1]);
    if (item.result === 'CREATED') out.push([f.created[side], 1]);
    else if (item.result === 'UPDATED') out.push([f.updated[side], 1]);
    else if (item.result === 'DELETED') out.push([f.deleted[side], 1]);
    else if (item.result === 'FAILED') out.push([f.failed[side], 1]);
  }
  if (item.conflicts.length > 0) out.push([f.conflicts, item.conflicts.length]);
  if (item.decisions > 0) out.push([f.causedDecisions, item.decisions]);
  for (const s of ['INITLIVE', 'SALESFORCE'] as const) {
    const n = item.writesTo.filter((w) => w === s).length;
    if (n === 0) continue;
    out.push([f.causedWrites[sideOf(s)], n]);
    // A full sync found the record drifted (same version, other values): its writes repair.
    if (item.decision === 'repaired') out.push([f.repaired[sideOf(s)], n]);
  }
  return out;
}

/** Adds increments to a tally in place (the in-memory store's arithmetic; Redis does HINCRBY). */
export function addToTally(tally: RunTally, increments: ReadonlyArray<[string, number]>): void {
  for (const [field, n] of increments) tally[field] = (tally[field] ?? 0) + n;
}

export interface PerSideCount {
  initlive: number;
  salesforce: number;
}

/** What a run is still waiting for, from its tally and the records it emitted. */
export interface Outstanding {
  /** Emitted records (and re-reads caused by stale writes) without a decision yet. */
  decisions: number;
  /** Decided writes without an outcome yet, per target system. */
  writes: PerSideCount;
}

export function outstandingOf(tally: RunTally, emitted: number): Outstanding {
  const n = (k: string): number => tally[k] ?? 0;
  const f = tallyFields;
  return {
    decisions: Math.max(0, emitted + n(f.causedDecisions) - n(f.decided)),
    writes: {
      initlive: Math.max(0, n(f.causedWrites.initlive) - n(f.written.initlive)),
      salesforce: Math.max(0, n(f.causedWrites.salesforce) - n(f.written.salesforce)),
    },
  };
}

export function isSettled(o: Outstanding): boolean {
  return o.decisions === 0 && o.writes.initlive === 0 && o.writes.salesforce === 0;
}

/** A run's counts, as the run record shows them, from its tally. */
export function countsOfTally(tally: RunTally): {
  created: PerSideCount;
  updated: PerSideCount;
  deleted: PerSideCount;
  failed: PerSideCount;
  repaired: PerSideCount;
  unchanged: number;
  conflicts: number;
} {
  const n = (k: string): number => tally[k] ?? 0;
  const f = tallyFields;
  const perSide = (k: { initlive: string; salesforce: string }): PerSideCount => ({
    initlive: n(k.initlive),
    salesforce: n(k.salesforce),
  });
  return {
    created: perSide(f.created),
    updated: perSide(f.updated),
    deleted: perSide(f.deleted),
    failed: perSide(f.failed),
    repaired: perSide(f.repaired),
    unchanged: n(f.unchanged),
    conflicts: n(f.conflicts),
  };
}
