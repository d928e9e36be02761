import type Redis from 'ioredis';
import { checkMembershipArgs, type Membership } from '../../pipeline/membership';
import { closeRedis, redisOp } from './connect';
import type { ScriptCall } from './lua-scripts';
import { defineScript } from './lua-scripts';

export interface RedisMembershipDeps {
  redis: Redis;
  /** Prepended to every key, e.g. "ils:". */
  keyPrefix: string;
  /** When true, close() also closes the client; leave false when the client is shared. */
  ownsClient?: boolean;
}

/**
 * Membership on Redis: one sorted set per group, `<prefix>members:<group>`, scoring each
 * member by when its last heartbeat runs out on the server's clock. A heartbeat (Lua) prunes,
 * adds and reads in one round trip; the set expires with its longest-lived member.
 */
export class RedisMembership implements Membership {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly heartbeatScript: ScriptCall;
  private readonly membersScript: ScriptCall;
  private closed = false;

  constructor(deps: RedisMembershipDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.ownsClient = deps.ownsClient ?? false;
    this.heartbeatScript = defineScript(this.redis, 'heartbeat-member-1.lua');
    this.membersScript = defineScript(this.redis, 'live-members-1.lua');
  }

  private key(group: string): string {
    return `${this.prefix}members:${group}`;
  }

  private op<T>(op: string, group: string, fn: () => Promise<T>): Promise<T> {
    return redisOp({ name: 'membership', closed: this.closed }, op, { group }, fn);
  }

  async heartbeat(group: string, member: string, ttlMs: number): Promise<string[]> {
    checkMembershipArgs(group, member, ttlMs);
    return this.op('heartbeat', group, async () => {
      const live = (await this.heartbeatScript([this.key(group)], [member, ttlMs])) as string[];
      return [...live].sort();
    });
  }

  async members(group: string): Promise<string[]> {
    checkMembershipArgs(group);
    return this.op('members', group, async () => {
      const live = (await this.membersScript([this.key(group)], [])) as string[];
      return [...live].sort();
    });
  }

  async leave(group: string, member: string): Promise<void> {
    checkMembershipArgs(group, member);
    await this.op('leave', group, () => this.redis.zrem(this.key(group), member));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
