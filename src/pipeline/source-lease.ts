import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Lock } from '../batch/lock';
import { sourceLockName } from '../batch/lock';
import { SyncError, toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { OrgDirectory } from '../orgs/org-directory';

export const DEFAULT_SOURCE_LEASE_MS = 15_000;

export interface SourceLeaseOptions {
  /** Shared by every process of the deployment (Redis), or by pipelines of one test (memory). */
  lock: Lock;
  /**
   * How long a holder keeps an organization without renewing; renewed (and, by the others,
   * acquisition retried) every third of it. Default 15 000.
   */
  leaseMs?: number;
  /** This process's name in the lock. Default `<hostname>:<pid>:<random>`, unique per pipeline. */
  owner?: string;
  /**
   * Runs before an organization's readers start from the stored positions: a lease taken
   * because the store lost its data (the lock went with it) must not read from an emptied
   * store before the loss is found and the witnessed positions are back (StateEpoch).
   */
  beforeStart?: () => Promise<unknown>;
}

/**
 * `held`: this process runs the organization's sources. `standby`: another process holds the
 * lease, this one retries. `idle`: not tried yet, or the last try failed (lock unavailable).
 */
export type SourceLeaseState = 'held' | 'standby' | 'idle';

/** What the lease switches on and off: every source reader of one organization. */
export interface LeasedReaders {
  /** Starts the organization's readers; they resume from the stored positions. */
  start(orgId: string): Promise<void>;
  /** Stops them (an in-flight page or batch finishes and commits). Idempotent. */
  stop(orgId: string): Promise<void>;
}

export interface SourceLeaseDeps {
  orgs: OrgDirectory;
  logger: Logger;
}

class OrgLease {
  held = false;
  standby = false;
  /** A standby saw the lease free at its last try (see `tick`). */
  sawFree = false;
  /**
   * A renew failed with an error, or went unanswered past the lease: the lock may still name
   * us, in which case SET NX cannot succeed until it runs out. A renew reclaims it sooner.
   */
  reclaim = false;
  /** The lock call in flight, so a slow one is never overlapped by the next tick. */
  step: Promise<void> | null = null;
  /** Fires when no renew has been answered for two thirds of the lease. */
  expiry: NodeJS.Timeout | null = null;
  /** Starts and stops of the readers, in order, so a start never overtakes a stop. */
  readers: Promise<void> = Promise.resolve();
  /** The last release, which follows the readers' stop. */
  released: Promise<void> = Promise.resolve();
}

/**
 * One lease per organization (lock `source:<orgId>`) covering both of its sources: only the
 * process holding it polls the InitLive feed and keeps the CometD subscription, so N processes
 * cost InitLive and Salesforce no more than one. One lease rather than one per source because
 * the two are small and belong together (one org's connection, one status, one takeover); many
 * organizations still spread over the processes.
 *
 * Every `leaseMs / 3` a holder renews and the others try to acquire, so:
 * - a holder whose renew answers false (someone else holds it) or fails stops that org's
 *   readers at once, as it can no longer prove it is the owner;
 * - so does a holder that has had no renew answered for two thirds of the lease (counted from
 *   when the last successful one was sent, so never later than the lock's own clock): the
 *   last third is left for its readers to finish their page before anyone else can acquire;
 * - after a holder dies without releasing, another process takes over within about one lease;
 * - `stop()` stops the readers, then releases, and a peer takes over at its next try.
 *
 * The sources resume from their stored positions (compare-and-set), so a takeover loses
 * nothing; a page the old holder was still producing when it lost the lease can at worst be
 * read twice, which the reconciler's version order drops.
 */
export class SourceLease {
  readonly owner: string;
  readonly leaseMs: number;
  private readonly everyMs: number;
  private readonly lock: Lock;
  private readonly beforeStart: () => Promise<unknown>;
  private readonly log: Logger;
  private readonly leases = new Map<string, OrgLease>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly deps: SourceLeaseDeps,
    options: SourceLeaseOptions,
    private readonly readers: LeasedReaders,
  ) {
    this.lock = options.lock;
    this.beforeStart = options.beforeStart ?? (() => Promise.resolve());
    this.leaseMs = options.leaseMs ?? DEFAULT_SOURCE_LEASE_MS;
    if (!Number.isSafeInteger(this.leaseMs) || this.leaseMs < 3) {
      throw new SyncError('INVALID_INPUT', 'source leaseMs must be an integer of at least 3', {
        context: { leaseMs: this.leaseMs },
      });
    }
    this.everyMs = Math.floor(this.leaseMs / 3);
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.log = deps.logger.child({ component: 'source-lease', owner: this.owner });
  }

  /**
   * Tries every streaming organization once and resolves when the readers of those it got
   * have started; then keeps renewing and retrying in the background.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.tick();
    // Renewing starts before the readers are up: a CometD subscribe may take longer than
    // a third of the lease.
    if (this.running) this.timer = setInterval(() => void this.tick(), this.everyMs);
    await Promise.all([...this.leases.values()].map((l) => l.readers));
  }

  /** Stops the readers of every organization held, then releases their leases. Idempotent. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // A lock call in flight may still grant us a lease: wait for it, briefly (one that
    // answers later sees the pipeline stopping and releases what it got).
    const inFlight = [...this.leases.values()].map((l) => l.step).filter((s) => s !== null);
    await waitAtMost(Promise.all(inFlight), this.everyMs);
    for (const [orgId, lease] of this.leases) {
      this.lose(orgId, lease, 'the pipeline is stopping', { release: true, level: 'info' });
    }
    const all = [...this.leases.values()];
    await Promise.all(all.map((l) => l.readers));
    // A release is a courtesy that lets a peer take over sooner; an unanswered lock must not
    // hold up a shutdown (the lease runs out by itself).
    await waitAtMost(Promise.all(all.map((l) => l.released)), this.everyMs);
    for (const lease of all) if (lease.expiry) clearTimeout(lease.expiry);
    this.leases.clear();
  }

  /** Whether this process holds the organization's lease now (its sources may run). */
  holds(orgId: string): boolean {
    return this.leases.get(orgId)?.held ?? false;
  }

  state(orgId: string): SourceLeaseState {
    const lease = this.leases.get(orgId);
    if (lease?.held) return 'held';
    return lease?.standby ? 'standby' : 'idle';
  }

  /** Every organization this process holds or stands by for (metrics). */
  states(): Array<{ orgId: string; state: SourceLeaseState }> {
    return [...this.leases.keys()].map((orgId) => ({ orgId, state: this.state(orgId) }));
  }

  /**
   * Looks at one organization now instead of at the next tick: after a connect it is taken
   * sooner (resolving once its readers started), after a disconnect released sooner.
   */
  async refresh(orgId: string): Promise<void> {
    if (!this.running) return;
    await this.leases.get(orgId)?.step;
    await this.tick([orgId]);
    await this.leases.get(orgId)?.readers;
  }

  /** Renews, acquires or releases each organization whose lock call is not still in flight. */
  private async tick(only?: string[]): Promise<void> {
    if (!this.running) return;
    const wanted = new Set(
      this.deps.orgs
        .list()
        .filter((o) => o.streaming)
        .map((o) => o.orgId),
    );
    const orgIds = only ?? [...new Set([...wanted, ...this.leases.keys()])];
    const steps: Array<Promise<void>> = [];
    for (const orgId of orgIds) {
      let lease = this.leases.get(orgId);
      if (!lease) {
        if (!wanted.has(orgId)) continue;
        lease = new OrgLease();
        this.leases.set(orgId, lease);
      }
      if (lease.step) continue;
      const own = lease;
      const step = this.step(orgId, own, wanted.has(orgId)).finally(() => {
        if (own.step === step) own.step = null;
      });
      own.step = step;
      steps.push(step);
    }
    await Promise.all(steps);
  }

  private async step(orgId: string, lease: OrgLease, wanted: boolean): Promise<void> {
    const name = sourceLockName(orgId);
    if (!wanted) {
      // Streaming went off here (or the org went away): its readers end; let the lease go.
      if (lease.held) this.lose(orgId, lease, 'organization no longer streams', { release: true });
      await lease.readers;
      await lease.released;
      if (!lease.held && this.leases.get(orgId) === lease) {
        if (lease.expiry) clearTimeout(lease.expiry);
        this.leases.delete(orgId);
      }
      return;
    }
    const sentAt = performance.now();
    if (lease.held) {
      let renewed = false;
      let failure: string | null = null;
      try {
        renewed = await this.lock.renew(name, this.owner, this.leaseMs);
        // Nobody holds it (the store lost its data, or our lease ran out unclaimed): nobody
        // took the sources from us, so take the lease back and keep their positions in hand.
        if (!renewed) renewed = await this.lock.tryAcquire(name, this.owner, this.leaseMs);
      } catch (err) {
        failure = toSyncError(err).message;
      }
      // The lease ran out by our clock while we waited: the readers are already stopping.
      if (!lease.held) return;
      if (renewed) {
        this.arm(orgId, lease, sentAt);
        return;
      }
      lease.reclaim = failure !== null;
      this.lose(
        orgId,
        lease,
        failure === null ? 'another process holds the lease now' : `renew failed: ${failure}`,
        { release: false },
      );
      return;
    }
    // A standby takes the lease only once it has seen it free at two tries in a row: a holder
    // whose lease vanished with the store's data (StateEpoch) takes it back at its next renew
    // first, and its sources go on from the positions they hold instead of restarting here
    // from a store that lost them. A dead holder's organizations move one try later.
    if (lease.standby && !lease.sawFree) {
      const holder = await this.lock.holder(name).catch(() => 'unknown');
      lease.sawFree = holder === null;
      return;
    }
    lease.sawFree = false;
    let acquired: boolean;
    try {
      acquired = await this.lock.tryAcquire(name, this.owner, this.leaseMs);
      if (!acquired && lease.reclaim) {
        acquired = await this.lock.renew(name, this.owner, this.leaseMs);
      }
      lease.reclaim = false;
    } catch (err) {
      const e = toSyncError(err);
      this.log.warn('source lease not acquired: the lock did not answer; retrying', {
        orgId,
        code: e.code,
        message: e.message,
      });
      lease.standby = false;
      return;
    }
    if (!acquired) {
      if (!lease.standby) {
        const holder = await this.lock.holder(name).catch(() => null);
        this.log.info('another process reads this organization; standing by', { orgId, holder });
      }
      lease.standby = true;
      return;
    }
    if (!this.running) {
      // Stopped while the acquire was in flight: hand it straight back.
      await this.lock.release(name, this.owner).catch(() => false);
      return;
    }
    lease.held = true;
    lease.standby = false;
    this.arm(orgId, lease, sentAt);
    this.log.info('source lease acquired; starting the organization sources', {
      orgId,
      leaseMs: this.leaseMs,
    });
    lease.readers = lease.readers.then(() => this.startReaders(orgId, lease));
  }

  private async startReaders(orgId: string, lease: OrgLease): Promise<void> {
    if (!lease.held) return;
    try {
      await this.beforeStart();
      if (!lease.held) return;
      await this.readers.start(orgId);
    } catch (err) {
      const e = toSyncError(err);
      this.log.error('organization sources did not start; releasing the lease', {
        orgId,
        code: e.code,
        message: e.message,
      });
      this.lose(orgId, lease, 'sources did not start', { release: true });
    }
  }

  /**
   * (Re)sets the local deadline: two thirds of the lease after the request that granted or
   * renewed it was sent, i.e. the next renew has a third of the lease to be answered.
   */
  private arm(orgId: string, lease: OrgLease, sentAt: number): void {
    if (lease.expiry) clearTimeout(lease.expiry);
    const deadline = sentAt + this.leaseMs - this.everyMs;
    lease.expiry = setTimeout(
      () => {
        lease.expiry = null;
        lease.reclaim = true;
        this.lose(orgId, lease, 'no renew answered for two thirds of the lease', {
          release: false,
        });
      },
      Math.max(0, deadline - performance.now()),
    );
  }

  /**
   * Marks the lease lost and stops the readers at once (not after a start still in progress:
   * a stop interrupts it); with `release`, frees the lock once they have stopped.
   */
  private lose(
    orgId: string,
    lease: OrgLease,
    reason: string,
    options: { release: boolean; level?: 'info' | 'warn' },
  ): void {
    if (!lease.held) return;
    lease.held = false;
    if (lease.expiry) clearTimeout(lease.expiry);
    lease.expiry = null;
    if (options.release) lease.reclaim = false;
    this.log[options.level ?? 'warn']('source lease given up; stopping the organization sources', {
      orgId,
      reason,
    });
    const stopped = this.readers.stop(orgId).catch((err: unknown) => {
      this.log.error('organization sources did not stop cleanly', {
        orgId,
        err: toSyncError(err),
      });
    });
    lease.readers = Promise.all([lease.readers, stopped]).then(() => undefined);
    if (!options.release) return;
    // Released only once the readers have stopped, so a successor never overlaps them.
    lease.released = lease.readers.then(async () => {
      if (lease.held) return;
      await this.lock.release(sourceLockName(orgId), this.owner).catch((err: unknown) => {
        // Nothing lost: the lease runs out by itself and a peer takes over then.
        this.log.warn('source lease not released', { orgId, err: toSyncError(err) });
      });
    });
  }
}

async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
