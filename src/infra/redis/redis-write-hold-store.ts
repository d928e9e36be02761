import type Redis from 'ioredis';
import type { Side } from '../../core/pair-state';
import { assertKeyParts } from '../../core/version-store';
import { byAge, type WriteHold, type WriteHoldStore } from '../../sink/write-holds';
import { closeRedis, redisOp } from './connect';

export interface RedisWriteHoldStoreDeps {
  redis: Redis;
  /** Prepended to every key, e.g. "ils:". */
  keyPrefix: string;
  /** When true, close() also closes the client. */
  ownsClient?: boolean;
}

/**
 * WriteHoldStore on Redis: one hash per organization, `<prefix>holds:{org}`, a field per side
 * and process holding the hold and when it expires (JSON). Expired fields are dropped when the
 * hash is read; the hash itself expires with its newest entry. A side's last end is its own
 * key, `<prefix>holds:{org}:ended:<side>`, kept as long as it was asked to be.
 */
export class RedisWriteHoldStore implements WriteHoldStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private closed = false;

  constructor(deps: RedisWriteHoldStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.ownsClient = deps.ownsClient ?? false;
  }

  private key(orgId: string): string {
    return `${this.prefix}holds:{${orgId}}`;
  }

  private op<T>(op: string, orgId: string, fn: () => Promise<T>): Promise<T> {
    assertKeyParts({ orgId });
    return redisOp({ name: 'write hold store', closed: this.closed }, op, { orgId }, fn);
  }

  async put(hold: WriteHold, ttlMs: number): Promise<void> {
    await this.op('put', hold.orgId, async () => {
      const key = this.key(hold.orgId);
      await this.redis
        .multi()
        .hset(
          key,
          `${hold.side}:${hold.process}`,
          JSON.stringify({ ...hold, expiresAt: Date.now() + ttlMs }),
        )
        .pexpire(key, ttlMs)
        .exec();
    });
  }

  async end(orgId: string, side: Side, process: string, at: number, ttlMs: number): Promise<void> {
    await this.op('end', orgId, async () => {
      await this.redis
        .multi()
        .hdel(this.key(orgId), `${side}:${process}`)
        .set(`${this.key(orgId)}:ended:${side}`, String(at), 'PX', ttlMs)
        .exec();
    });
  }

  async lastEnded(orgId: string, side: Side): Promise<number | null> {
    return this.op('last end', orgId, async () => {
      const at = await this.redis.get(`${this.key(orgId)}:ended:${side}`);
      return at === null ? null : Number(at);
    });
  }

  async list(orgId: string): Promise<WriteHold[]> {
    return this.op('list', orgId, async () => {
      const raw = await this.redis.hgetall(this.key(orgId));
      const now = Date.now();
      const out: WriteHold[] = [];
      const expired: string[] = [];
      for (const [field, text] of Object.entries(raw)) {
        const { expiresAt, ...hold } = JSON.parse(text) as WriteHold & { expiresAt: number };
        if (expiresAt <= now) expired.push(field);
        else out.push(hold);
      }
      if (expired.length > 0) await this.redis.hdel(this.key(orgId), ...expired);
      return out.sort(byAge);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
