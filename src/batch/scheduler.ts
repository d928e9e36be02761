import { nextFireAt } from '../core/schedule';
import type { SyncSchedule } from '../core/schedule';
import { toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Lock } from './lock';
import type { SyncTrigger } from './run-types';

export interface SchedulerDeps {
  runner: SyncTrigger;
  /**
   * Where processes agree that a fire slot was taken: the first process to claim
   * `schedule:<org>:<instant>` starts the run, so a run finishing early is not followed by a
   * second one from a process whose timer fired a moment later.
   */
  lock: Lock;
  logger: Logger;
  clock?: Clock;
}

/** Fire slots are remembered this long (longer than any clock skew between processes). */
const SLOT_CLAIM_MS = 10 * 60_000;

interface Entry {
  schedule: SyncSchedule;
  timer: unknown;
  nextAt: number | null;
}

export interface ScheduledFire {
  orgId: string;
  at: number;
  outcome: { runId: string } | { conflict: string } | { skipped: 'slot-taken' } | { error: string };
}

/**
 * Fires scheduled full syncs. Each org has at most one timer, armed for the next instant its
 * schedule fires (src/core/schedule.ts); a fire asks the SyncRunner for a run, whose lock
 * keeps one run per org across processes, after claiming the fire slot so that every process
 * running a Scheduler agrees the slot is one run. A conflict (a run already going) is logged
 * and the slot passes. Settings changes call `set`; disconnect calls `remove`.
 */
export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private started = false;
  private readonly history: ScheduledFire[] = [];

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly owner = `scheduler-${Math.random().toString(36).slice(2)}`,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger.child({ component: 'scheduler' });
  }

  /** Arms every org's timer. Idempotent. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const orgId of this.entries.keys()) this.arm(orgId);
  }

  /** Cancels every timer; runs already started go on. Idempotent. */
  async stop(): Promise<void> {
    this.started = false;
    for (const e of this.entries.values()) {
      if (e.timer !== null) this.clock.cancelTimer(e.timer);
      e.timer = null;
      e.nextAt = null;
    }
  }

  /**
   * Sets (or replaces) an org's schedule; takes effect at once. Throws INVALID_INPUT for a
   * schedule that cannot be computed (unknown zone, bad time).
   */
  set(orgId: string, schedule: SyncSchedule): void {
    nextFireAt(schedule, this.clock.now());
    const old = this.entries.get(orgId);
    if (old && old.timer !== null) this.clock.cancelTimer(old.timer);
    this.entries.set(orgId, { schedule, timer: null, nextAt: null });
    if (this.started) this.arm(orgId);
  }

  /** Forgets an org's schedule (disconnect). */
  remove(orgId: string): void {
    const e = this.entries.get(orgId);
    if (e && e.timer !== null) this.clock.cancelTimer(e.timer);
    this.entries.delete(orgId);
  }

  /** When the org's next scheduled run fires, or null (manual, or not started). */
  nextRunAt(orgId: string): number | null {
    return this.entries.get(orgId)?.nextAt ?? null;
  }

  /** Recent fires, oldest first (for status and tests). */
  fires(): readonly ScheduledFire[] {
    return this.history;
  }

  private arm(orgId: string, after = this.clock.now()): void {
    const e = this.entries.get(orgId);
    if (!e || !this.started) return;
    const at = nextFireAt(e.schedule, after);
    e.nextAt = at;
    e.timer = null;
    if (at === null) return;
    e.timer = this.clock.setTimer(() => {
      void this.fire(orgId, e, at);
    }, at - this.clock.now());
  }

  private async fire(orgId: string, entry: Entry, at: number): Promise<void> {
    if (this.entries.get(orgId) !== entry) return;
    // The next slot counts from the one that fired, not from "now": a late timer does not
    // shift the schedule, and a slot is never fired twice.
    this.arm(orgId, Math.max(at, this.clock.now()));
    let outcome: ScheduledFire['outcome'];
    try {
      const claimed = await this.deps.lock.tryAcquire(
        `schedule:${orgId}:${at}`,
        this.owner,
        SLOT_CLAIM_MS,
      );
      outcome = claimed
        ? await this.deps.runner.requestRun(
            orgId,
            'scheduled',
            `schedule@${new Date(at).toISOString()}`,
          )
        : { skipped: 'slot-taken' };
    } catch (err) {
      const e = toSyncError(err);
      outcome = { error: `${e.code}: ${e.message}` };
      this.log.warn('scheduled run could not start', { orgId, code: e.code, reason: e.message });
    }
    if ('conflict' in outcome) {
      this.log.info('scheduled run skipped: a run is already going', {
        orgId,
        runningRunId: outcome.conflict,
      });
    }
    this.history.push({ orgId, at, outcome });
    if (this.history.length > 500) this.history.shift();
  }
}
