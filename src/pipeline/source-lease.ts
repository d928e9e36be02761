import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Lock } from '../batch/lock';
import { sourceLockName } from '../batch/lock';
import { rendezvousAssign } from '../core/rendezvous';
import { SyncError, toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { OrgDirectory } from '../orgs/org-directory';
import type { SyncEvents } from './events';
import { SOURCE_MEMBERS_GROUP, type Membership } from './membership';

export const DEFAULT_SOURCE_LEASE_MS = 15_000;

/**
 * How many leases an organization taken for a member that left it free is kept before it is
 * offered back: long enough not to bounce it while that member cannot take it.
 */
const KEEP_LEASES = 20;

export interface SourceLeaseOptions {
  /** Shared by every process of the deployment (Redis), or by pipelines of one test (memory). */
  lock: Lock;
  /**
   * How long a holder keeps an organization without renewing; renewed (and, by the others,
   * acquisition retried) every third of it. Default 15 000.
   */
  leaseMs?: number;
  /**
   * The live processes, kept in the same store as the lock. With it, the organizations are
   * spread over the processes (see SourceLease); without it, every process tries every one
   * and the first to start reads them all.
   */
  membership?: Membership;
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
  /** Told `members.left` when a heartbeat no longer lists members the last one did. */
  events?: SyncEvents;
}

class OrgLease {
  held = false;
  standby = false;
  /** A standby saw the lease free at its last try (see `tick`). */
  sawFree = false;
  /** Another member should hold it, and this one has seen it free since then (its clock). */
  freeSince: number | null = null;
  /**
   * Taken because the member it was meant for did not take it: kept while that member is
   * still the one meant (it could not), until `keepUntil`, rather than handed straight back.
   */
  keptFrom: string | null = null;
  keepUntil = 0;
  /** Its sources failed to start here: leave it to the other members until then. */
  backoffUntil = 0;
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
 *
 * With a `membership`, the organizations are spread over the processes: each heartbeats
 * its membership (time to live: one lease) at every tick, and rendezvous hashing over the
 * live members and the streaming organizations (src/core/rendezvous.ts) names the one member
 * meant to read each. Every process computes the same answer, so nothing else is agreed on:
 * - a process tries only the leases meant for it;
 * - one that holds a lease meant for another (a process joined) hands it over: stops the
 *   readers, then releases, and the other takes it at its next tries;
 * - one whose members' heartbeats ran out (a crash) sees its organizations meant for the
 *   survivors, who take them once the dead holder's leases ran out;
 * - an organization left free for a whole lease although its member is alive (it cannot
 *   start it, or does not list it yet) may be taken by any member, as without membership.
 * The lock stays what keeps two processes from reading one organization; membership only
 * decides who tries, so a stale or split view of it costs a delay, never a double read.
 */
export class SourceLease {
  readonly owner: string;
  readonly leaseMs: number;
  private readonly everyMs: number;
  private readonly lock: Lock;
  private readonly beforeStart: () => Promise<unknown>;
  private readonly log: Logger;
  private readonly leases = new Map<string, OrgLease>();
  private readonly membership: Membership | null;
  /** The live members at the last answered heartbeat, and when it was sent (our clock). */
  private members: string[] | null = null;
  private membersAt = 0;
  private beat: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly deps: SourceLeaseDeps,
    options: SourceLeaseOptions,
    private readonly readers: LeasedReaders,
  ) {
    this.lock = options.lock;
    this.membership = options.membership ?? null;
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
    // answers later sees the pipeline stopping and releases what it got). Leaving first
    // makes the peers meant for our organizations stand by before we release them.
    const inFlight = [...this.leases.values()].map((l) => l.step).filter((s) => s !== null);
    await waitAtMost(Promise.all([...inFlight, this.leave()]), this.everyMs);
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
    // A refresh of one organization goes by the last heartbeat's view.
    if (!only) await this.heartbeat();
    const wanted = new Set(
      this.deps.orgs
        .list()
        .filter((o) => o.streaming)
        .map((o) => o.orgId),
    );
    const meant = this.meant([...wanted]);
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
      const meantFor = meant?.get(orgId) ?? this.owner;
      const step = this.step(orgId, own, wanted.has(orgId), meantFor).finally(() => {
        if (own.step === step) own.step = null;
      });
      own.step = step;
      steps.push(step);
    }
    await Promise.all(steps);
  }

  /**
   * One look at one organization. `meantFor`: the member rendezvous hashing names for it
   * (this process when there is no membership).
   */
  private async step(
    orgId: string,
    lease: OrgLease,
    wanted: boolean,
    meantFor: string,
  ): Promise<void> {
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
    const keeping = lease.keptFrom === meantFor && sentAt < lease.keepUntil;
    if (lease.held && meantFor !== this.owner && !keeping) {
      // Readers first, then the release (in `lose`), so the new holder never overlaps them.
      this.lose(orgId, lease, 'handed over to the process meant to read it', {
        release: true,
        level: 'info',
        to: meantFor,
      });
      lease.keptFrom = null;
      lease.standby = true;
      lease.sawFree = false;
      lease.freeSince = null;
      return;
    }
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
    if (sentAt < lease.backoffUntil) {
      lease.standby = true;
      return;
    }
    if (meantFor !== this.owner && !(await this.fallBack(orgId, lease, meantFor))) return;
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
    lease.freeSince = null;
    const fallback = meantFor !== this.owner;
    lease.keptFrom = fallback ? meantFor : null;
    lease.keepUntil = fallback ? performance.now() + KEEP_LEASES * this.leaseMs : 0;
    this.arm(orgId, lease, sentAt);
    this.log.info('source lease acquired; starting the organization sources', {
      orgId,
      leaseMs: this.leaseMs,
      ...(fallback ? { meantFor, why: 'left free for a whole lease' } : {}),
    });
    lease.readers = lease.readers.then(() => this.startReaders(orgId, lease));
  }

  /**
   * For an organization meant for another member: whether to try its lease now, which is only
   * once it has been free for a whole lease (its member is alive but does not take it).
   */
  private async fallBack(orgId: string, lease: OrgLease, meantFor: string): Promise<boolean> {
    const name = sourceLockName(orgId);
    let holder: string | null;
    try {
      holder = await this.lock.holder(name);
    } catch {
      lease.standby = false;
      lease.freeSince = null;
      return false;
    }
    if (holder === this.owner && !lease.held) {
      // Still ours: a handover's release waits for the readers to stop, or a failed renew
      // left it named. Once they have stopped, let it go now rather than when it runs out;
      // never before, or the next holder would overlap them.
      await lease.readers;
      if (lease.held) return false;
      await this.lock.release(name, this.owner).catch(() => false);
      lease.reclaim = false;
      holder = null;
    }
    if (!lease.standby) {
      this.log.info('organization meant for another process; standing by', { orgId, meantFor });
    }
    lease.standby = true;
    // Also what a standby checks before taking it, should it be meant for this one next.
    lease.sawFree = holder === null;
    if (holder !== null) {
      lease.freeSince = null;
      return false;
    }
    const now = performance.now();
    lease.freeSince ??= now;
    return now - lease.freeSince >= this.leaseMs;
  }

  /**
   * Heartbeats this process's membership and keeps the live members it answers. Waits at
   * most a sixth of the lease: a slow store must not hold up the renewals; the tick then goes
   * by the last view.
   */
  private async heartbeat(): Promise<void> {
    const membership = this.membership;
    if (!membership) return;
    if (!this.beat) {
      const sentAt = performance.now();
      this.beat = membership
        .heartbeat(SOURCE_MEMBERS_GROUP, this.owner, this.leaseMs)
        .then(
          (members) => {
            const before = this.members;
            this.members = members;
            this.membersAt = sentAt;
            const left = before?.filter((m) => m !== this.owner && !members.includes(m)) ?? [];
            if (left.length > 0) {
              this.log.info('processes left the deployment', { members: left });
              this.deps.events?.emit('members.left', { members: left });
            }
          },
          (err: unknown) => {
            const e = toSyncError(err);
            this.log.warn('membership heartbeat failed; going by the last view', {
              code: e.code,
              message: e.message,
            });
          },
        )
        .finally(() => {
          this.beat = null;
        });
    }
    await waitAtMost(this.beat, Math.floor(this.everyMs / 2));
  }

  /**
   * Which member each organization is meant for, or null for "try them all": without
   * membership, or when no heartbeat has been answered for a lease (this process may have
   * dropped out of the others' view; the lock alone decides then).
   */
  private meant(orgIds: string[]): Map<string, string> | null {
    if (!this.membership || this.members === null) return null;
    if (performance.now() - this.membersAt > this.leaseMs) return null;
    return rendezvousAssign(orgIds, [...this.members, this.owner]);
  }

  /** Leaves the membership (after a heartbeat in flight, which would add us back). */
  private async leave(): Promise<void> {
    const membership = this.membership;
    if (!membership) return;
    await this.beat;
    await membership.leave(SOURCE_MEMBERS_GROUP, this.owner).catch((err: unknown) => {
      // The heartbeat runs out by itself within a lease.
      this.log.warn('membership not left', { err: toSyncError(err) });
    });
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
      // With other members alive, step back for two leases: they take it once it has been
      // free for one, instead of this process grabbing it back at every try.
      if ((this.members?.length ?? 0) > 1) {
        lease.backoffUntil = performance.now() + 2 * this.leaseMs;
      }
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
    options: { release: boolean; level?: 'info' | 'warn'; to?: string },
  ): void {
    if (!lease.held) return;
    lease.held = false;
    if (lease.expiry) clearTimeout(lease.expiry);
    lease.expiry = null;
    if (options.release) lease.reclaim = false;
    this.log[options.level ?? 'warn']('source lease given up; stopping the organization sources', {
      orgId,
      reason,
      ...(options.to ? { to: options.to } : {}),
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
