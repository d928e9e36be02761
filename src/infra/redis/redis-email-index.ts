import type Redis from 'ioredis';
import { normalizeEmail, type EmailIndex } from '../../core/email-index';
import { storeError } from './connect';

/** EmailIndex on Redis: one set per organization and email, `<prefix>email:{orgId}:<email>`. */
export class RedisEmailIndex implements EmailIndex {
  constructor(private readonly deps: { redis: Redis; keyPrefix: string }) {}

  private key(orgId: string, email: string): string {
    return `${this.deps.keyPrefix}email:{${orgId}}:${normalizeEmail(email)}`;
  }

  async find(orgId: string, email: string): Promise<string[]> {
    try {
      return (await this.deps.redis.smembers(this.key(orgId, email))).sort();
    } catch (err) {
      throw storeError(err, { op: 'email-index find' });
    }
  }

  async claim(orgId: string, email: string, pairId: string): Promise<string[]> {
    const key = this.key(orgId, email);
    try {
      // MULTI runs both commands with nothing in between: the members we read are exactly
      // those that were there before our add.
      const replies = await this.deps.redis.multi().smembers(key).sadd(key, pairId).exec();
      const [err, members] = replies?.[0] ?? [null, []];
      if (err) throw err;
      return (members as string[]).filter((id) => id !== pairId).sort();
    } catch (err) {
      throw storeError(err, { op: 'email-index claim' });
    }
  }

  async update(
    orgId: string,
    pairId: string,
    change: { add: string[]; remove: string[] },
  ): Promise<void> {
    if (change.add.length === 0 && change.remove.length === 0) return;
    const multi = this.deps.redis.multi();
    for (const email of change.remove) multi.srem(this.key(orgId, email), pairId);
    for (const email of change.add) multi.sadd(this.key(orgId, email), pairId);
    try {
      await multi.exec();
    } catch (err) {
      throw storeError(err, { op: 'email-index update' });
    }
  }

  async close(): Promise<void> {}
}
