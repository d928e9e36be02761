import { outstandingOf } from '../core/outcomes';
import type { Logger } from '../logger';
import type { OrgDirectory } from '../orgs/org-directory';
import { produce } from '../pipeline/deps';
import type { PipelineDeps, RoleRecord } from '../pipeline/deps';
import { sleep } from '../retry';
import type { RunStore } from './run-store';
import type { RunRecord } from './run-types';

export interface RunPacerOptions {
  /** The run's own records that may be undecided at once (FullSyncOptions.maxAhead). */
  maxAhead: number;
  /** Records per produce. */
  produceChunk: number;
  /** Records a second while other organizations share the deployment; 0 for no limit. */
  sharedRate: number;
  /** How often the run's tally is read while waiting. */
  pollMs: number;
  /** How long the count may stand still before the run goes on anyway. */
  patienceMs: number;
}

export type RunPacerDeps = Pick<PipelineDeps, 'transport' | 'codec' | 'topics'> & {
  runStore: Pick<RunStore, 'tally'>;
  orgs: Pick<OrgDirectory, 'list'>;
};

/** What the pacer reads and advances of a run's checkpoint. */
export interface Emitted {
  /** Snapshot and delete records the run produced so far. */
  emitted: number;
}

interface Pacing {
  /** Its writes stopped landing while it paced (a held sink): it paces on decisions only. */
  writesStalled: boolean;
  /** When its next chunk may go, under sharedRate (epoch ms). */
  nextAt: number;
}

/**
 * How fast a full sync puts its records on the change topics. Only the run's own work counts,
 * from its tally (shared by every process), so other organizations' changes on the same topics
 * neither hold it back nor wait behind more than `maxAhead` of its records. Beside other
 * organizations its unanswered writes count too, and an optional rate holds it further
 * (docs/scaling.md, "Fair sharing").
 */
export class RunPacer {
  /** Per run under way here. */
  private readonly runs = new Map<string, Pacing>();

  constructor(
    private readonly deps: RunPacerDeps,
    private readonly o: RunPacerOptions,
    private readonly log: Logger,
  ) {}

  /**
   * Puts records on a change topic in chunks of produceChunk, each once fewer than maxAhead of
   * the run's records are outstanding (see within), and counts them emitted. Beside other
   * organizations, at most `sharedRate` records a second (both sides together), in chunks of a
   * quarter second's worth so the others' changes do not queue behind a burst.
   */
  async emit<R extends 'staffChanges' | 'contactChanges'>(
    record: RunRecord,
    cp: Emitted,
    topic: R,
    messages: Array<{ key: string; value: RoleRecord<R> }>,
    signal?: AbortSignal,
  ): Promise<void> {
    const shared = this.deps.orgs.list().length > 1;
    const rate = shared ? this.o.sharedRate : 0;
    const size =
      rate > 0 ? Math.min(this.o.produceChunk, Math.ceil(rate / 4)) : this.o.produceChunk;
    const pacing = this.of(record.runId);
    for (let i = 0; i < messages.length; i += size) {
      const chunk = messages.slice(i, i + size);
      const max = Math.max(0, this.o.maxAhead - chunk.length);
      await this.within(record, cp, max, signal, shared);
      if (rate > 0) {
        // A timer may fire a millisecond early by Date.now(): wait until the turn has come.
        while (Date.now() < pacing.nextAt) await sleep(pacing.nextAt - Date.now(), signal);
        pacing.nextAt = Math.max(Date.now(), pacing.nextAt) + (chunk.length * 1000) / rate;
      }
      await produce(this.deps, topic, chunk);
      cp.emitted += chunk.length;
    }
  }

  /**
   * Waits until at most `max` of the records this run emitted are still undecided, and with
   * `writes` also counting the writes they caused that no sink has answered yet. Writes count
   * only when other organizations share the sinks: there they bound how much of the run's
   * writes, and of their echoes on the change topics, others wait behind; alone, the run's
   * writes gather into Bulk jobs instead. Bounded: when the count has not moved for
   * `patienceMs`, the run goes on, and stops counting writes if they were what did not move (a
   * held sink). False when it went on without getting there.
   */
  async within(
    record: RunRecord,
    cp: Emitted,
    max: number,
    signal?: AbortSignal,
    writes = false,
  ): Promise<boolean> {
    const pacing = this.of(record.runId);
    const countWrites = writes && !pacing.writesStalled;
    let last = -1;
    let movedAt = Date.now();
    for (;;) {
      const tally = await this.deps.runStore.tally(record.orgId, record.runId).catch(() => null);
      if (tally) {
        const o = outstandingOf(tally, cp.emitted);
        const ahead = o.decisions + (countWrites ? o.writes.initlive + o.writes.salesforce : 0);
        if (ahead <= max) return true;
        if (ahead !== last) [last, movedAt] = [ahead, Date.now()];
        if (Date.now() - movedAt > this.o.patienceMs) {
          if (countWrites && o.decisions <= max) pacing.writesStalled = true;
          this.log.warn("the run's records are still outstanding; the run goes on", {
            orgId: record.orgId,
            runId: record.runId,
            undecided: o.decisions,
            writes: countWrites ? o.writes.initlive + o.writes.salesforce : null,
            max,
          });
          return false;
        }
      } else if (Date.now() - movedAt > this.o.patienceMs) {
        return false;
      }
      await sleep(this.o.pollMs, signal);
    }
  }

  /** The run ended or was interrupted here: a resumed run starts its pacing afresh. */
  forget(runId: string): void {
    this.runs.delete(runId);
  }

  private of(runId: string): Pacing {
    let p = this.runs.get(runId);
    if (!p) this.runs.set(runId, (p = { writesStalled: false, nextAt: 0 }));
    return p;
  }
}
