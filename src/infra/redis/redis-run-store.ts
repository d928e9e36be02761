import type Redis from 'ioredis';
import type { RunTally } from '../../core/outcomes';
import type { Side } from '../../core/pair-state';
import { assertKeyParts } from '../../core/version-store';
import type { RunStore } from '../../batch/run-store';
import { RUN_HISTORY_LIMIT, runMaps } from '../../batch/run-store';
import type { RunMap, TallyEntry } from '../../batch/run-store';
import type { ScriptCall } from './lua-scripts';
import { defineScript } from './lua-scripts';
import type { RunRecord } from '../../batch/run-types';

import { closeRedis, redisOp } from './connect';

export interface RedisRunStoreDeps {
  redis: Redis;
  /** Prepended to every key, e.g. "ils:". */
  keyPrefix: string;
  /** When true, close() also closes the client; leave false when the client is shared. */
  ownsClient?: boolean;
  /** How long a run's checkpoint and seen ids live after their last write. Default 7 days. */
  workTtlMs?: number;
}

/**
 * RunStore on Redis. Keys (the org in a `{...}` hash tag, so one org's keys share a slot):
 * - `<prefix>run:{org}:<runId>`          the run record (JSON string)
 * - `<prefix>runs:{org}`                 sorted set of run ids by creation time (history order)
 * - `<prefix>run:{org}:<runId>:cp`       the job's checkpoint (JSON string)
 * - `<prefix>run:{org}:<runId>:seen:<side>`  set of record ids the run read on that side
 * - `<prefix>run:{org}:<runId>:map:<map>`    hash of the run's lookup maps ('' = ambiguous)
 * - `<prefix>run:{org}:<runId>:oids`     set of the outcome ids counted (each counts once)
 * - `<prefix>run:{org}:<runId>:tally`    hash of the run's counters (src/core/outcomes.ts)
 *
 * Seen ids live in Redis rather than in the process, so a run's memory stays bounded
 * whatever the org's size, and a resumed run still knows what it read before the crash. They
 * expire `workTtlMs` after the last write, so an abandoned run cleans up after itself.
 */
