import type { ConsumedRecord, PartitionRead } from '../core/transport';
import { SyncError, toSyncError } from '../errors';
import type { Logger } from '../logger';
import { backoffDelayMs, sleep } from '../retry';
import type { RetryPolicy } from '../retry';
import { fromParked, toParked } from './parked-writes';
import type { ParkedWriteStore, PartitionOffsets, PartitionRanges } from './parked-writes';
import type { ParkMark, ParkMarks } from './park-marks';

const HELD = 'org-held';

/**
 * The error a sink fails an organization's writes with when that organization cannot take
 * them (its own fault: revoked grant, package, allocation, its InitLive answering 429/5xx):
 * WritePark parks them instead of letting the batch wait. Keeps the cause's code.
 */
export function heldError(cause: SyncError, reason: string): SyncError {
  return new SyncError(cause.code, cause.message, {
    cause,
    context: { reason: HELD, held: reason },
  });
}

export function isHeld(err: unknown): boolean {
  return err instanceof Error && (err as SyncError).context?.reason === HELD;
}

/** What a sink's writes carry that WritePark needs: the consumed record. */
export interface Parkable {
  record: ConsumedRecord;
}

export interface WriteParkDeps<E extends Parkable> {
  store: ParkedWriteStore;
  /** Names the sink in logs. */
  sink: string;
  logger: Logger;
  /** Why the org's writes are held right now, or null. */
  heldFor: (orgId: string) => string | null;
  /** Decodes a parked record (one that no longer decodes goes to dead letters: null). */
  decode: (record: ConsumedRecord) => Promise<E | null>;
  /** Writes envelopes as a backlog; rejects with a held error (isHeld) if the org is held again. */
  write: (orgId: string, envs: E[]) => Promise<void>;
  /** Records per drain step: enough for one Bulk job when the backlog is big. */
  drainStep: number;
  /**
   * A list shorter than `records` is written only once its head has waited `waitMs` since it
   * was put on its topic: a paced full sync parks a few dozen writes at a time, and writing each
   * few dozen as they come costs a call or more each where one call takes `records`. A list
   * whose head is older (a hold that ended) is written at once. Unset: at once always.
   */
  gather?: { records: number; waitMs: number };
  /** Wait after a drain step failed for another reason than a hold. */
  retryMs: number;
  /**
   * Set when nothing else says the hold ended (InitLive has no probe): the drain then runs
   * while the org is held, trying the head of the list again after each wait of this policy.
   * Without it the drain starts at `drain()` (the sink's resume) and stops at a hold.
   */
  probeBackoff?: RetryPolicy;
  /**
   * Where the marks of the parked writes (where they start in the sink's topic) are kept
   * outside the store: the state witness. With `reread`, a store that comes back empty loses
   * no parked write (`restore`). Without them, parked writes share the store's fate.
   */
  marks?: ParkMarks;
  /** Reads the sink's topic again (Transport.readFrom on it). */
  reread?: (
    from: ReadonlyMap<number, string>,
    keep: (record: ConsumedRecord) => boolean,
  ) => Promise<PartitionRead>;
}

/** The oldest write an organization has parked, as the pending-changes view reports it. */
export interface ParkedOldest {
  orgId: string;
  topic: string;
  /** When the write was put on its topic (epoch ms). */
  timestamp: number;
}

interface OrgPark {
  /** Parked records as the store last counted them. */
  count: number;
  /** The head of the list as last parked or peeked here; null until known. */
  oldest: { topic: string; timestamp: number } | null;
  /** Parks under way, and parks begun so far (a drain that found the list empty checks both). */
  parking: number;
  parks: number;
  draining: Promise<void> | null;
  /** Ends the drain's wait for company (`gather`) early: the list holds a lot now. */
  gathered: (() => void) | null;
}

/**
 * Keeps a held organization's writes out of the partitions it shares with other organizations.
 * While an org is held, or still has parked writes, each batch's records of that org are
 * appended to its list in the ParkedWriteStore (durably, before the batch commits) instead of
 * waiting in the sink; when the hold ends, the list is written from its head in steps of
 * `drainStep` as a backlog (so a big one goes by Bulk, as a consumer that is behind does), and
 * each step is dropped only once written. New writes of the org park behind the list until it
 * is empty, so each pair's writes keep their order.
 */
