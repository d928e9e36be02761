import { nextFireAt } from '../core/schedule';
import type { SyncSchedule } from '../core/schedule';
import { SyncError, toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { Clock } from './clock';
import { systemClock } from './clock';
import type { QueuedRun, RunQueue } from './run-queue';
import type { SyncTrigger } from './run-types';

/** What the Scheduler needs of the SyncRunner: start a run, and learn when it has ended here. */
export interface ScheduledRunner extends SyncTrigger {
  /** Resolves when this process's run of `orgId` (if any) has ended or stopped. */
  whenIdle(orgId: string): Promise<void>;
}

export interface SchedulerDeps {
  runner: ScheduledRunner;
  /**
   * Shared by every process. A fire claims its slot and queues its run here in one step, so
   * a slot is one run however many processes fire it (a run finishing early is not followed
   * by a second from a process whose timer fired a moment later), and a claimer's death
   * loses none.
   */
  queue: RunQueue;
  /** Scheduled runs this process runs at once. Default 2. */
  concurrency?: number;
  /** How often the queue is looked at for runs nobody here was woken for. Default 60 s. */
  pollMs?: number;
  logger: Logger;
  clock?: Clock;
}

/** Fire slots are remembered this long (longer than any clock skew between processes). */
const SLOT_CLAIM_MS = 10 * 60_000;

/**
 * A run taken from the queue stays claimed this long before another process may take it
 * again: far longer than asking the runner takes, so only a starter that died gives it up.
 */
const TAKE_CLAIM_MS = 2 * 60_000;

interface Entry {
  schedule: SyncSchedule;
  timer: unknown;
  nextAt: number | null;
}

export interface ScheduledFire {
  orgId: string;
  at: number;
  outcome: { queued: true } | { skipped: 'slot-taken' | 'already-queued' } | { error: string };
}

export interface ScheduledStart {
  orgId: string;
  dueAt: number;
  startedAt: number;
  outcome: { runId: string } | { conflict: string } | { error: string };
}

/**
 * Fires scheduled full syncs. Each org has at most one timer, armed for the next instant its
 * schedule fires (src/core/schedule.ts). A fire claims the slot and puts the org on the shared
 * RunQueue in one step (so every process running a Scheduler agrees the slot is one run); each
 * process takes from the queue, first due first, while fewer than `concurrency` of its
 * scheduled runs are going, and asks the SyncRunner to start it. A process reads the queue
 * only once its own fires due by now have landed: each process fires every org's slot, so by
 * then every run due is queued, and the first free slots go by the queue's order rather than
 * to whichever fires landed first. An org already queued is not queued twice;
 * one taken while a run is going is dropped with a log line (the running one covers it).
 * Settings changes call `set`; disconnect calls `remove`.
 */
export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private started = false;
  private readonly history: ScheduledFire[] = [];
  private readonly startHistory: ScheduledStart[] = [];
  /** Orgs whose scheduled run this process started and which have not ended. */
  private readonly running = new Set<string>();
  private readonly concurrency: number;
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  private pollTimer: unknown = null;
  /** Fires begun here whose slot has not been claimed (or found taken) yet. */
  private firing = 0;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly owner = `scheduler-${Math.random().toString(36).slice(2)}`,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger.child({ component: 'scheduler' });
    this.concurrency = deps.concurrency ?? 2;
    if (!Number.isSafeInteger(this.concurrency) || this.concurrency < 1) {
      throw new SyncError('INVALID_INPUT', 'scheduled run concurrency must be at least 1', {
        context: { concurrency: this.concurrency },
      });
    }
  }

  /** Arms every org's timer. Idempotent. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const orgId of this.entries.keys()) this.arm(orgId);
    this.armPoll();
    this.pump();
  }

  /**
   * Cancels every timer and waits for a queue read in flight; runs already started go on,
   * queued ones stay queued for the next process. Idempotent.
   */
  async stop(): Promise<void> {
    this.started = false;
    await this.pumping;
    if (this.pollTimer !== null) this.clock.cancelTimer(this.pollTimer);
    this.pollTimer = null;
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
    this.deps.queue.remove(orgId).catch((err: unknown) => {
      this.log.warn('could not drop a queued run', { orgId, reason: toSyncError(err).message });
    });
  }

  /** When the org's next scheduled run fires, or null (manual, or not started). */
  nextRunAt(orgId: string): number | null {
    return this.entries.get(orgId)?.nextAt ?? null;
  }

  /**
   * Where the org's scheduled run waits, or null when it is not queued: its 1-based place in
   * the shared queue (every process's runs counted) and the instant it was due.
   */
  async queued(orgId: string): Promise<{ position: number; dueAt: number } | null> {
    const list = await this.deps.queue.list();
    const i = list.findIndex((r) => r.orgId === orgId);
    return i < 0 ? null : { position: i + 1, dueAt: list[i]!.dueAt };
  }

  /** Recent fires, oldest first (for status and tests). */
  fires(): readonly ScheduledFire[] {
    return this.history;
  }

  /** Recent runs this process took from the queue, oldest first (for status and tests). */
  starts(): readonly ScheduledStart[] {
    return this.startHistory;
  }

  /** Scheduled runs this process has going. */
  runningCount(): number {
    return this.running.size;
  }

  private armPoll(): void {
    if (!this.started) return;
    this.pollTimer = this.clock.setTimer(() => {
      this.pollTimer = null;
      this.pump();
      this.armPoll();
    }, this.deps.pollMs ?? 60_000);
  }

  /**
   * Starts queued runs while this process has a free slot. One drain at a time; a call
   * meanwhile (a run ended, a fire) makes the drain look again before it stops.
   */
  private pump(): void {
    if (!this.started) return;
    // The last of them pumps when it lands.
    if (this.firesPending()) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    const drain = async (): Promise<void> => {
      try {
        do {
          this.pumpAgain = false;
          while (this.started && this.running.size < this.concurrency) {
            const next = await this.deps.queue.take(this.owner, TAKE_CLAIM_MS);
            if (!next) break;
            if (!this.started) {
              // Stopped while taking: back in its place for another process.
              await this.deps.queue.enqueue(next.orgId, next.dueAt);
              await this.deps.queue.settle(next.orgId, this.owner);
              break;
            }
            if (!(await this.startQueued(next))) break;
          }
        } while (this.pumpAgain && this.started);
      } catch (err) {
        this.log.warn('run queue not read; will look again', {
          reason: toSyncError(err).message,
        });
      }
    };
    // Cleared in a callback, never synchronously (a drain with nothing to do ends at once);
    // a call that came after the drain's last look starts another.
    this.pumping = drain().finally(() => {
      this.pumping = null;
      if (this.pumpAgain) this.pump();
    });
  }

  /** Whether a fire due by now has not landed: begun and unanswered, or its timer late. */
  private firesPending(): boolean {
    if (this.firing > 0) return true;
    const now = this.clock.now();
    for (const e of this.entries.values()) if (e.nextAt !== null && e.nextAt <= now) return true;
    return false;
  }

  /** Starts one taken run; false when the queue should be left alone until the next poll. */
  private async startQueued(next: QueuedRun): Promise<boolean> {
    const { orgId, dueAt } = next;
    this.running.add(orgId);
    let outcome: ScheduledStart['outcome'];
    let goOn = true;
    try {
      outcome = await this.deps.runner.requestRun(
        orgId,
        'scheduled',
        `schedule@${new Date(dueAt).toISOString()}`,
      );
    } catch (err) {
      const e = toSyncError(err);
      outcome = { error: `${e.code}: ${e.message}` };
      if (e.retriable) {
        // Back in its place (same due instant), tried again at the next poll.
        await this.deps.queue.enqueue(orgId, dueAt).catch(() => false);
        goOn = false;
      }
      this.log.warn('scheduled run could not start', {
        orgId,
        code: e.code,
        reason: e.message,
        retried: e.retriable,
      });
    }
    // Recorded (or dropped on purpose): nobody needs to take it again. A failed settle means
    // a second ask once the claim runs out: a conflict while this run goes, else a rerun.
    await this.deps.queue.settle(orgId, this.owner).catch(() => false);
    if ('runId' in outcome) {
      const done = (): void => {
        this.running.delete(orgId);
        this.pump();
      };
      this.deps.runner.whenIdle(orgId).then(done, done);
    } else {
      this.running.delete(orgId);
    }
    if ('conflict' in outcome) {
      this.log.info('scheduled run dropped: a run is already going', {
        orgId,
        runningRunId: outcome.conflict,
      });
    }
    this.startHistory.push({ orgId, dueAt, startedAt: this.clock.now(), outcome });
    if (this.startHistory.length > 500) this.startHistory.shift();
    return goOn;
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
    this.firing++;
    let outcome: ScheduledFire['outcome'];
    try {
      const queued = await this.deps.queue.queueFire(orgId, at, SLOT_CLAIM_MS);
      outcome = queued === 'queued' ? { queued: true } : { skipped: queued };
    } catch (err) {
      const e = toSyncError(err);
      outcome = { error: `${e.code}: ${e.message}` };
      this.log.warn('scheduled run could not be queued', {
        orgId,
        code: e.code,
        reason: e.message,
      });
    } finally {
      this.firing--;
    }
    if ('skipped' in outcome && outcome.skipped === 'already-queued') {
      this.log.info('scheduled run not queued again: it is waiting already', { orgId, at });
    }
    this.history.push({ orgId, at, outcome });
    if (this.history.length > 500) this.history.shift();
    // Every process fires every slot, so each looks at the queue then, claimer or not.
    this.pump();
  }
}