export class RedisRunStore implements RunStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly workTtlMs: number;
  private readonly putUniqueScript: ScriptCall;
  private readonly tallyScript: ScriptCall;
  private closed = false;

  constructor(deps: RedisRunStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.ownsClient = deps.ownsClient ?? false;
    this.workTtlMs = deps.workTtlMs ?? 7 * 24 * 3_600_000;
    this.putUniqueScript = defineScript(this.redis, 'hash-put-unique-1.lua');
    this.tallyScript = defineScript(this.redis, 'tally-outcomes-2.lua');
  }

  private mapKey(orgId: string, runId: string, map: RunMap): string {
    return `${this.runKey(orgId, runId)}:map:${map}`;
  }

  private runKey(orgId: string, runId: string): string {
    return `${this.prefix}run:{${orgId}}:${runId}`;
  }

  private indexKey(orgId: string): string {
    return `${this.prefix}runs:{${orgId}}`;
  }

  private async run<T>(
    op: string,
    parts: Record<string, unknown>,
    fn: () => Promise<T>,
  ): Promise<T> {
    assertKeyParts(parts);
    return redisOp({ name: 'run store', closed: this.closed }, op, parts, fn);
  }

  async save(record: RunRecord): Promise<void> {
    const { orgId, runId } = record;
    await this.run('save', { orgId, runId }, async () => {
      const index = this.indexKey(orgId);
      // NX: the first save fixes the run's place in history; later saves keep it.
      await this.redis
        .multi()
        .set(this.runKey(orgId, runId), JSON.stringify(record))
        .zadd(index, 'NX', Date.now(), runId)
        .exec();
      const excess = (await this.redis.zcard(index)) - RUN_HISTORY_LIMIT;
      if (excess > 0) {
        const old = await this.redis.zrange(index, 0, excess - 1);
        if (old.length > 0) {
          await this.redis
            .multi()
            .zrem(index, ...old)
            .del(...old.map((id) => this.runKey(orgId, id)))
            .exec();
        }
      }
    });
  }

  async get(orgId: string, runId: string): Promise<RunRecord | null> {
    return this.run('get', { orgId, runId }, async () => {
      const text = await this.redis.get(this.runKey(orgId, runId));
      return text === null ? null : (JSON.parse(text) as RunRecord);
    });
  }

  async list(orgId: string, limit = 20): Promise<RunRecord[]> {
    return this.run('list', { orgId }, async () => {
      if (limit <= 0) return [];
      const ids = await this.redis.zrevrange(this.indexKey(orgId), 0, limit - 1);
      if (ids.length === 0) return [];
      const texts = await this.redis.mget(...ids.map((id) => this.runKey(orgId, id)));
      return texts.filter((t): t is string => t !== null).map((t) => JSON.parse(t) as RunRecord);
    });
  }

  async loadCheckpoint(orgId: string, runId: string): Promise<unknown> {
    return this.run('loadCheckpoint', { orgId, runId }, async () => {
      const text = await this.redis.get(`${this.runKey(orgId, runId)}:cp`);
      return text === null ? null : (JSON.parse(text) as unknown);
    });
  }

  async saveCheckpoint(orgId: string, runId: string, checkpoint: unknown): Promise<void> {
    await this.run('saveCheckpoint', { orgId, runId }, async () => {
      await this.redis.set(
        `${this.runKey(orgId, runId)}:cp`,
        JSON.stringify(checkpoint),
        'PX',
        this.workTtlMs,
      );
    });
  }

  private seenKey(orgId: string, runId: string, side: Side): string {
    return `${this.runKey(orgId, runId)}:seen:${side}`;
  }

  async markSeen(orgId: string, runId: string, side: Side, ids: readonly string[]): Promise<void> {
    await this.run('markSeen', { orgId, runId }, async () => {
      if (ids.length === 0) return;
      const key = this.seenKey(orgId, runId, side);
      await this.redis
        .multi()
        .sadd(key, ...ids)
        .pexpire(key, this.workTtlMs)
        .exec();
    });
  }

  async unseen(
    orgId: string,
    runId: string,
    side: Side,
    ids: readonly string[],
  ): Promise<string[]> {
    return this.run('unseen', { orgId, runId }, async () => {
      if (ids.length === 0) return [];
      const flags = await this.redis.smismember(this.seenKey(orgId, runId, side), ...ids);
      return ids.filter((_, i) => flags[i] !== 1);
    });
  }

  async putUnique(
    orgId: string,
    runId: string,
    map: RunMap,
    entries: ReadonlyArray<readonly [string, string]>,
  ): Promise<void> {
    await this.run('putUnique', { orgId, runId }, async () => {
      if (entries.length === 0) return;
      await this.putUniqueScript(
        [this.mapKey(orgId, runId, map)],
        [this.workTtlMs, ...entries.flatMap(([k, v]) => [k, v])],
      );
    });
  }

  async lookup(
    orgId: string,
    runId: string,
    map: RunMap,
    keys: readonly string[],
  ): Promise<Array<string | null>> {
    return this.run('lookup', { orgId, runId }, async () => {
      if (keys.length === 0) return [];
      const values = await this.redis.hmget(this.mapKey(orgId, runId, map), ...keys);
      return values.map((v) => (v === null || v === '' ? null : v));
    });
  }

  async addOutcomes(orgId: string, runId: string, entries: readonly TallyEntry[]): Promise<void> {
    await this.run('addOutcomes', { orgId, runId }, async () => {
      if (entries.length === 0) return;
      const args: Array<string | number> = [this.workTtlMs];
      for (const { id, increments } of entries) {
        args.push(id, increments.length);
        for (const [field, n] of increments) args.push(field, n);
      }
      const key = this.runKey(orgId, runId);
      await this.tallyScript([`${key}:oids`, `${key}:tally`], args);
    });
  }

  async tally(orgId: string, runId: string): Promise<RunTally> {
    return this.run('tally', { orgId, runId }, async () => {
      const raw = await this.redis.hgetall(`${this.runKey(orgId, runId)}:tally`);
      const out: RunTally = {};
      for (const [k, v] of Object.entries(raw)) out[k] = Number(v);
      return out;
    });
  }

  async forgetWork(orgId: string, runId: string): Promise<void> {
    await this.run('forgetWork', { orgId, runId }, async () => {
      await this.redis.del(
        `${this.runKey(orgId, runId)}:oids`,
        `${this.runKey(orgId, runId)}:tally`,
        ...runMaps.map((m) => this.mapKey(orgId, runId, m)),
        `${this.runKey(orgId, runId)}:cp`,
        this.seenKey(orgId, runId, 'initlive'),
        this.seenKey(orgId, runId, 'salesforce'),
      );
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