export class WritePark<E extends Parkable> {
  private readonly orgs = new Map<string, OrgPark>();
  /** Per org, the list's generation this process parked in or restored last. */
  private readonly generations = new Map<string, string>();
  /** Per org, the marks this process knows the witness holds (`<generation>/<partition>` -> offset). */
  private readonly marked = new Map<string, Map<string, string>>();
  /** Lost generations this process has read again already (a second trigger skips them). */
  private readonly restored = new Set<string>();
  /** Per org, a restore under way here: the org's writes park meanwhile. */
  private readonly restoring = new Map<string, Promise<void>>();
  private stopped = false;
  private abort = new AbortController();

  constructor(private readonly deps: WriteParkDeps<E>) {}

  /** Parked writes of the org known to this process. */
  countOf(orgId: string): number {
    return this.orgs.get(orgId)?.count ?? 0;
  }

  /**
   * Per organization with parked writes known here, the oldest: a parked write is a change
   * taken off its topic and not yet applied, so the oldest-unapplied-change gauge counts it.
   */
  oldest(): ParkedOldest[] {
    const out: ParkedOldest[] = [];
    for (const [orgId, state] of this.orgs) {
      if (state.oldest && state.count > 0) out.push({ orgId, ...state.oldest });
    }
    return out;
  }

  /**
   * Looks, before each batch is written, whether its orgs have writes parked by an earlier run
   * or another process; those are drained first, and the org's new writes park behind them.
   * Every batch, not once: a partition that moved here from a process that parked a pair's
   * older writes must not write that pair's newer ones past them. The list is durable before
   * the other process committed, so this look sees it.
   */
  async prepare(orgIds: readonly string[]): Promise<void> {
    const unknown = orgIds.filter((o) => !this.orgs.has(o));
    await Promise.all(
      unknown.map(async (orgId) => {
        const count = await this.deps.store.count(orgId);
        if (count === 0 || this.orgs.has(orgId)) return;
        // Its age shows while the org is still held and no drain peeks.
        const [head] = await this.deps.store.peek(orgId, 1);
        if (this.orgs.has(orgId)) return;
        const state = this.state(orgId);
        state.count = count;
        if (head) state.oldest = { topic: head.topic, timestamp: head.timestamp };
        this.drain(orgId);
      }),
    );
  }

  /**
   * At start: lists parked before this process ran are drained (and their age shown) without
   * waiting for the organization's next write. Best effort; each batch looks again anyway.
   */
  recover(orgIds: readonly string[]): void {
    this.prepare(orgIds).catch((err) => {
      const e = toSyncError(err);
      this.deps.logger.warn('parked writes not looked up at start', {
        sink: this.deps.sink,
        code: e.code,
        reason: e.message,
      });
    });
    // Parked writes a store lost while no process ran (or while one was restoring them).
    this.restoreAll().catch(() => undefined);
  }

  /** True when the org's writes must park: it is held, older writes of it are parked, or a restore of them is under way. */
  parks(orgId: string): boolean {
    return this.orgs.has(orgId) || this.restoring.has(orgId) || this.deps.heldFor(orgId) !== null;
  }

  /**
   * After the store lost its data (the state epoch says so, or a list came back with another
   * generation): for every organization whose marks the witness keeps for a generation the
   * store does not hold, reads the sink's topic again from them and restores the list
   * (`restore`). Resolves once done; a failure is logged and rejects.
   */
  async restoreAll(): Promise<void> {
    const { marks, sink, logger } = this.deps;
    if (!marks || !this.deps.reread) return;
    try {
      const kept = await marks.marksOf(sink);
      // One organization after the other: each reading joins a group of its own.
      for (const orgId of new Set(kept.map((m) => m.orgId))) {
        await this.restore(
          orgId,
          kept.filter((m) => m.orgId === orgId),
        );
      }
    } catch (err) {
      logger.error('parked writes not read again after the store lost them', {
        sink,
        err: toSyncError(err),
      });
      throw err;
    }
  }

  /**
   * Restores the org's parked writes the store lost: the witness's marks of generations other
   * than the store's name where its lost lists started in each partition; the topic is read
   * again from there to its end, and the org's records put ahead of its list in their order
   * (ParkedWriteStore.restore drops those parked since). Meanwhile the org's writes park here.
   * At-least-once: a record written before the loss may be written again, in order. Idempotent,
   * so each process that finds the loss may run it: the second finds the marks gone or reads
   * the same records. One per org at a time here. `kept`: the org's marks, if just read.
   */
  restore(orgId: string, kept?: readonly ParkMark[]): Promise<void> {
    let running = this.restoring.get(orgId);
    if (!running) {
      running = this.restoreOnce(orgId, kept).finally(() => this.restoring.delete(orgId));
      this.restoring.set(orgId, running);
    }
    return running;
  }

