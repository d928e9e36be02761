import type Redis from 'ioredis';
import { SyncError, isSyncError } from '../../errors';
import type { PairState, Side } from '../../core/pair-state';
import { assertPairState } from '../../core/pair-state';
import type {
  ApplyResult,
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
  updatePair,
} from '../../core/version-store';
import { closeRedis, redisOp } from './connect';
import type { ScriptCall } from './lua-scripts';
import { defineScript } from './lua-scripts';

export interface RedisVersionStoreDeps {
  redis: Redis;
  /** Prepended to every key, e.g. "ils:". */
  keyPrefix: string;
  /** When true, close() also closes the client; leave false when the client is shared. */
  ownsClient?: boolean;
}

/** A bulk-string element of a script reply ('' for anything else). */
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

const sideTag: Record<Side, string> = { initlive: 'il', salesforce: 'sf' };

/** The hash fields a stored pair is read from, in toStored's order. */
const storedFields = ['rev', 'state', 'il', 'sf', 'st', 'ex'] as const;

// The ids the script last saw can only be wrong after a concurrent relink; a few rounds settle it.
const maxLinkRounds = 4;

/**
 * VersionStore on Redis. Per pair, a hash {rev, state, il, sf, st, ex, seen} (state, status
 * and exists flags as encodePairState gives them, il/sf the linked record ids, seen its
 * versions); per org, a sorted set of pair ids for stable paging; per linked record, a string
 * key naming its pair. Every key of an org carries the org id as a `{hash tag}`, so one script
 * can touch them all, also on a cluster. Reads and writes of a pair and its links happen
 * inside one Lua script each (lua/compare-and-apply-6.lua, lua/link-2.lua,
 * lua/delete-pair-4.lua): no WATCH, which belongs to a connection and breaks on a shared
 * client.
 */
