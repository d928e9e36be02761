import type { Side } from '../core/pair-state';
import type { TopicNames } from '../core/topics';
import type { SyncEventMap, SyncEvents } from '../pipeline/events';
import type { RunCounts } from './run-types';

type OutcomeEvent = SyncEventMap['reconcile.outcome'][0];
type DeadLetterEvent = SyncEventMap['dead-letter'][0];

/**
 * Counts what the reconciler did with one run's snapshot records, from the events it emits in
 * this process ('reconcile.outcome' carries the run id, which sides got writes and of which
 * kind). Records the reconciler dead-lettered before deciding (an ambiguous email, say) only
 * show as 'dead-letter' events without a run id; those on the change topics of the run's org
 * are counted while the run is active, so a streaming record failing at the same moment
 * would be counted too. A reconciler in another process is not seen here at all: its
 * decisions land, but this run's counts miss them (the run still ends, on consumer lag).
 */
export class RunAccounting {
  /** Snapshot records the reconciler has finished with (decided or dead-lettered). */
  processed = 0;
  private rejectedAwaitingLetter = 0;
  private attached = false;

  constructor(
    private readonly events: SyncEvents,
    private readonly topics: TopicNames,
    private readonly orgId: string,
    private readonly runId: string,
    readonly counts: RunCounts,
  ) {}

  attach(): void {
    if (this.attached) return;
    this.attached = true;
    this.events.on('reconcile.outcome', this.onOutcome);
    this.events.on('dead-letter', this.onDeadLetter);
  }

  detach(): void {
    this.attached = false;
    this.events.off('reconcile.outcome', this.onOutcome);
    this.events.off('dead-letter', this.onDeadLetter);
  }

  private readonly onOutcome = (e: OutcomeEvent): void => {
    if (e.runId !== this.runId || e.orgId !== this.orgId) return;
    this.processed++;
    const c = this.counts;
    c.conflicts += e.conflicts ?? 0;
    if (e.outcome === 'rejected') {
      c.failed[e.side]++;
      this.rejectedAwaitingLetter++;
      return;
    }
    if (e.writes.length === 0) {
      c.unchanged++;
      return;
    }
    e.writes.forEach((side, i) => {
      if (e.ops?.[i] === 'create') c.created[side]++;
      else c.updated[side]++;
    });
  };

  private readonly onDeadLetter = (e: DeadLetterEvent): void => {
    if (e.orgId !== this.orgId) return;
    const side: Side | null =
      e.topic === this.topics.staffChanges
        ? 'initlive'
        : e.topic === this.topics.contactChanges
          ? 'salesforce'
          : null;
    if (!side) return;
    if (e.code === 'SALESFORCE_REJECTED' && this.rejectedAwaitingLetter > 0) {
      // The letter of a refusal already counted from its outcome.
      this.rejectedAwaitingLetter--;
      return;
    }
    this.processed++;
    this.counts.failed[side]++;
  };
}