  private async restoreOnce(orgId: string, kept?: readonly ParkMark[]): Promise<void> {
    const { marks, reread, store, sink, logger } = this.deps;
    if (!marks || !reread) return;
    const current = (await store.marks(orgId)).generation;
    const stale = (kept ?? (await marks.marksOf(sink))).filter(
      (m) =>
        m.orgId === orgId &&
        m.generation !== current &&
        !this.restored.has(`${orgId}/${m.generation}`),
    );
    if (stale.length === 0) return;
    const from = new Map<number, string>();
    for (const m of stale) {
      const was = from.get(m.partition);
      if (was === undefined || BigInt(m.offset) < BigInt(was)) from.set(m.partition, m.offset);
    }
    const prefix = `${orgId}/`;
    const read = await reread(from, (r) => r.key.startsWith(prefix));
    const ranges: PartitionRanges = [];
    for (const [partition, end] of read.ends) {
      const start = from.get(partition);
      if (start !== undefined && BigInt(end) > BigInt(start)) {
        ranges.push([partition, start, String(BigInt(end) - 1n)]);
      }
    }
    const result = await store.restore(orgId, read.records.map(toParked), ranges);
    this.generations.set(orgId, result.generation);
    await this.record(orgId, result.generation, result.marks);
    for (const m of stale) this.restored.add(`${orgId}/${m.generation}`);
    // The lost generations' marks go only once the new ones are kept.
    const byGeneration = new Map<string, number[]>();
    for (const m of stale) {
      byGeneration.set(m.generation, [...(byGeneration.get(m.generation) ?? []), m.partition]);
    }
    for (const [generation, partitions] of byGeneration) {
      await marks.clear(sink, orgId, generation, partitions);
    }
    logger.warn('parked writes read again from the topic after the store lost them', {
      sink,
      orgId,
      partitions: from.size,
      records: read.records.length,
      waiting: result.count,
    });
    if (result.count === 0) return;
    const state = this.state(orgId);
    state.count = result.count;
    const head = read.records[0];
    if (head) state.oldest = { topic: head.topic, timestamp: head.timestamp };
    this.drain(orgId);
  }

  /**
   * Keeps the marks the witness does not hold yet (as far as this process knows). A restore in
   * another process may have lowered a mark in the store and written it to the witness just
   * before this write of the older value landed: the store is read again after the write, and
   * a mark that moved meanwhile is written again.
   */
  private async record(orgId: string, generation: string, marks: PartitionOffsets): Promise<void> {
    if (!this.deps.marks) return;
    const known = this.marked.get(orgId) ?? new Map<string, string>();
    this.marked.set(orgId, known);
    let fresh = marks.filter(([p, offset]) => known.get(`${generation}/${p}`) !== offset);
    while (fresh.length > 0) {
      await this.deps.marks.mark(this.deps.sink, orgId, generation, fresh);
      for (const [p, offset] of fresh) known.set(`${generation}/${p}`, offset);
      const now = await this.deps.store.marks(orgId);
      if (now.generation !== generation) return;
      const stored = new Map(now.marks);
      fresh = fresh
        .map(([p]): [number, string | undefined] => [p, stored.get(p)])
        .filter((m): m is [number, string] => m[1] !== undefined)
        .filter(([p, offset]) => known.get(`${generation}/${p}`) !== offset);
    }
  }

  /**
   * The list looked empty: forgets its marks, in the store and on the witness, unless a park
   * came since ('parked': its marks are kept again). 'lost' when the store answers with another
   * generation than this process parked in: it lost its data, and the parked writes are
   * restored from the topic instead of being taken for written.
   */
  private async settle(orgId: string): Promise<'empty' | 'parked' | 'lost'> {
    const { store, marks, sink } = this.deps;
    for (;;) {
      const now = await store.marks(orgId);
      const known = this.generations.get(orgId);
      if (known !== undefined && now.generation !== known) {
        this.lost(orgId);
        return 'lost';
      }
      if (now.marks.length === 0) return (await store.count(orgId)) === 0 ? 'empty' : 'parked';
      if (marks && now.generation !== null) {
        await marks.clear(
          sink,
          orgId,
          now.generation,
          now.marks.map(([p]) => p),
        );
        const memo = this.marked.get(orgId);
        for (const [p] of now.marks) memo?.delete(`${now.generation}/${p}`);
      }
      if (!(await store.settle(orgId, now.marks))) {
        // Parked since: the witness must hold those marks again (the clear may have come after).
        if (now.generation !== null) {
          await this.record(orgId, now.generation, (await store.marks(orgId)).marks);
        }
        return 'parked';
      }
      // Marks set since the read, of records written since: forgotten the same way.
    }
  }

