import type Redis from 'ioredis';
import type { Lock } from '../../batch/lock';
import { SyncError } from '../../errors';
import { closeRedis, redisOp } from './connect';
import type { ScriptCall } from './lua-scripts';
import { defineScript } from './lua-scripts';

export interface RedisLockDeps {
  redis: Redis;
  /** Prepended to every key, e.g. "ils:". */
  keyPrefix: string;
  /** When true, close() also closes the client; leave false when the client is shared. */
  ownsClient?: boolean;
}

/**
 * Lock on Redis: one string key per lock, `<prefix>lock:<name>`, holding the owner with the
 * lease as its TTL. Acquire is SET NX PX; renew and release are Lua compare-then-act scripts,
 * so only the holder can extend or free it. Leases run on the Redis server's clock, so
 * processes with skewed clocks still agree on when a lease ends.
 */
export class RedisLock implements Lock {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly renewScript: ScriptCall;
  private readonly releaseScript: ScriptCall;
  private closed = false;

  constructor(deps: RedisLockDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.ownsClient = deps.ownsClient ?? false;
    this.renewScript = defineScript(this.redis, 'renew-lock-1.lua');
    this.releaseScript = defineScript(this.redis, 'release-lock-1.lua');
  }

  private key(name: string): string {
    return `${this.prefix}lock:${name}`;
  }

  private async run<T>(
    op: string,
    name: string,
    owner: string | null,
    leaseMs: number | null,
    fn: () => Promise<T>,
  ): Promise<T> {
    if (name === '' || owner === '') {
      throw new SyncError('INVALID_INPUT', 'lock name and owner must be non-empty');
    }
    if (leaseMs !== null && (!Number.isSafeInteger(leaseMs) || leaseMs <= 0)) {
      throw new SyncError('INVALID_INPUT', 'leaseMs must be a positive integer', {
        context: { leaseMs },
      });
    }
    return redisOp({ name: 'lock', closed: this.closed }, op, { name }, fn);
  }

  async tryAcquire(name: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.run('tryAcquire', name, owner, leaseMs, async () => {
      const reply = await this.redis.set(this.key(name), owner, 'PX', leaseMs, 'NX');
      return reply === 'OK';
    });
  }

  async renew(name: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.run('renew', name, owner, leaseMs, async () => {
      return (await this.renewScript([this.key(name)], [owner, leaseMs])) === 1;
    });
  }

  async release(name: string, owner: string): Promise<boolean> {
    return this.run('release', name, owner, null, async () => {
      return (await this.releaseScript([this.key(name)], [owner])) === 1;
    });
  }

  async holder(name: string): Promise<string | null> {
    return this.run('holder', name, null, null, () => this.redis.get(this.key(name)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
