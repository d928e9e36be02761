import type Redis from 'ioredis';

import type { PositionStore } from '../../core/position-store';
import { assertKeyParts } from '../../core/version-store';
import { closeRedis, redisOp } from './connect';
import type { ScriptCall } from './lua-scripts';
import { defineScript } from './lua-scripts';

export interface RedisPositionStoreDeps {
  redis: Redis;
  /** Prepended to every key, e.g. "ils:". */
  keyPrefix: string;
  /** When true, close() also closes the client; leave false when the client is shared. */
  ownsClient?: boolean;
}

/** PositionStore on Redis: one string key per position, `<prefix>pos:<name>`. */
export class RedisPositionStore implements PositionStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly compareAndSetScript: ScriptCall;
  private closed = false;

  constructor(deps: RedisPositionStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.ownsClient = deps.ownsClient ?? false;
    this.compareAndSetScript = defineScript(this.redis, 'compare-and-set-1.lua');
  }

  private key(name: string): string {
    return `${this.prefix}pos:${name}`;
  }

  private async run<T>(op: string, name: string, fn: () => Promise<T>): Promise<T> {
    assertKeyParts({ name });
    return redisOp({ name: 'position store', closed: this.closed }, op, { name }, fn);
  }

  async get(name: string): Promise<string | null> {
    return this.run('get', name, () => this.redis.get(this.key(name)));
  }

  async set(name: string, value: string): Promise<void> {
    await this.run('set', name, () => this.redis.set(this.key(name), value));
  }

  async compareAndSet(name: string, expected: string | null, value: string): Promise<boolean> {
    return this.run('compareAndSet', name, async () => {
      const reply = await this.compareAndSetScript(
        [this.key(name)],
        expected === null ? ['0', '', value] : ['1', expected, value],
      );
      return reply === 1;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
