import type Redis from 'ioredis';
import { normalizeEmail, type EmailIndex } from '../../core/email-index';
import { storeError } from './connect';
import { defineScript, type ScriptCall } from './lua-scripts';

/** EmailIndex on Redis: one set per organization and email, `<prefix>email:{orgId}:<email>`. */
export class RedisEmailIndex implements EmailIndex {
  private readonly claimScript: ScriptCall;

  constructor(private readonly deps: { redis: Redis; keyPrefix: string }) {
    this.claimScript = defineScript(deps.redis, 'email-claim-1.lua');
  }

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
      // One script: the members read are exactly those that were there before our add.
      const members = (await this.claimScript([key], [pairId])) as string[];
      return members.filter((id) => id !== pairId).sort();
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
    try {
      // One command is atomic on its own: no transaction needed (the common case).
      if (change.add.length + change.remove.length === 1) {
        if (change.add[0] !== undefined)
          await this.deps.redis.sadd(this.key(orgId, change.add[0]), pairId);
        else await this.deps.redis.srem(this.key(orgId, change.remove[0]!), pairId);
        return;
      }
    } catch (err) {
      throw storeError(err, { op: 'email-index update' });
    }
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
