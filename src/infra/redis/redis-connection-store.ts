import type Redis from 'ioredis';
import { SyncError } from '../../errors';
import type {
  ConnectionStore,
  OrgConnection,
  PendingAuthorization,
} from '../../orgs/connection-store';
import {
  PENDING_GRACE_MS,
  assertOrgId,
  assertRestorable,
  openConnection,
  openPending,
  sealConnection,
  sealPending,
} from '../../orgs/connection-store';
import type { SecretBox } from '../secrets';
import { closeRedis, redisOp } from './connect';
import type { ScriptCall } from './lua-scripts';
import { defineScript } from './lua-scripts';

export interface RedisConnectionStoreDeps {
  redis: Redis;
  /** Prepended to every key, e.g. "ils:". */
  keyPrefix: string;
  secrets: SecretBox;
  /** When true, close() also closes the client; leave false when the client is shared. */
  ownsClient?: boolean;
  now?: () => number;
}

/** Optimistic rounds before an update gives up (each lost round means another writer won). */
const MAX_UPDATE_ROUNDS = 20;

/**
 * ConnectionStore on Redis. Key layout under the prefix:
 * - `conn:<orgId>`: the sealed record (JSON string);
 * - `conns`: set of org ids, for `list`;
 * - `oauth:<state>`: a sealed pending authorization, expiring by itself.
 *
 * `update` is a compare-and-set on the stored string (compare-and-set-1.lua): sealing uses a
 * fresh IV, so two writers never produce the same string and a lost race is always seen.
 */
export class RedisConnectionStore implements ConnectionStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly secrets: SecretBox;
  private readonly ownsClient: boolean;
  private readonly now: () => number;
  private readonly compareAndSet: ScriptCall;
  private closed = false;

  constructor(deps: RedisConnectionStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.secrets = deps.secrets;
    this.ownsClient = deps.ownsClient ?? false;
    this.now = deps.now ?? Date.now;
    this.compareAndSet = defineScript(this.redis, 'compare-and-set-1.lua');
  }

  private recordKey(orgId: string): string {
    return `${this.prefix}conn:${orgId}`;
  }

  private get indexKey(): string {
    return `${this.prefix}conns`;
  }

  private pendingKey(state: string): string {
    return `${this.prefix}oauth:${state}`;
  }

  private async run<T>(
    op: string,
    context: Record<string, unknown>,
    fn: () => Promise<T>,
  ): Promise<T> {
    return redisOp({ name: 'connection store', closed: this.closed }, op, context, fn);
  }

  async get(orgId: string): Promise<OrgConnection | null> {
    assertOrgId(orgId);
    const raw = await this.run('get', { orgId }, () => this.redis.get(this.recordKey(orgId)));
    return raw === null ? null : openConnection(this.secrets, raw);
  }

  async list(): Promise<OrgConnection[]> {
    const out: OrgConnection[] = [];
    await this.run('list', {}, async () => {
      const ids = (await this.redis.smembers(this.indexKey)).sort();
      for (let i = 0; i < ids.length; i += 100) {
        const chunk = ids.slice(i, i + 100);
        const values = await this.redis.mget(...chunk.map((id) => this.recordKey(id)));
        for (const raw of values) if (raw !== null) out.push(openConnection(this.secrets, raw));
      }
    });
    return out;
  }

  async update(
    orgId: string,
    change: (current: OrgConnection | null) => OrgConnection | null,
  ): Promise<OrgConnection | null> {
    assertOrgId(orgId);
    const key = this.recordKey(orgId);
    for (let round = 1; round <= MAX_UPDATE_ROUNDS; round++) {
      const raw = await this.run('update', { orgId }, () => this.redis.get(key));
      const current = raw === null ? null : openConnection(this.secrets, raw);
      const next = change(current);
      if (next === null) return current;
      if (next.orgId !== orgId) throw new SyncError('INTERNAL', 'update changed the orgId');
      const sealed = sealConnection(this.secrets, next);
      const applied = await this.run('update', { orgId }, async () => {
        const reply = await this.compareAndSet(
          [key],
          raw === null ? ['0', '', sealed] : ['1', raw, sealed],
        );
        if (reply === 1) await this.redis.sadd(this.indexKey, orgId);
        return reply === 1;
      });
      if (applied) return next;
    }
    throw new SyncError('VERSION_CONFLICT', `connection of ${orgId} kept changing under us`, {
      context: { orgId, rounds: MAX_UPDATE_ROUNDS },
    });
  }

  async delete(orgId: string): Promise<boolean> {
    assertOrgId(orgId);
    return this.run('delete', { orgId }, async () => {
      const [[, removed] = [null, 0]] =
        (await this.redis.multi().del(this.recordKey(orgId)).srem(this.indexKey, orgId).exec()) ??
        [];
      return Number(removed) > 0;
    });
  }

  async restore(orgId: string, sealed: string): Promise<boolean> {
    assertOrgId(orgId);
    assertRestorable(this.secrets, orgId, sealed);
    return this.run('restore', { orgId }, async () => {
      const set = await this.redis.set(this.recordKey(orgId), sealed, 'NX');
      if (set === null) return false;
      await this.redis.sadd(this.indexKey, orgId);
      return true;
    });
  }

  async putPending(pending: PendingAuthorization): Promise<void> {
    assertState(pending.state);
    const ttlMs = Math.max(1, pending.expiresAt + PENDING_GRACE_MS - this.now());
    await this.run('putPending', { orgId: pending.orgId }, () =>
      this.redis.set(
        this.pendingKey(pending.state),
        sealPending(this.secrets, pending),
        'PX',
        ttlMs,
      ),
    );
  }

  async takePending(state: string): Promise<PendingAuthorization | null> {
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(state)) return null;
    const raw = await this.run('takePending', {}, async () => {
      // GET and DEL in one transaction: of two callbacks racing with one state, one wins.
      const replies = await this.redis
        .multi()
        .get(this.pendingKey(state))
        .del(this.pendingKey(state))
        .exec();
      const value = replies?.[0]?.[1];
      return typeof value === 'string' ? value : null;
    });
    return raw === null ? null : openPending(this.secrets, raw);
  }

  async raw(orgId: string): Promise<string | null> {
    assertOrgId(orgId);
    return this.run('raw', { orgId }, () => this.redis.get(this.recordKey(orgId)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}

function assertState(state: string): void {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(state)) {
    throw new SyncError('INTERNAL', 'OAuth state must be base64url');
  }
}
