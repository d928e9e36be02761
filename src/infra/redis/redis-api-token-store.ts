import type Redis from 'ioredis';
import type { ApiToken, ApiTokenStore } from '../../admin/token-store';
import { closeRedis, redisOp } from './connect';

export interface RedisApiTokenStoreDeps {
  redis: Redis;
  keyPrefix: string;
  ownsClient?: boolean;
}

/**
 * ApiTokenStore on Redis, shared by every process: `apitoken:<id>` holds the token as JSON
 * (the secret's hash, never the secret), `apitokens:<orgId>` the set of an organization's ids,
 * `apitokens-used:<orgId>` a hash of last uses by id (apart, so a use never rewrites the
 * token; a use racing a revocation leaves at most a field there, never a key). Every request
 * reads the token, so a revocation holds at every process's next request.
 */
export class RedisApiTokenStore implements ApiTokenStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private closed = false;

  constructor(deps: RedisApiTokenStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.ownsClient = deps.ownsClient ?? false;
  }

  private run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return redisOp({ name: 'token store', closed: this.closed }, op, {}, fn);
  }

  private tokenKey(id: string): string {
    return `${this.prefix}apitoken:${id}`;
  }

  private usedKey(orgId: string): string {
    return `${this.prefix}apitokens-used:${orgId}`;
  }

  private orgKey(orgId: string): string {
    return `${this.prefix}apitokens:${orgId}`;
  }

  async create(token: ApiToken): Promise<void> {
    const { lastUsedAt: _unused, ...stored } = token;
    await this.run('create', async () => {
      await this.redis
        .multi()
        .set(this.tokenKey(token.id), JSON.stringify(stored))
        .sadd(this.orgKey(token.orgId), token.id)
        .exec();
    });
  }

  async get(id: string): Promise<ApiToken | null> {
    const text = await this.run('get', () => this.redis.get(this.tokenKey(id)));
    if (!text) return null;
    const token = JSON.parse(text) as Omit<ApiToken, 'lastUsedAt'>;
    const used = await this.run('get', () => this.redis.hget(this.usedKey(token.orgId), id));
    return { ...token, lastUsedAt: used ? Number(used) : null };
  }

  async list(orgId: string): Promise<ApiToken[]> {
    const ids = await this.run('list', () => this.redis.smembers(this.orgKey(orgId)));
    const tokens = await Promise.all(ids.map((id) => this.get(id)));
    return tokens
      .filter((t): t is ApiToken => t !== null && t.orgId === orgId)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async revoke(orgId: string, id: string): Promise<boolean> {
    const token = await this.get(id);
    if (token?.orgId !== orgId) return false;
    const [deleted] = await this.run('revoke', async () => {
      const out = await this.redis
        .multi()
        .del(this.tokenKey(id))
        .srem(this.orgKey(orgId), id)
        .hdel(this.usedKey(orgId), id)
        .exec();
      return [Number(out?.[0]?.[1] ?? 0)];
    });
    return deleted > 0;
  }

  async touch(orgId: string, id: string, at: number): Promise<void> {
    await this.run('touch', () => this.redis.hset(this.usedKey(orgId), id, String(at)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
