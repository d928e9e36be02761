import type Redis from 'ioredis';
import type { Session, SessionStore } from '../../admin/session-store';
import { closeRedis, redisOp } from './connect';

export interface RedisSessionStoreDeps {
  redis: Redis;
  keyPrefix: string;
  ownsClient?: boolean;
  now?: () => number;
}

/**
 * SessionStore on Redis, shared by every process of a deployment. One key per session under
 * the prefix, `session:<sha256 of the session id>`, holding the session as JSON and expiring
 * with it (PX), so Redis drops ended sign-ins by itself.
 */
export class RedisSessionStore implements SessionStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly now: () => number;
  private closed = false;

  constructor(deps: RedisSessionStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.ownsClient = deps.ownsClient ?? false;
    this.now = deps.now ?? Date.now;
  }

  private key(idHash: string): string {
    return `${this.prefix}session:${idHash}`;
  }

  private run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return redisOp({ name: 'session store', closed: this.closed }, op, {}, fn);
  }

  async put(session: Session): Promise<void> {
    const ttlMs = session.expiresAt - this.now();
    await this.run('put', async () => {
      if (ttlMs <= 0) {
        await this.redis.del(this.key(session.idHash));
        return;
      }
      await this.redis.set(this.key(session.idHash), JSON.stringify(session), 'PX', ttlMs);
    });
  }

  async get(idHash: string): Promise<Session | null> {
    const text = await this.run('get', () => this.redis.get(this.key(idHash)));
    if (text === null) return null;
    const session = JSON.parse(text) as Session;
    // The key's TTL follows Redis's clock; the session's own end follows ours.
    return session.expiresAt > this.now() ? session : null;
  }

  async delete(idHash: string): Promise<void> {
    await this.run('delete', () => this.redis.del(this.key(idHash)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
