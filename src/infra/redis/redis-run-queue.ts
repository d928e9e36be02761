import type Redis from 'ioredis';
import type { QueuedRun, RunQueue } from '../../batch/run-queue';
import { SyncError } from '../../errors';
import { closeRedis, redisOp } from './connect';

export interface RedisRunQueueDeps {
  redis: Redis;
  /** Prepended to every key, e.g. "ils:". */
  keyPrefix: string;
  /** When true, close() also closes the client; leave false when the client is shared. */
  ownsClient?: boolean;
}

/**
 * RunQueue on Redis: one sorted set, `<prefix>run-queue`, member = org id, score = due
 * instant. Redis orders equal scores by member, which is the tie-break the port promises;
 * ZADD NX queues an org once and ZPOPMIN takes atomically, so no script is needed.
 */
export class RedisRunQueue implements RunQueue {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly ownsClient: boolean;
  private closed = false;

  constructor(deps: RedisRunQueueDeps) {
    this.redis = deps.redis;
    this.key = `${deps.keyPrefix}run-queue`;
    this.ownsClient = deps.ownsClient ?? false;
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

  async take(): Promise<QueuedRun | null> {
    return this.run('take', null, async () => {
      const [orgId, score] = await this.redis.zpopmin(this.key, 1);
      return orgId === undefined ? null : { orgId, dueAt: Number(score) };
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
