import type Redis from 'ioredis';
import type { AuditEntry, AuditLog } from '../../admin/audit-log';
import { closeRedis, redisOp } from './connect';

export interface RedisAuditLogDeps {
  redis: Redis;
  keyPrefix: string;
  /** Entries kept per organization (approximately: MAXLEN ~). Default 10,000. */
  maxEntries?: number;
  ownsClient?: boolean;
}

/**
 * AuditLog on Redis: one stream per organization, `audit:<orgId>`, each entry one field `e`
 * holding the entry as JSON, trimmed to about `maxEntries` as it grows. Stream ids order the
 * entries across processes and page the list (XREVRANGE from just below `before`).
 */
export class RedisAuditLog implements AuditLog {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly maxEntries: number;
  private readonly ownsClient: boolean;
  private closed = false;

  constructor(deps: RedisAuditLogDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.maxEntries = deps.maxEntries ?? 10_000;
    this.ownsClient = deps.ownsClient ?? false;
  }

  private run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return redisOp({ name: 'audit log', closed: this.closed }, op, {}, fn);
  }

  private key(orgId: string): string {
    return `${this.prefix}audit:${orgId}`;
  }

  async append(entry: Omit<AuditEntry, 'id'>): Promise<void> {
    await this.run('append', () =>
      this.redis.xadd(
        this.key(entry.orgId),
        'MAXLEN',
        '~',
        String(this.maxEntries),
        '*',
        'e',
        JSON.stringify(entry),
      ),
    );
  }

  async list(orgId: string, options: { limit: number; before?: string }): Promise<AuditEntry[]> {
    // An exclusive end (`(` id) pages on from the last entry seen.
    const end = options.before === undefined ? '+' : `(${options.before}`;
    const rows = await this.run('list', () =>
      this.redis.xrevrange(this.key(orgId), end, '-', 'COUNT', options.limit),
    );
    return rows.map(([id, fields]) => ({
      ...(JSON.parse(fields[1] ?? '{}') as Omit<AuditEntry, 'id'>),
      id,
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
