import type Redis from 'ioredis';
import { checkClaim, checkFire } from '../../batch/run-queue';
import type { FireQueued, QueuedRun, RunQueue } from '../../batch/run-queue';
import { SyncError } from '../../errors';
import { closeRedis, redisOp } from './connect';
import type { ScriptCall } from './lua-scripts';
import { defineScript } from './lua-scripts';

export interface RedisRunQueueDeps {
  redis: Redis;
  /** Prepended to every key, e.g. "ils:". */
  keyPrefix: string;
  /** When true, close() also closes the client; leave false when the client is shared. */
  ownsClient?: boolean;
}

/**
 * RunQueue on Redis: one sorted set, `<prefix>run-queue`, member = org id, score = due
 * instant; Redis orders equal scores by member, which is the tie-break the port promises, and
 * ZADD NX queues an org once. Claims live in the hash `<prefix>run-queue:claims`, claimed fire
 * slots in `<prefix>run-queue:slot:<org>:<dueAt>` keys that expire; take, settle and queueFire
 * are Lua scripts (take-run-2, settle-run-1, queue-fire-2) so claim and queue change together.
 */
export class RedisRunQueue implements RunQueue {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly claimsKey: string;
  private readonly ownsClient: boolean;
  private readonly takeScript: ScriptCall;
  private readonly settleScript: ScriptCall;
  private readonly fireScript: ScriptCall;
  private readonly prefix: string;
  private closed = false;

  constructor(deps: RedisRunQueueDeps) {
    this.redis = deps.redis;
    this.key = `${deps.keyPrefix}run-queue`;
    this.claimsKey = `${deps.keyPrefix}run-queue:claims`;
    this.ownsClient = deps.ownsClient ?? false;
    this.takeScript = defineScript(this.redis, 'take-run-2.lua');
    this.settleScript = defineScript(this.redis, 'settle-run-1.lua');
    this.fireScript = defineScript(this.redis, 'queue-fire-2.lua');
    this.prefix = deps.keyPrefix;
  }

  private async run<T>(op: string, orgId: string | null, fn: () => Promise<T>): Promise<T> {
    if (orgId === '') throw new SyncError('INVALID_INPUT', 'orgId must be non-empty');
    return redisOp({ name: 'run queue', closed: this.closed }, op, { orgId }, fn);
  }

  async enqueue(orgId: string, dueAt: number): Promise<boolean> {
    if (!Number.isSafeInteger(dueAt)) {
      throw new SyncError('INVALID_INPUT', 'dueAt must be an integer', { context: { dueAt } });
    }
    return this.run('enqueue', orgId, async () => {
      return (await this.redis.zadd(this.key, 'NX', dueAt, orgId)) === 1;
    });
  }

  async queueFire(orgId: string, dueAt: number, slotMs: number): Promise<FireQueued> {
    checkFire(dueAt, slotMs);
    return this.run('queueFire', orgId, async () => {
      const slotKey = `${this.prefix}run-queue:slot:${orgId}:${dueAt}`;
      return (await this.fireScript([this.key, slotKey], [orgId, dueAt, slotMs])) as FireQueued;
    });
  }

  async take(owner: string, leaseMs: number): Promise<QueuedRun | null> {
    checkClaim(owner, leaseMs);
    return this.run('take', null, async () => {
      const reply = (await this.takeScript([this.key, this.claimsKey], [owner, leaseMs])) as
        [string, string] | null;
      return reply ? { orgId: reply[0], dueAt: Number(reply[1]) } : null;
    });
  }

  async settle(orgId: string, owner: string): Promise<boolean> {
    checkClaim(owner);
    return this.run('settle', orgId, async () => {
      return (await this.settleScript([this.claimsKey], [orgId, owner])) === 1;
    });
  }

  async position(orgId: string): Promise<number | null> {
    return this.run('position', orgId, async () => {
      const rank = await this.redis.zrank(this.key, orgId);
      return rank === null ? null : rank + 1;
    });
  }

  async list(): Promise<QueuedRun[]> {
    return this.run('list', null, async () => {
      const flat = await this.redis.zrange(this.key, 0, -1, 'WITHSCORES');
      const out: QueuedRun[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        out.push({ orgId: flat[i]!, dueAt: Number(flat[i + 1]) });
      }
      return out;
    });
  }

  async remove(orgId: string): Promise<boolean> {
    return this.run('remove', orgId, async () => (await this.redis.zrem(this.key, orgId)) === 1);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
