import type Redis from 'ioredis';
import type { DeadLetter } from '../../core/records';
import type {
  DeadLetterPage,
  DeadLetterQuery,
  DeadLetterStore,
  StoredDeadLetter,
} from '../../admin/dead-letter-store';
import {
  NO_ORG,
  letterFromJson,
  letterToJson,
  mergeOccurrence,
  pageBounds,
} from '../../admin/dead-letter-store';

import { closeRedis, redisOp } from './connect';

export interface RedisDeadLetterStoreDeps {
  redis: Redis;
  keyPrefix: string;
  ownsClient?: boolean;
  /** How long a retried or dismissed letter's id is remembered against redelivery. Default 7 days. */
  tombstoneTtlMs?: number;
}

/**
 * DeadLetterStore on Redis. Key layout under the prefix, `{orgId}` hash-tagged so one
 * organization's keys share a cluster slot:
 * - `dl:{org}:items`: hash id -> letter JSON (bytes base64);
 * - `dl:{org}:order`: sorted set of ids by lastFailedAt (newest first when read in reverse);
 * - `dl:{org}:code:<code>`: the same per error code, for filtered pages;
 * - `dl:gone:<id>`: tombstone of a removed letter (the last failure it had), expiring after
 *   `tombstoneTtlMs`.
 *
 * One letter's occurrences are read and written back, not in one atomic step: they arrive in
 * order on one partition of the dead-letter topic (keyed by the letter's id), read by one
 * collector at a time.
 */
export class RedisDeadLetterStore implements DeadLetterStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly tombstoneTtlMs: number;
  private closed = false;

  constructor(deps: RedisDeadLetterStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.ownsClient = deps.ownsClient ?? false;
    this.tombstoneTtlMs = deps.tombstoneTtlMs ?? 7 * 24 * 3_600_000;
  }

  private keys(orgId: string): { items: string; order: string; code: (c: string) => string } {
    const base = `${this.prefix}dl:{${orgId}}`;
    return { items: `${base}:items`, order: `${base}:order`, code: (c) => `${base}:code:${c}` };
  }

  private gone(id: string): string {
    return `${this.prefix}dl:gone:${id}`;
  }

  private async run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return redisOp({ name: 'dead-letter store', closed: this.closed }, op, {}, fn);
  }

  async add(letter: DeadLetter): Promise<boolean> {
    const k = this.keys(letter.orgId ?? NO_ORG);
    return this.run('add', async () => {
      const [removedAt, raw] = await Promise.all([
        this.redis.get(this.gone(letter.id)),
        this.redis.hget(k.items, letter.id),
      ]);
      if (removedAt !== null && letter.lastFailedAt <= Number(removedAt)) return false;
      let kept: StoredDeadLetter;
      if (raw !== null) {
        const merged = mergeOccurrence(letterFromJson(raw), letter);
        if (!merged) return false;
        kept = merged;
      } else {
        kept = { ...letter, occurrences: 1 };
      }
      await this.redis
        .multi()
        .hset(k.items, letter.id, letterToJson(kept))
        .zadd(k.order, letter.lastFailedAt, letter.id)
        .zadd(k.code(letter.errorCode), letter.lastFailedAt, letter.id)
        .exec();
      return raw === null;
    });
  }

  async list(orgId: string, query: DeadLetterQuery = {}): Promise<DeadLetterPage> {
    const { offset, limit } = pageBounds(query);
    const k = this.keys(orgId);
    const index = query.code === undefined ? k.order : k.code(query.code);
    return this.run('list', async () => {
      const total = await this.redis.zcard(index);
      // Newest first; equal times fall back to reverse id order, stable between pages.
      const ids = await this.redis.zrevrange(index, offset, offset + limit - 1);
      const values = ids.length > 0 ? await this.redis.hmget(k.items, ...ids) : [];
      const items = values.filter((v): v is string => v !== null).map(letterFromJson);
      return {
        items,
        total,
        nextOffset: offset + ids.length < total ? offset + ids.length : null,
      };
    });
  }

  async get(orgId: string, id: string): Promise<StoredDeadLetter | null> {
    const raw = await this.run('get', () => this.redis.hget(this.keys(orgId).items, id));
    return raw === null ? null : letterFromJson(raw);
  }

  async remove(orgId: string, id: string): Promise<boolean> {
    const k = this.keys(orgId);
    return this.run('remove', async () => {
      const raw = await this.redis.hget(k.items, id);
      if (raw === null) return false;
      const letter = letterFromJson(raw);
      const replies = await this.redis
        .multi()
        .set(this.gone(id), String(letter.lastFailedAt), 'PX', this.tombstoneTtlMs)
        .hdel(k.items, id)
        .zrem(k.order, id)
        .zrem(k.code(letter.errorCode), id)
        .exec();
      return Number(replies?.[1]?.[1] ?? 0) === 1;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
