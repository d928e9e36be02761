import type Redis from 'ioredis';
import { assertKeyParts } from '../../core/version-store';
import type { ParkedRecord, ParkedWriteStore } from '../../sink/parked-writes';
import { closeRedis, redisOp } from './connect';
import type { ScriptCall } from './lua-scripts';
import { defineScript } from './lua-scripts';

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
 * per record. RPUSH and LRANGE are atomic, and a drop checks the head and trims in one script
 * (drop-parked-1.lua), so a park that lands meanwhile keeps its records behind the dropped ones.
 */
export class RedisParkedWriteStore implements ParkedWriteStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly sink: string;
  private readonly ownsClient: boolean;
  private closed = false;
  private readonly dropScript: ScriptCall;

  constructor(deps: RedisParkedWriteStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.sink = deps.sink;
    this.ownsClient = deps.ownsClient ?? false;
    this.dropScript = defineScript(this.redis, 'drop-parked-1.lua');
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

  drop(orgId: string, count: number, head: ParkedRecord): Promise<number> {
    return this.op('drop', orgId, async () =>
      Number(await this.dropScript([this.key(orgId)], [Math.max(0, count), JSON.stringify(head)])),
    );
  }

  count(orgId: string): Promise<number> {
    return this.op('count', orgId, () => this.redis.llen(this.key(orgId)));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
