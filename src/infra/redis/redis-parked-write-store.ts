import type Redis from 'ioredis';
import { assertKeyParts } from '../../core/version-store';
import type { ParkedRecord, ParkedWriteStore } from '../../sink/parked-writes';
import { closeRedis, redisOp } from './connect';

export interface RedisParkedWriteStoreDeps {
  redis: Redis;
  /** Prepended to every key, e.g. "ils:". */
  keyPrefix: string;
  /** Whose writes: each sink parks in its own lists ("salesforce", "initlive"). */
  sink: string;
  /** When true, close() also closes the client. */
  ownsClient?: boolean;
}

/**
 * ParkedWriteStore on Redis: one list per sink and organization, `<prefix>parked:<sink>:{org}`,
 * a JSON entry
 * per record. RPUSH, LRANGE and LTRIM are each atomic, so a park that lands while a drain drops
 * what it wrote keeps its records behind the dropped ones.
 */
export class RedisParkedWriteStore implements ParkedWriteStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly sink: string;
  private readonly ownsClient: boolean;
  private closed = false;

  constructor(deps: RedisParkedWriteStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.sink = deps.sink;
    this.ownsClient = deps.ownsClient ?? false;
  }

  private key(orgId: string): string {
    return `${this.prefix}parked:${this.sink}:{${orgId}}`;
  }

  private op<T>(op: string, orgId: string, fn: () => Promise<T>): Promise<T> {
    assertKeyParts({ orgId });
    return redisOp({ name: 'parked write store', closed: this.closed }, op, { orgId }, fn);
  }

  park(orgId: string, records: readonly ParkedRecord[]): Promise<number> {
    return this.op('park', orgId, async () => {
      if (records.length === 0) return this.redis.llen(this.key(orgId));
      return this.redis.rpush(this.key(orgId), ...records.map((r) => JSON.stringify(r)));
    });
  }

  peek(orgId: string, max: number): Promise<ParkedRecord[]> {
    return this.op('peek', orgId, async () => {
      if (max <= 0) return [];
      const raw = await this.redis.lrange(this.key(orgId), 0, max - 1);
      return raw.map((r) => JSON.parse(r) as ParkedRecord);
    });
  }

  drop(orgId: string, count: number): Promise<number> {
    return this.op('drop', orgId, async () => {
      const key = this.key(orgId);
      if (count > 0) await this.redis.ltrim(key, count, -1);
      return this.redis.llen(key);
    });
  }

  count(orgId: string): Promise<number> {
    return this.op('count', orgId, () => this.redis.llen(this.key(orgId)));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