  /** The store lost the org's list: read it again from the topic. */
  private lost(orgId: string): void {
    this.generations.delete(orgId);
    this.deps.logger.error(
      'parked writes gone from the store (it lost its data); reading them again from the topic',
      { sink: this.deps.sink, orgId },
    );
    this.restore(orgId).catch(() => undefined);
  }

  /**
   * Writes envelopes of one org now, or parks them if the org is or becomes held. `overflow`
   * names why they should leave their partitions although the org is not held (a full sync's
   * writes, a backlog over the org's share): they are parked and drained at once.
   */
  async submit(
    orgId: string,
    envs: E[],
    write: () => Promise<void>,
    overflow: string | null = null,
  ): Promise<void> {
    if (overflow !== null || this.parks(orgId)) return this.park(orgId, envs, overflow);
    try {
      await write();
    } catch (err) {
      if (!isHeld(err)) throw err;
      await this.park(orgId, envs);
    }
  }

  /** Appends envelopes' records to the org's list; resolves once they are durable. */
  async park(orgId: string, envs: readonly E[], overflow: string | null = null): Promise<void> {
    const state = this.state(orgId);
    state.parking++;
    state.parks++;
    // Appended behind what is parked already: the head changes only when the list was empty.
    const first = envs[0]?.record;
    if (!state.oldest && first) state.oldest = { topic: first.topic, timestamp: first.timestamp };
    try {
      const result = await this.deps.store.park(
        orgId,
        envs.map((e) => toParked(e.record)),
      );
      state.count = result.count;
      if (this.lotFilled(state)) state.gathered?.();
      // Kept outside the store before the batch commits.
      await this.record(orgId, result.generation, result.marks);
      const known = this.generations.get(orgId);
      this.generations.set(orgId, result.generation);
      if (known !== undefined && known !== result.generation) {
        this.deps.logger.error(
          'parked writes gone from the store (it lost its data); reading them again',
          {
            sink: this.deps.sink,
            orgId,
          },
        );
        this.restore(orgId).catch(() => undefined);
      }
    } finally {
      state.parking--;
    }
    const held = this.deps.heldFor(orgId);
    const fields = {
      sink: this.deps.sink,
      orgId,
      parked: envs.length,
      waiting: state.count,
      reason: held ?? overflow ?? 'behind parked writes',
    };
    // A full sync parks every batch: only holds are worth a line each.
    if (held === null) this.deps.logger.debug('writes parked', fields);
    else this.deps.logger.info('writes parked while the org is held', fields);
    // The hold may have ended while these were parked: nothing else would start the drain.
    if (this.deps.probeBackoff || this.deps.heldFor(orgId) === null) this.drain(orgId);
  }

  /** Writes the org's parked list once it is not held; one drain per org at a time. */
  drain(orgId: string): void {
    const state = this.orgs.get(orgId);
    if (!state || state.draining || this.stopped) return;
    state.draining = this.drainLoop(orgId, state).finally(() => {
      state.draining = null;
    });
  }

  /** Drains may start again (the sink started after a stop). */
  start(): void {
    this.stopped = false;
    this.abort = new AbortController();
  }

  /** No drain starts after this; resolves once those under way ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    const draining: Array<Promise<void>> = [];
    for (const s of this.orgs.values()) if (s.draining) draining.push(s.draining);
    await Promise.allSettled(draining);
  }

  private state(orgId: string): OrgPark {
    let state = this.orgs.get(orgId);
    if (!state) {
      state = { count: 0, oldest: null, parking: 0, parks: 0, draining: null, gathered: null };
      this.orgs.set(orgId, state);
    }
    return state;
  }

  /** How long a list of `count` whose head is from `headAt` should wait for company (`gather`). */
  private gatherFor(count: number, headAt: number): number {
    const gather = this.deps.gather;
    if (!gather || count >= gather.records) return 0;
    // Capped: a topic timestamp from a clock ahead of this one must not hold the list longer.
    return Math.min(gather.waitMs, headAt + gather.waitMs - Date.now());
  }

