import { randomUUID } from 'node:crypto';
import type { Subscription } from '../core/transport';
import { SyncError, toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { Clock } from './clock';
import { systemClock } from './clock';
import { FullSyncJob } from './full-sync-job';
import type { FullSyncDeps, FullSyncOptions } from './full-sync-job';
import type { Lock } from './lock';
import { syncLockName } from './lock';
import type { RunRecord, RunTrigger, SyncTrigger } from './run-types';
import { isFinished, queuedRun } from './run-types';
import { MAX_RECOVERY_RETRIES, failedForPassingReason, recoveryRetryDue } from './run-events';
import type { RecoveryRetry } from './run-events';

export interface SyncRunnerDeps extends FullSyncDeps {
  lock: Lock;
}

export interface SyncRunnerOptions {
  /** Lease of the per-org lock; a crashed holder blocks the org at most this long. Default 30 s. */
  leaseMs?: number;
  /** How often a running run renews its lease. Default leaseMs / 3. */
  renewEveryMs?: number;
  /** Wait before a recovery request that met a running run asks again. Default 60 s. */
  recoveryRetryMs?: number;
  /**
   * First wait before a recovery run that failed for a passing reason (a rate limit, the API
   * allocation, an outage, writes held) is asked again; it doubles each time, at most
   * MAX_RECOVERY_RETRIES times. Default 5 minutes.
   */
  failedRecoveryRetryMs?: number;
  /**
   * How often every organization's recent runs are looked at for a run to resume or a failed
   * recovery to try again that no event here points to (their process is gone for good).
   * Default failedRecoveryRetryMs; 0 turns the look off.
   */
  sweepMs?: number;
  /** Consume REQUESTED events from the sources (syncRuns topic). Default true. */
  consumeRequests?: boolean;
  job?: FullSyncOptions;
  clock?: Clock;
}

/** Runs read per organization when looking for one to resume or try again. */
const RECENT = Math.max(10, MAX_RECOVERY_RETRIES + 1);

interface Active {
  runId: string;
  abort: AbortController;
  done: Promise<RunRecord | null>;
}

/**
 * Starts full syncs: Sync now (manual), the Scheduler (scheduled) and the sources' recovery
 * requests (REQUESTED events on the syncRuns topic: an expired InitLive cursor, a lost replay
 * id, a CDC gap overflow).
 *
 * One run per org at a time across every connector process: a run starts only after taking
 * the org's lock (`sync:<orgId>`, owner = the run id), renews its lease while it runs, and
 * stops at once (leaving its checkpoint) when a renew fails. A process that crashed mid-run
 * leaves the run `running`; once its lease has expired, any process that looked at start (or
 * at the next request for that org) takes the lock under the same run id and resumes from the
 * checkpoint.
 *
 * A recovery run that failed for a passing reason is tried again later (recoveryRetryDue). The
 * try again is read from the shared run history, not held in the process that ran the run: the
 * process itself arms it when the run ends, a process that starts arms it from history, and
 * every process looks at every organization's history each `sweepMs` (for a run or a try again
 * whose process is gone for good), and at once when a process leaves the deployment (a
 * `members.left` event), so a dead process's run resumes once its lease runs out rather than at
 * the next sweep. Its run id comes from the failed run's, so however many processes arm it, it
 * is one run.
 */
export class SyncRunner implements SyncTrigger {
  private readonly active = new Map<string, Active>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly leaseMs: number;
  private readonly renewEveryMs: number;
  private subscription: Subscription | null = null;
  private readonly timers = new Set<unknown>();
  private readonly watching = new Set<string>();
  /** Per org, the try again armed here (one at a time). */
  private readonly retries = new Map<string, { runId: string; timer: unknown }>();
  private sweepTimer: unknown = null;
  /** The sweep going on, and whether another was asked for meanwhile. */
  private sweeping: Promise<void> | null = null;
  private sweepAgain = false;
  private stopped = false;

  constructor(
    private readonly deps: SyncRunnerDeps,
    private readonly options: SyncRunnerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = deps.logger.child({ component: 'sync-runner' });
    this.leaseMs = options.leaseMs ?? 30_000;
    this.renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(this.leaseMs / 3));
  }

  /**
   * Resumes interrupted runs of the orgs this process serves (whose lease has run out) and
   * starts consuming recovery requests. Idempotent.
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.deps.events.off('members.left', this.onMembersLeft);
    this.deps.events.on('members.left', this.onMembersLeft);
    for (const org of this.deps.orgs.list()) await this.lookAt(org.orgId);
    this.armSweep();
    if (this.options.consumeRequests === false || this.subscription) return;
    this.subscription = await this.deps.transport.subscribe({
      groupId: `${this.deps.groupPrefix}.sync-runner`,
      topics: [this.deps.topics.syncRuns],
      fromBeginning: false,
      handleBatch: async (batch) => {
        for (const r of batch.records) {
          const event = await this.deps.codec.decode('SyncRunEvent', r.value);
          if (event.kind !== 'REQUESTED' || event.trigger !== 'RECOVERY') continue;
          // A request names its gap's run: one that was recorded already (asked again after a
          // restart, or by another process) merges into it.
          if (await this.deps.runStore.get(event.orgId, event.runId)) continue;
          await this.recover(event.orgId, event.reason ?? 'recovery requested', event.runId);
        }
      },
      onError: (err) => {
        this.log.warn('sync request not handled; it will come again', {
          reason: toSyncError(err).message,
        });
      },
    });
    await this.subscription.ready();
  }

  /**
   * Stops consuming requests and interrupts running runs (they keep their checkpoint and
   * resume after a restart); resolves once they have stopped and released their locks.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.events.off('members.left', this.onMembersLeft);
    for (const t of this.timers) this.clock.cancelTimer(t);
    this.timers.clear();
    this.watching.clear();
    this.retries.clear();
    this.sweepTimer = null;
    const sub = this.subscription;
    this.subscription = null;
    await sub?.stop();
    const running = [...this.active.values()];
    for (const a of running) a.abort.abort(new SyncError('CONFLICT', 'sync runner stopping'));
    await Promise.all(running.map((a) => a.done));
  }

  /** The run in progress in this process for `orgId`, if any. */
  runningHere(orgId: string): string | null {
    return this.active.get(orgId)?.runId ?? null;
  }

  /** Resolves when this process's run of `orgId` (if any) has ended or stopped. */
  async whenIdle(orgId: string): Promise<void> {
    await this.active.get(orgId)?.done;
  }

  async requestRun(
    orgId: string,
    trigger: RunTrigger,
    reason?: string,
    options: { runId?: string } = {},
  ): Promise<{ runId: string } | { conflict: string }> {
    if (this.stopped) throw new SyncError('CONFLICT', 'sync runner is stopped');
    const org = this.deps.orgs.get(orgId);
    if (!org) throw new SyncError('NOT_FOUND', `organization ${orgId} is not connected here`);
    if (!org.salesforce) {
      throw new SyncError('CONFLICT', 'Salesforce is not connected for this organization', {
        context: { reason: 'disconnected' },
      });
    }
    await this.resumeInterrupted(orgId);
    const runId = options.runId ?? `run_${randomUUID()}`;
    // A recovery named by its gap that was started already (here or elsewhere) is that run.
    if (options.runId && (await this.deps.runStore.get(orgId, runId))) return { runId };
    const lockName = syncLockName(orgId);
    if (!(await this.acquire(orgId, lockName, runId))) {
      const holder = await this.deps.lock.holder(lockName);
      return { conflict: holder ?? 'unknown' };
    }
    const record = queuedRun(orgId, runId, trigger, reason ?? null);
    try {
      await this.deps.runStore.save(record);
    } catch (err) {
      await this.deps.lock.release(lockName, runId).catch(() => false);
      throw err;
    }
    this.launch(orgId, runId, record);
    return { runId };
  }

  /**
   * Takes the org's run lock. A run records its end just before its process lets the lock go:
   * asked in between (an admin pressing Sync now the moment the last run says it is done), the
   * request waits the moment out instead of being told a finished run is running.
   */
  private async acquire(orgId: string, lockName: string, runId: string): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (await this.deps.lock.tryAcquire(lockName, runId, this.leaseMs)) return true;
      if (attempt >= 40) return false;
      const holder = await this.deps.lock.holder(lockName);
      // Released meanwhile: take it now.
      if (holder === null) continue;
      const held = await this.deps.runStore.get(orgId, holder);
      if (!held || !isFinished(held.status)) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * A run left `running` or `queued` by a process that is gone: take its lock under its own
   * run id (possible only once the old lease ran out) and go on from its checkpoint. While the
   * lock is held (the run goes on elsewhere, or its dead holder's lease has not run out) look
   * again every renew period, so a restart within the lease does not leave the run unfinished.
   */
  private async resumeInterrupted(orgId: string, recent?: readonly RunRecord[]): Promise<void> {
    if (this.stopped || this.active.has(orgId)) return;
    for (const run of recent ?? (await this.deps.runStore.list(orgId, RECENT))) {
      if (isFinished(run.status)) continue;
      if (!(await this.deps.lock.tryAcquire(syncLockName(orgId), run.runId, this.leaseMs))) {
        this.watchInterrupted(orgId);
        return;
      }
      this.log.info('resuming an interrupted run', { orgId, runId: run.runId });
      this.launch(orgId, run.runId, run);
      return;
    }
  }

  private watchInterrupted(orgId: string): void {
    if (this.watching.has(orgId)) return;
    this.watching.add(orgId);
    const t = this.clock.setTimer(() => {
      this.timers.delete(t);
      this.watching.delete(orgId);
      if (this.stopped || !this.deps.orgs.get(orgId)) return;
      this.resumeInterrupted(orgId).catch((err: unknown) => {
        this.log.warn('could not look for an interrupted run', {
          orgId,
          reason: toSyncError(err).message,
        });
        this.watchInterrupted(orgId);
      });
    }, this.renewEveryMs);
    this.timers.add(t);
  }

  /**
   * Starts the recovery run `runId` (named by its gap), or asks again later when another run
   * holds the org: a run that started before the gap may have missed it.
   */
  private async recover(orgId: string, reason: string, runId: string, attempt = 1): Promise<void> {
    if (this.stopped || !this.deps.orgs.get(orgId)) return;
    try {
      const out = await this.requestRun(orgId, 'recovery', reason, { runId });
      if ('runId' in out) return;
      if (attempt >= 10) return;
      const t = this.clock.setTimer(() => {
        this.timers.delete(t);
        void this.recover(orgId, reason, runId, attempt + 1);
      }, this.options.recoveryRetryMs ?? 60_000);
      this.timers.add(t);
    } catch (err) {
      this.log.warn('recovery run could not start', { orgId, reason: toSyncError(err).message });
    }
  }

  private launch(orgId: string, runId: string, record: RunRecord): void {
    const abort = new AbortController();
    const lockName = syncLockName(orgId);
    const renew = async (): Promise<void> => {
      let kept = false;
      try {
        kept = await this.deps.lock.renew(lockName, runId, this.leaseMs);
      } catch (err) {
        this.log.warn('could not renew the run lease', {
          orgId,
          runId,
          reason: toSyncError(err).message,
        });
      }
      if (!kept && !abort.signal.aborted) {
        this.log.warn('lost the run lease; stopping the run', { orgId, runId });
        abort.abort(new SyncError('CONFLICT', 'run lease lost'));
      }
    };
    let renewTimer: unknown = null;
    const armRenew = (): void => {
      renewTimer = this.clock.setTimer(() => {
        void renew().then(() => {
          if (!abort.signal.aborted && this.active.get(orgId)?.runId === runId) armRenew();
        });
      }, this.renewEveryMs);
    };
    armRenew();
    const job = new FullSyncJob(this.deps, this.options.job);
    const done = job
      .run(orgId, runId, { trigger: record.trigger, reason: record.reason, signal: abort.signal })
      .catch((err: unknown) => {
        if (!abort.signal.aborted) {
          this.log.error('full sync crashed', { orgId, runId, reason: toSyncError(err).message });
        }
        return null;
      })
      .finally(async () => {
        if (renewTimer !== null) this.clock.cancelTimer(renewTimer);
        if (this.active.get(orgId)?.runId === runId) this.active.delete(orgId);
        await this.deps.lock.release(lockName, runId).catch(() => false);
      });
    this.active.set(orgId, { runId, abort, done });
    void done.then((ended) => this.afterRun(orgId, ended));
  }

  /** Resumes the org's interrupted run, or arms the try again its history asks for. */
  private async lookAt(orgId: string): Promise<void> {
    if (this.stopped || this.active.has(orgId)) return;
    const recent = await this.deps.runStore.list(orgId, RECENT);
    await this.resumeInterrupted(orgId, recent);
    if (!this.active.has(orgId)) this.armRetry(orgId, recent);
  }

  private armSweep(): void {
    const every = this.options.sweepMs ?? this.retryBaseMs();
    if (this.stopped || every <= 0 || this.sweepTimer !== null) return;
    const t = this.clock.setTimer(() => {
      this.timers.delete(t);
      this.sweepTimer = null;
      void this.sweepNow().finally(() => this.armSweep());
    }, every);
    this.sweepTimer = t;
    this.timers.add(t);
  }

  /** A process left: the runs it had are looked at now (each resumes once its lease runs out). */
  private readonly onMembersLeft = (): void => {
    if (this.stopped) return;
    this.log.info("a process left; looking at every organization's runs");
    void this.sweepNow();
  };

  /** Sweeps, or, when a sweep is going on, once more after it. */
  private sweepNow(): Promise<void> {
    if (this.sweeping) {
      this.sweepAgain = true;
      return this.sweeping;
    }
    this.sweeping = (async () => {
      do {
        this.sweepAgain = false;
        await this.sweep();
      } while (this.sweepAgain && !this.stopped);
    })().finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  /** One org after the other, so a thousand of them are a trickle of reads, not a burst. */
  private async sweep(): Promise<void> {
    for (const org of this.deps.orgs.list()) {
      if (this.stopped) return;
      if (this.retries.has(org.orgId) || this.watching.has(org.orgId)) continue;
      await this.lookAt(org.orgId).catch((err: unknown) => {
        this.log.warn('could not look at recent runs', {
          orgId: org.orgId,
          reason: toSyncError(err).message,
        });
      });
    }
  }

  private retryBaseMs(): number {
    return this.options.failedRecoveryRetryMs ?? 300_000;
  }

  /**
   * A recovery run repairs a gap nothing else will: one that failed for a passing reason is
   * tried again later, as a new run, so the gap does not wait for an admin.
   */
  private async afterRun(orgId: string, ended: RunRecord | null): Promise<void> {
    if (!ended || ended.trigger !== 'recovery' || ended.status !== 'failed' || this.stopped) return;
    if (!failedForPassingReason(ended.error)) return;
    try {
      const recent = await this.deps.runStore.list(orgId, RECENT);
      if (!this.armRetry(orgId, recent)) {
        this.log.warn('recovery run failed again; left failed', { orgId, runId: ended.runId });
      }
    } catch (err) {
      // The sweep finds it.
      this.log.warn('could not read recent runs', { orgId, reason: toSyncError(err).message });
    }
  }

  /** Arms the try again `recent` asks for (unless armed already); false when it asks none. */
  private armRetry(orgId: string, recent: readonly RunRecord[]): boolean {
    const due = recoveryRetryDue(recent, this.retryBaseMs());
    if (!due) return false;
    if (this.stopped || this.retries.get(orgId)?.runId === due.runId) return true;
    const old = this.retries.get(orgId);
    if (old) {
      this.clock.cancelTimer(old.timer);
      this.timers.delete(old.timer);
    }
    // endedAt, and so dueAt, is on the job's clock.
    const waitMs = Math.max(0, due.dueAt - this.deps.now());
    this.log.info('recovery run failed for a passing reason; it will be tried again', {
      orgId,
      runId: due.after,
      waitMs,
      attempt: due.attempt,
    });
    const t = this.clock.setTimer(() => {
      this.timers.delete(t);
      if (this.retries.get(orgId)?.timer === t) this.retries.delete(orgId);
      void this.tryAgain(orgId, due);
    }, waitMs);
    this.timers.add(t);
    this.retries.set(orgId, { runId: due.runId, timer: t });
    return true;
  }

  /** Starts the try again unless the history moved on meanwhile (a run since, here or elsewhere). */
  private async tryAgain(orgId: string, due: RecoveryRetry): Promise<void> {
    if (this.stopped) return;
    try {
      const recent = await this.deps.runStore.list(orgId, RECENT);
      if (recoveryRetryDue(recent, this.retryBaseMs())?.runId !== due.runId) return;
    } catch (err) {
      this.log.warn('could not read recent runs', { orgId, reason: toSyncError(err).message });
      return;
    }
    await this.recover(orgId, due.reason, due.runId);
  }
}
