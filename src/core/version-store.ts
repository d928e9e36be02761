import { SyncError } from '../errors';
import type { RetryPolicy } from '../retry';
import { retry } from '../retry';
import type { PairState, Side } from './pair-state';

/**
 * The port the reconciler keeps its per-pair version vectors behind. Every write is one atomic
 * compare-and-apply against a revision number, so two reconciler processes deciding on the
 * same pair can never both win: the loser re-reads and decides again (see `updatePair`).
 *
 * Adapters: RedisVersionStore (src/infra/redis) and MemoryVersionStore (src/infra/memory),
 * held to one conformance suite (test/conformance/version-store.conformance.ts).
 */

/** A stored state and its revision: 1 after the create, +1 per applied change. */
export interface StoredPair {
  rev: number;
  state: PairState;
}

/** Which record id is already held by another pair. */
export interface LinkOwner {
  side: Side;
  recordId: string;
  ownerPairId: string;
}

export type ApplyResult =
  | { applied: true; rev: number }
  /** The stored revision was not the expected one; `current` is what is stored now. */
  | { applied: false; reason: 'rev-mismatch'; current: StoredPair | null }
  /** A record id of `next` is linked to another pair; links are never taken over silently. */
  | { applied: false; reason: 'link-owned'; current: StoredPair | null; link: LinkOwner };

export interface PairIdPage {
  pairIds: string[];
  /** Pass back to get the next page; null when there are no more. */
  cursor: string | null;
}

/** The record ids a pair holds on each side. */
export interface PairLinks {
  initliveId: string | null;
  salesforceId: string | null;
  /** The state's `seen` versions; null when the backend cannot tell without the state. */
  seen: Record<Side, number> | null;
}

/** What `link` did. */
export type LinkResult =
  | { outcome: 'linked'; rev: number }
  /** No such pair. */
  | { outcome: 'absent' }
  /** The pair holds a record id on that side already (left as it is). */
  | { outcome: 'held'; rev: number }
  /** Another pair holds that record id; links are never taken over silently. */
  | { outcome: 'link-owned'; ownerPairId: string };

export interface VersionStore {
  /** The pair as stored now, or null when it does not exist. */
  get(orgId: string, pairId: string): Promise<StoredPair | null>;
  /** One entry per requested id, in the same order, null for ids that do not exist. Not a snapshot across pairs. */
  getMany(orgId: string, pairIds: readonly string[]): Promise<Array<StoredPair | null>>;
  /**
   * The record ids each pair holds, without its state: one entry per requested id, in the same
   * order, null for ids that do not exist. Much cheaper than getMany when only ids matter (a
   * full sync looking for records gone missing walks every pair).
   */
  getLinks(orgId: string, pairIds: readonly string[]): Promise<Array<PairLinks | null>>;
  /** The pair that holds `recordId` on `side`, or null. */
  findPairId(orgId: string, side: Side, recordId: string): Promise<string | null>;
  /**
   * Atomically: when the stored revision equals `expectedRev` (0: the pair must not exist),
   * stores `next` under revision expectedRev + 1 and points the link index (side, record id ->
   * pair id) at next.initliveId / next.salesforceId, dropping links of ids the pair no longer
   * holds. Nothing is written when the revision differs or when one of next's record ids is
   * linked to another pair; the result then says why and carries the current stored pair.
   * Throws INVALID_INPUT for a malformed state and STORE_UNAVAILABLE (retriable) when the
   * backend cannot be reached.
   */
  compareAndApply(next: PairState, expectedRev: number): Promise<ApplyResult>;
  /**
   * Atomically records that the pair's record on `side` is `recordId` (a sink learned it from a
   * create): when the pair exists and holds no id on that side, sets it, marks that record as
   * existing (when the state has merge memory), makes an unlinked pair that now holds both ids
   * linked, points the link index at the pair and bumps the revision. The rest of the state is
   * neither read nor written, which is what makes this cheap: a full sync links tens of
   * thousands of created records. Throws STORE_UNAVAILABLE (retriable) when the backend cannot
   * be reached.
   */
  link(orgId: string, pairId: string, side: Side, recordId: string): Promise<LinkResult>;
  /**
   * Atomically removes the pair and its links when its revision equals `expectedRev`.
   * Returns false (and changes nothing) when the pair is absent or at another revision.
   * A pair created again later starts over at revision 1.
   */
  delete(orgId: string, pairId: string, expectedRev: number): Promise<boolean>;
  /**
   * Pages through an org's pair ids in a stable order (byte order of the id). Pairs created
   * or deleted during the walk may or may not appear; every pair present for the whole walk
   * appears exactly once.
   */
  listPairIds(orgId: string, cursor?: string | null, count?: number): Promise<PairIdPage>;
  /** Releases what the store owns; later calls reject. */
  close(): Promise<void>;
}

export const defaultPageCount = 500;

// How a state is stored (both adapters use it, so they round-trip states identically).
export { decodePairState, encodePairState, existsFlags } from './pair-state-codec';
export type { EncodedPair } from './pair-state-codec';

/**
 * What `link` does to a state, on the state itself: the adapters' fallback for pairs stored
 * before the link fields were kept beside the state, and the reference their own versions are
 * tested against. Null when nothing changes (the state holds an id on that side already).
 */