export class RedisVersionStore implements VersionStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly compareAndApplyScript: ScriptCall;
  private readonly deletePairScript: ScriptCall;
  private readonly linkScript: ScriptCall;
  private closed = false;

  constructor(deps: RedisVersionStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.ownsClient = deps.ownsClient ?? false;
    this.compareAndApplyScript = defineScript(this.redis, 'compare-and-apply-6.lua');
    this.deletePairScript = defineScript(this.redis, 'delete-pair-4.lua');
    this.linkScript = defineScript(this.redis, 'link-2.lua');
  }

  private pairKey(orgId: string, pairId: string): string {
    return `${this.prefix}pair:{${orgId}}:${pairId}`;
  }

  private indexKey(orgId: string): string {
    return `${this.prefix}pairs:{${orgId}}`;
  }

  private linkKey(orgId: string, side: Side, recordId: string): string {
    return `${this.prefix}link:{${orgId}}:${sideTag[side]}:${recordId}`;
  }

  /** Key of a link that may be absent: the script ignores it when its id argument is ''. */
  private optionalLinkKey(orgId: string, side: Side, recordId: string): string {
    return this.linkKey(orgId, side, recordId === '' ? '-' : recordId);
  }

  private async run<T>(
    op: string,
    context: Record<string, unknown>,
    fn: () => Promise<T>,
  ): Promise<T> {
    return redisOp({ name: 'version store', closed: this.closed }, op, context, fn);
  }

  /** A stored pair from its hash fields [rev, state, il, sf, st, ex], null when absent. */
  private toStored(
    fields: readonly unknown[],
    where: { orgId: string; pairId: string } & Record<string, unknown>,
  ): StoredPair | null {
    const [rev, text, il, sf, st, ex] = fields;
    const revNumber = Number(rev ?? 0);
    if (typeof text !== 'string' || text === '' || revNumber === 0) return null;
    const state = decodePairState(
      {
        text,
        initliveId: typeof il === 'string' && il !== '' ? il : null,
        salesforceId: typeof sf === 'string' && sf !== '' ? sf : null,
        status: (typeof st === 'string' ? st : '') as PairState['status'],
        exists: typeof ex === 'string' ? ex : '',
      },
      where,
    );
    return { rev: revNumber, state };
  }

  async get(orgId: string, pairId: string): Promise<StoredPair | null> {
    assertKeyParts({ orgId, pairId });
    return this.run('get', { orgId, pairId }, async () => {
      const fields = await this.redis.hmget(this.pairKey(orgId, pairId), ...storedFields);
      return this.toStored(fields, { orgId, pairId });
    });
  }

  async getMany(orgId: string, pairIds: readonly string[]): Promise<Array<StoredPair | null>> {
    assertKeyParts({ orgId });
    for (const pairId of pairIds) assertKeyParts({ pairId });
    if (pairIds.length === 0) return [];
    return this.run('getMany', { orgId, count: pairIds.length }, async () => {
      const pipeline = this.redis.pipeline();
      for (const pairId of pairIds) pipeline.hmget(this.pairKey(orgId, pairId), ...storedFields);
      const replies = (await pipeline.exec()) ?? [];
      return pairIds.map((pairId, i) => {
        const [err, reply] = replies[i] ?? [new Error('missing pipeline reply'), null];
        if (err) throw err;
        return this.toStored(reply as unknown[], { orgId, pairId });
      });
    });
  }

  async getLinks(orgId: string, pairIds: readonly string[]): Promise<Array<PairLinks | null>> {
    assertKeyParts({ orgId });
    for (const pairId of pairIds) assertKeyParts({ pairId });
    if (pairIds.length === 0) return [];
    return this.run('getLinks', { orgId, count: pairIds.length }, async () => {
      // compare-and-apply keeps the ids beside the state ('' for none): no state to parse.
      const pipeline = this.redis.pipeline();
      for (const pairId of pairIds) {
        pipeline.hmget(this.pairKey(orgId, pairId), 'rev', 'il', 'sf', 'seen');
      }
      const replies = (await pipeline.exec()) ?? [];
      return pairIds.map((_, i) => {
        const [err, reply] = replies[i] ?? [new Error('missing pipeline reply'), null];
        if (err) throw err;
        const [rev, il, sf, seen] = reply as Array<string | null>;
        if (rev === null) return null;
        // Pairs last written before 'seen' was kept beside the state: versions unknown.
        const [seenIl, seenSf] = (seen ?? '').split(',').map(Number);
        const known = seen !== null && Number.isSafeInteger(seenIl) && Number.isSafeInteger(seenSf);
        return {
          initliveId: il || null,
          salesforceId: sf || null,
          seen: known ? { initlive: seenIl!, salesforce: seenSf! } : null,
        };
      });
    });
  }

  async findPairId(orgId: string, side: Side, recordId: string): Promise<string | null> {
    assertKeyParts({ orgId, recordId });
    return this.run('findPairId', { orgId, side, recordId }, () =>
      this.redis.get(this.linkKey(orgId, side, recordId)),
    );
  }

  async compareAndApply(next: PairState, expectedRev: number): Promise<ApplyResult> {
    assertPairState(next);
    assertRev(expectedRev);
    const { orgId, pairId } = next;
    const newIl = next.initliveId ?? '';
    const newSf = next.salesforceId ?? '';
    // Most changes keep the pair's links, so the stored ids are guessed from `next`; the
    // script checks the guess and answers with the real ids when it was wrong.
    let oldIl = expectedRev === 0 ? '' : newIl;
    let oldSf = expectedRev === 0 ? '' : newSf;
    const where = { orgId, pairId, expectedRev };
    const encoded = encodePairState(next);
    return this.run('compareAndApply', where, async () => {
      for (let round = 1; round <= maxLinkRounds; round++) {
        const reply = (await this.compareAndApplyScript(
          [
            this.pairKey(orgId, pairId),
            this.indexKey(orgId),
            this.optionalLinkKey(orgId, 'initlive', newIl),
            this.optionalLinkKey(orgId, 'salesforce', newSf),
            this.optionalLinkKey(orgId, 'initlive', oldIl),
            this.optionalLinkKey(orgId, 'salesforce', oldSf),
          ],
          [
            pairId,
            expectedRev,
            encoded.text,
            newIl,
            newSf,
            oldIl,
            oldSf,
            `${next.seen.initlive},${next.seen.salesforce}`,
            encoded.status,
            encoded.exists,
          ],
        )) as unknown[];
        if (reply[0] === 1) return { applied: true, rev: Number(reply[1]) };
        switch (reply[1]) {
          case 'rev-mismatch':
            return {
              applied: false,
              reason: 'rev-mismatch',
              current: this.toStored(reply.slice(2, 8), where),
            };
          case 'link-owned':
            return {
              applied: false,
              reason: 'link-owned',
              link: {
                side: reply[2] as Side,
                recordId: text(reply[3]),
                ownerPairId: text(reply[4]),
              },
              current: this.toStored(reply.slice(5, 11), where),
            };
          case 'links-changed':
            oldIl = text(reply[2]);
            oldSf = text(reply[3]);
            break;
          default:
            throw new SyncError('INTERNAL', 'unexpected reply from compare-and-apply-6.lua', {
              context: { ...where, reply },
            });
        }
      }
      // Relinked by others between every round: the decision was made on an old state anyway.
      return { applied: false, reason: 'rev-mismatch', current: await this.get(orgId, pairId) };
    });
  }

  async link(orgId: string, pairId: string, side: Side, recordId: string): Promise<LinkResult> {
    assertKeyParts({ orgId, pairId, recordId });
    const where = { orgId, pairId, side, recordId };
    const reply = (await this.run('link', where, () =>
      this.linkScript(
        [this.pairKey(orgId, pairId), this.linkKey(orgId, side, recordId)],
        [pairId, sideTag[side], recordId],
      ),
    )) as unknown[];
    switch (reply[0]) {
      case 'linked':
        return { outcome: 'linked', rev: Number(reply[1]) };
      case 'absent':
        return { outcome: 'absent' };
      case 'held':
        return { outcome: 'held', rev: Number(reply[1]) };
      case 'link-owned':
        return { outcome: 'link-owned', ownerPairId: text(reply[1]) };
      case 'legacy':
        return this.linkByState(orgId, pairId, side, recordId);
      default:
        throw new SyncError('INTERNAL', 'unexpected reply from link-2.lua', {
          context: { ...where, reply },
        });
    }
  }

  /** `link` for a pair stored before its status and flags were fields: through its state. */
  private async linkByState(
    orgId: string,
    pairId: string,
    side: Side,
    recordId: string,
  ): Promise<LinkResult> {
    let held: number | null = null;
    try {
      const outcome = await updatePair(this, orgId, pairId, (current) => {
        held = current?.rev ?? null;
        const next = current ? linkedState(current.state, side, recordId) : null;
        return next ? { next, result: true } : null;
      });
      if (outcome.result) return { outcome: 'linked', rev: outcome.rev! };
      return held === null ? { outcome: 'absent' } : { outcome: 'held', rev: held };
    } catch (err) {
      if (isSyncError(err) && err.code === 'CONFLICT') {
        return { outcome: 'link-owned', ownerPairId: text(err.context.ownerPairId) };
      }
      throw err;
    }
  }

  async delete(orgId: string, pairId: string, expectedRev: number): Promise<boolean> {
    assertKeyParts({ orgId, pairId });
    assertRev(expectedRev);
    const pairKey = this.pairKey(orgId, pairId);
    return this.run('delete', { orgId, pairId, expectedRev }, async () => {
      const [il, sf] = await this.redis.hmget(pairKey, 'il', 'sf');
      let storedIl = il ?? '';
      let storedSf = sf ?? '';
      for (let round = 1; round <= maxLinkRounds; round++) {
        const reply = (await this.deletePairScript(
          [
            pairKey,
            this.indexKey(orgId),
            this.optionalLinkKey(orgId, 'initlive', storedIl),
            this.optionalLinkKey(orgId, 'salesforce', storedSf),
          ],
          [pairId, expectedRev, storedIl, storedSf],
        )) as unknown[];
        if (reply[0] === 'deleted') return true;
        if (reply[0] !== 'links-changed') return false;
        storedIl = text(reply[1]);
        storedSf = text(reply[2]);
      }
      return false;
    });
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
    return this.run('listPairIds', { orgId, cursor, count }, async () => {
      // One extra id tells whether another page exists, so the last page ends with cursor null.
      const ids = await this.redis.zrangebylex(
        this.indexKey(orgId),
        cursor ? `(${cursor}` : '-',
        '+',
        'LIMIT',
        0,
        count + 1,
      );
      const pairIds = ids.slice(0, count);
      return { pairIds, cursor: ids.length > count ? (pairIds[pairIds.length - 1] ?? null) : null };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