  /** Whether the org's list holds a `gather` lot. */
  private lotFilled(state: OrgPark): boolean {
    return this.deps.gather !== undefined && state.count >= this.deps.gather.records;
  }

  /** Waits `ms`, or less if a park fills the lot or the park stops. */
  private gatherWait(state: OrgPark, ms: number): Promise<void> {
    const signal = this.abort.signal;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        state.gathered = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
      state.gathered = done;
      // A park that landed since the peek may have filled the lot already.
      if (signal.aborted || this.lotFilled(state)) done();
    });
  }

  private async drainLoop(orgId: string, state: OrgPark): Promise<void> {
    const { store, logger, probeBackoff, sink } = this.deps;
    for (let heldTries = 0; !this.stopped;) {
      if (!probeBackoff && this.deps.heldFor(orgId) !== null) return;
      try {
        const parksBefore = state.parks;
        const parked = await store.peek(orgId, this.deps.drainStep);
        const head = parked[0];
        if (head) state.oldest = { topic: head.topic, timestamp: head.timestamp };
        if (parked.length === 0) {
          // A park that began after the peek lands behind it: look again rather than forget it.
          if (state.parking === 0 && state.parks === parksBefore) {
            const settled = await this.settle(orgId);
            if (settled === 'lost') {
              // This loop drains what the restore puts back.
              await this.restoring.get(orgId)?.catch(() => undefined);
              continue;
            }
            if (settled === 'parked' || state.parking > 0 || state.parks !== parksBefore) continue;
            this.orgs.delete(orgId);
            logger.info('parked writes all written', { sink, orgId });
            return;
          }
          await sleep(10);
          continue;
        }
        const gatherMs = this.gatherFor(parked.length, parked[0]!.timestamp);
        if (gatherMs > 0) {
          await this.gatherWait(state, gatherMs);
          continue;
        }
        const envs: E[] = [];
        for (const env of await Promise.all(parked.map((p) => this.deps.decode(fromParked(p))))) {
          if (env) envs.push(env);
        }
        await this.deps.write(orgId, envs);
        heldTries = 0;
        state.count = await store.drop(orgId, parked.length, parked[0]!);
        logger.info('parked writes written', {
          sink,
          orgId,
          written: parked.length,
          waiting: state.count,
        });
      } catch (err) {
        if (isHeld(err)) {
          // Held again: the next resume drains the rest, or the next probe tries again.
          if (!probeBackoff) return;
          await sleep(backoffDelayMs(probeBackoff, ++heldTries), this.abort.signal).catch(
            () => undefined,
          );
          continue;
        }
        const e = toSyncError(err);
        logger.warn('parked writes not written; trying again', {
          sink,
          orgId,
          code: e.code,
          reason: e.message,
        });
        if (this.stopped) return;
        await sleep(this.deps.retryMs, this.abort.signal).catch(() => undefined);
      }
    }
  }
}

/** Per organization, the writes a sink holds that it took straight from its partitions. */
export class InHand {
  private readonly counts = new Map<string, number>();

  of(orgId: string): number {
    return this.counts.get(orgId) ?? 0;
  }

  async around<T>(orgId: string, n: number, work: () => Promise<T>): Promise<T> {
    this.counts.set(orgId, this.of(orgId) + n);
    try {
      return await work();
    } finally {
      const left = this.of(orgId) - n;
      if (left > 0) this.counts.set(orgId, left);
      else this.counts.delete(orgId);
    }
  }
}

/** Default of the sinks' `orgShare`: one organization's writes a sink takes from its partitions at once. */
export const DEFAULT_ORG_SHARE = 2_000;

/**
 * Why an org's writes should leave the partitions it shares with other organizations although
 * it is not held (WritePark.submit's `overflow`): they are a full sync's, or with them more
 * than `share` of its writes would be in hand. Alone, an organization shares with nobody.
 */
export function overflowOf(w: {
  run: boolean;
  inHand: number;
  count: number;
  share: number;
  organizations: () => number;
}): string | null {
  if (!w.run && w.inHand + w.count <= w.share) return null;
  if (w.organizations() < 2) return null;
  return w.run ? 'full-sync' : 'over-share';
}