export function linkedState(state: PairState, side: Side, recordId: string): PairState | null {
  const field = side === 'initlive' ? 'initliveId' : 'salesforceId';
  if (state[field] !== null) return null;
  const next: PairState = { ...state, [field]: recordId };
  if (state.merge) {
    next.merge = { ...state.merge, exists: { ...state.merge.exists, [side]: true } };
  }
  if (next.initliveId && next.salesforceId && next.status === 'unlinked') next.status = 'linked';
  return next;
}

/**
 * Checks the parts of a store key. Org ids are wrapped in a `{...}` hash tag by the Redis
 * adapter (all of an org's keys share a slot), so they may not contain braces; every adapter
 * applies the same rule so the two behave alike.
 */
export function assertKeyParts(parts: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(parts)) {
    const bad =
      typeof value !== 'string' || value === '' || (name === 'orgId' && /[{}]/.test(value));
    if (bad) {
      const rule = name === 'orgId' ? ' without "{" or "}"' : '';
      throw new SyncError('INVALID_INPUT', `${name} must be a non-empty string${rule}`, {
        context: { [name]: value },
      });
    }
  }
}

/** Rejects revisions that are not safe integers: Lua and JSON numbers are doubles. */
export function assertRev(expectedRev: number, what = 'expectedRev'): void {
  if (!Number.isSafeInteger(expectedRev) || expectedRev < 0) {
    throw new SyncError('INVALID_INPUT', `${what} must be a safe integer >= 0`, {
      context: { [what]: expectedRev },
    });
  }
}

/** Contention settles in milliseconds; the retry starts fast and stays short. */
export const updatePairRetryPolicy: RetryPolicy = {
  maxAttempts: 12,
  initialDelayMs: 2,
  maxDelayMs: 200,
  factor: 2,
  jitter: 0.5,
};

export interface Decision<T> {
  next: PairState;
  result: T;
}

export interface UpdatePairOptions {
  /**
   * The caller knows the pair does not exist yet (its id was generated a moment ago): the first
   * decision is made on null without reading it. Should someone have stored it meanwhile, the
   * compare-and-apply (expected revision 0) fails and the loop reads and decides again.
   */
  knownAbsent?: boolean;
  policy?: RetryPolicy;
  signal?: AbortSignal;
  /** For tests: a deterministic jitter source and sleep. */
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface UpdatePairOutcome<T> {
  /** The applied decision's result, or null when `decide` chose no change. */
  result: T | null;
  /** Revision after the call: the new one when applied, the read one when unchanged, null when absent. */
  rev: number | null;
  /** Decisions made, the first included (1 when there was no contention). */
  attempts: number;
}

/**
 * Read -> decide -> compare-and-apply, repeated while another writer wins the race.
 *
 * `decide` is pure and may run several times; only the decision that gets applied counts, and
 * its `result` is returned. It returns null for "no change" (nothing is written). On a lost
 * race the pair is read again and decided again after a jittered backoff (src/retry.ts), so a
 * herd of reconcilers spreads out. Store outages (STORE_UNAVAILABLE) are retried by the same
 * loop; `attempts` counts decisions only.
 *
 * Throws VERSION_CONFLICT (retriable) when still losing after the policy's attempts, CONFLICT
 * (not retriable, context.reason 'link-owned' plus the LinkOwner fields) when the decision
 * would take a record id another pair holds, and INTERNAL when `decide` returns a state of
 * another pair.
 */
export async function updatePair<T>(
  store: VersionStore,
  orgId: string,
  pairId: string,
  decide: (current: StoredPair | null) => Decision<T> | null,
  options: UpdatePairOptions = {},
): Promise<UpdatePairOutcome<T>> {
  let attempts = 0;
  return retry(
    async ({ bail }) => {
      // Read afresh on every attempt: the state a rejected apply returned is stale by the end
      // of the backoff, and deciding on it again under contention starves the loser.
      const current = attempts === 0 && options.knownAbsent ? null : await store.get(orgId, pairId);
      attempts++;
      const decision = decide(current);
      if (decision === null) return { result: null, rev: current?.rev ?? null, attempts };
      const { next } = decision;
      if (next.orgId !== orgId || next.pairId !== pairId) {
        bail(
          new SyncError('INTERNAL', 'decide returned the state of another pair', {
            context: { orgId, pairId, nextOrgId: next.orgId, nextPairId: next.pairId },
          }),
        );
      }
      const applied = await store.compareAndApply(next, current?.rev ?? 0);
      if (applied.applied) return { result: decision.result, rev: applied.rev, attempts };
      if (applied.reason === 'link-owned') {
        bail(
          new SyncError('CONFLICT', `${applied.link.side} record is linked to another pair`, {
            context: { orgId, pairId, reason: 'link-owned', ...applied.link },
          }),
        );
      }
      throw new SyncError('VERSION_CONFLICT', 'pair changed while deciding', {
        context: { orgId, pairId, attempts, expectedRev: current?.rev ?? 0 },
      });
    },
    options.policy ?? updatePairRetryPolicy,
    {
      signal: options.signal,
      random: options.random,
      sleep: options.sleep,
    },
  );
}
