import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { assertKeyParts } from '../../core/version-store';
import type {
  ParkResult,
  ParkedRecord,
  ParkedWriteStore,
  PartitionOffsets,
  PartitionRanges,
} from '../../sink/parked-writes';
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
 * a JSON entry per record, and beside it a hash `...:{org}:meta` with the list's generation,
 * marks and restored offsets. A park appends and keeps the marks in one script
 * (park-writes-2.lua), a drop checks the head and trims in one (drop-parked-1.lua), so a park
 * that lands meanwhile keeps its records behind the dropped ones; settle-parked-2.lua and
 * restore-parked-2.lua are atomic too.
 */
export class RedisParkedWriteStore implements ParkedWriteStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly sink: string;
  private readonly ownsClient: boolean;
  private closed = false;
  private readonly dropScript: ScriptCall;
  private readonly parkScript: ScriptCall;
  private readonly settleScript: ScriptCall;
  private readonly restoreScript: ScriptCall;

  constructor(deps: RedisParkedWriteStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.sink = deps.sink;
    this.ownsClient = deps.ownsClient ?? false;
    this.dropScript = defineScript(this.redis, 'drop-parked-1.lua');
    this.parkScript = defineScript(this.redis, 'park-writes-2.lua');
    this.settleScript = defineScript(this.redis, 'settle-parked-2.lua');
    this.restoreScript = defineScript(this.redis, 'restore-parked-2.lua');
  }

  private key(orgId: string): string {
    return `${this.prefix}parked:${this.sink}:{${orgId}}`;
  }

  private keys(orgId: string): [string, string] {
    const list = this.key(orgId);
    return [list, `${list}:meta`];
  }

  private op<T>(op: string, orgId: string, fn: () => Promise<T>): Promise<T> {
    assertKeyParts({ orgId });
    return redisOp({ name: 'parked write store', closed: this.closed }, op, { orgId }, fn);
  }

  park(orgId: string, records: readonly ParkedRecord[]): Promise<ParkResult> {
    return this.op('park', orgId, async () =>
      resultOf(await this.parkScript(this.keys(orgId), [randomUUID(), ...recordArgs(records)])),
    );
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

  marks(orgId: string): Promise<{ generation: string | null; marks: PartitionOffsets }> {
    return this.op('marks', orgId, async () => {
      const meta = await this.redis.hgetall(this.keys(orgId)[1]);
      const marks: PartitionOffsets = [];
      for (const [field, value] of Object.entries(meta)) {
        if (field.startsWith('m:')) marks.push([Number(field.slice(2)), value]);
      }
      marks.sort((a, b) => a[0] - b[0]);
      return { generation: meta.gen ?? null, marks };
    });
  }

  settle(orgId: string, marks: PartitionOffsets): Promise<boolean> {
    return this.op(
      'settle',
      orgId,
      async () => Number(await this.settleScript(this.keys(orgId), marks.flat().map(String))) === 1,
    );
  }

  restore(
    orgId: string,
    records: readonly ParkedRecord[],
    read: PartitionRanges,
  ): Promise<ParkResult> {
    return this.op('restore', orgId, async () =>
      resultOf(
        await this.restoreScript(this.keys(orgId), [
          randomUUID(),
          String(read.length),
          ...read.flat().map(String),
          ...recordArgs(records),
        ]),
      ),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}

function recordArgs(records: readonly ParkedRecord[]): string[] {
  return records.flatMap((r) => [String(r.partition), r.offset, JSON.stringify(r)]);
}

function resultOf(raw: unknown): ParkResult {
  const [count, generation, flat] = raw as [number, string, string[]];
  const marks: PartitionOffsets = [];
  for (let i = 0; i + 1 < flat.length; i += 2) marks.push([Number(flat[i]), flat[i + 1]!]);
  return { count: Number(count), generation, marks };
}
