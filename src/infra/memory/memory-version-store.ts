import { SyncError } from '../../errors';
import type { PairState, Side } from '../../core/pair-state';
import { assertPairState } from '../../core/pair-state';
import type {
  ApplyResult,
  EncodedPair,
  LinkResult,
  PairIdPage,
  PairLinks,
  StoredPair,
  VersionStore,
} from '../../core/version-store';
import {
  assertKeyParts,
  assertRev,
  decodePairState,
  defaultPageCount,
  encodePairState,
  linkedState,
} from '../../core/version-store';

interface Entry {
  rev: number;
  /** Kept encoded, as in Redis: reads and writes copy, and round-trips match the Redis adapter. */
  stored: EncodedPair;
}

interface OrgData {
  pairs: Map<string, Entry>;
  links: Record<Side, Map<string, string>>;
  /** Pair ids in byte order, rebuilt only after a pair was added or deleted (paging is hot in full syncs). */
  sorted: string[] | null;
}

/** Byte order of the UTF-8 text, the order Redis sorts set members in. */
function byteOrder(a: string, b: string): number {
  // UTF-8 byte order is code point order. UTF-16 code units follow it except where a surrogate
  // (half of a code point above U+FFFF) meets a unit in U+E000..U+FFFF; only there does the
  // comparison need care. No Buffers: sorting 90,000 ids made two per comparison.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * VersionStore in process memory, for unit tests and single-process demo runs. Same semantics
 * as RedisVersionStore (revisions, link ownership, paging order); each method does its
 * read-compare-write without yielding, which is what makes it atomic on one event loop.
 */
export class MemoryVersionStore implements VersionStore {
  private readonly orgs: Map<string, OrgData>;
  private closed = false;

  /** `sharedWith`: another handle on the same data, as a second process would have one. */
  constructor(options: { sharedWith?: MemoryVersionStore } = {}) {
    this.orgs = options.sharedWith?.orgs ?? new Map();
  }

  private org(orgId: string): OrgData {
    let data = this.orgs.get(orgId);
    if (!data) {
      data = {
        pairs: new Map(),
        links: { initlive: new Map(), salesforce: new Map() },
        sorted: null,
      };
      this.orgs.set(orgId, data);
    }
    return data;
  }

  private checkOpen(op: string): void {
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'version store is closed', {
        retriable: false,
        context: { op },
      });
    }
  }

  private read(orgId: string, pairId: string): StoredPair | null {
    const entry = this.orgs.get(orgId)?.pairs.get(pairId);
    return entry
      ? { rev: entry.rev, state: decodePairState(entry.stored, { orgId, pairId }) }
      : null;
  }

  async get(orgId: string, pairId: string): Promise<StoredPair | null> {
    assertKeyParts({ orgId, pairId });
    this.checkOpen('get');
    return this.read(orgId, pairId);
  }

  async getMany(orgId: string, pairIds: readonly string[]): Promise<Array<StoredPair | null>> {
    assertKeyParts({ orgId });
    for (const pairId of pairIds) assertKeyParts({ pairId });
    this.checkOpen('getMany');
    return pairIds.map((pairId) => this.read(orgId, pairId));
  }

  async getLinks(orgId: string, pairIds: readonly string[]): Promise<Array<PairLinks | null>> {
    assertKeyParts({ orgId });
    for (const pairId of pairIds) assertKeyParts({ pairId });
    this.checkOpen('getLinks');
    return pairIds.map((pairId) => {
      const stored = this.read(orgId, pairId);
      if (!stored) return null;
      const { initliveId, salesforceId, seen } = stored.state;
      return { initliveId, salesforceId, seen: { ...seen } };
    });
  }

  async findPairId(orgId: string, side: Side, recordId: string): Promise<string | null> {
    assertKeyParts({ orgId, recordId });
    this.checkOpen('findPairId');
    return this.orgs.get(orgId)?.links[side].get(recordId) ?? null;
  }

  async compareAndApply(next: PairState, expectedRev: number): Promise<ApplyResult> {
    assertPairState(next);
    assertRev(expectedRev);
    this.checkOpen('compareAndApply');
    const { orgId, pairId } = next;
    const org = this.org(orgId);
    const entry = org.pairs.get(pairId);
    const rev = entry?.rev ?? 0;
    if (rev !== expectedRev) {
      return { applied: false, reason: 'rev-mismatch', current: this.read(orgId, pairId) };
    }
    if (expectedRev >= Number.MAX_SAFE_INTEGER) {
      throw new SyncError('INTERNAL', 'pair revision would pass 2^53', {
        context: { orgId, pairId },
      });
    }
    const wanted: Record<Side, string | null> = {
      initlive: next.initliveId,
      salesforce: next.salesforceId,
    };
    for (const side of ['initlive', 'salesforce'] as const) {
      const recordId = wanted[side];
      const owner = recordId === null ? undefined : org.links[side].get(recordId);
      if (recordId !== null && owner !== undefined && owner !== pairId) {
        return {
          applied: false,
          reason: 'link-owned',
          link: { side, recordId, ownerPairId: owner },
          current: this.read(orgId, pairId),
        };
      }
    }
    const held: Record<Side, string | null> = {
      initlive: entry?.stored.initliveId ?? null,
      salesforce: entry?.stored.salesforceId ?? null,
    };
    for (const side of ['initlive', 'salesforce'] as const) {
      const old = held[side];
      if (old !== null && old !== wanted[side] && org.links[side].get(old) === pairId) {
        org.links[side].delete(old);
      }
      const recordId = wanted[side];
      if (recordId !== null) org.links[side].set(recordId, pairId);
    }
    const newRev = rev + 1;
    if (!org.pairs.has(pairId)) org.sorted = null;
    org.pairs.set(pairId, { rev: newRev, stored: encodePairState(next) });
    return { applied: true, rev: newRev };
  }

  async link(orgId: string, pairId: string, side: Side, recordId: string): Promise<LinkResult> {
    assertKeyParts({ orgId, pairId, recordId });
    this.checkOpen('link');
    const org = this.orgs.get(orgId);
    const entry = org?.pairs.get(pairId);
    if (!org || !entry) return { outcome: 'absent' };
    const { stored } = entry;
    const field = side === 'initlive' ? 'initliveId' : 'salesforceId';
    if (stored[field] !== null) return { outcome: 'held', rev: entry.rev };
    const owner = org.links[side].get(recordId);
    if (owner !== undefined && owner !== pairId)
      return { outcome: 'link-owned', ownerPairId: owner };
    const next = linkedState(decodePairState(stored, { orgId, pairId }), side, recordId)!;
    org.links[side].set(recordId, pairId);
    entry.rev += 1;
    entry.stored = encodePairState(next);
    return { outcome: 'linked', rev: entry.rev };
  }

  async delete(orgId: string, pairId: string, expectedRev: number): Promise<boolean> {
    assertKeyParts({ orgId, pairId });
    assertRev(expectedRev);
    this.checkOpen('delete');
    const org = this.orgs.get(orgId);
    const entry = org?.pairs.get(pairId);
    if (!org || !entry || entry.rev !== expectedRev) return false;
    const { initliveId, salesforceId } = entry.stored;
    if (initliveId !== null && org.links.initlive.get(initliveId) === pairId) {
      org.links.initlive.delete(initliveId);
    }
    if (salesforceId !== null && org.links.salesforce.get(salesforceId) === pairId) {
      org.links.salesforce.delete(salesforceId);
    }
    org.pairs.delete(pairId);
    org.sorted = null;
    return true;
  }

  async listPairIds(
    orgId: string,
    cursor?: string | null,
    count = defaultPageCount,
  ): Promise<PairIdPage> {
    assertKeyParts({ orgId });
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new SyncError('INVALID_INPUT', 'count must be a positive integer', {
        context: { count },
      });
    }
    this.checkOpen('listPairIds');
    const org = this.orgs.get(orgId);
    if (!org) return { pairIds: [], cursor: null };
    org.sorted ??= [...org.pairs.keys()].sort(byteOrder);
    const sorted = org.sorted;
    // First id after the cursor, by binary search.
    let lo = 0;
    let hi = sorted.length;
    while (cursor && lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (byteOrder(sorted[mid]!, cursor) > 0) hi = mid;
      else lo = mid + 1;
    }
    const pairIds = sorted.slice(lo, lo + count);
    return {
      pairIds,
      cursor: lo + count < sorted.length ? (pairIds[pairIds.length - 1] ?? null) : null,
    };
  }

  /** Closes this handle only; others sharing its data keep working. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
