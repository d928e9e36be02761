import type Redis from 'ioredis';
import type { DeadLetterStore } from './admin/dead-letter-store';
import type { SessionStore } from './admin/session-store';
import type { ApiTokenStore } from './admin/token-store';
import type { AuditLog } from './admin/audit-log';
import { MemoryAuditLog } from './infra/memory/memory-audit-log';
import { RedisAuditLog } from './infra/redis/redis-audit-log';
import type { Lock } from './batch/lock';
import type { RunQueue } from './batch/run-queue';
import type { RunStore } from './batch/run-store';
import type { Config } from './config';
import { MemoryConnectionStore } from './infra/memory/memory-connection-store';
import { MemoryDeadLetterStore } from './infra/memory/memory-dead-letter-store';
import { MemoryLock } from './infra/memory/memory-lock';
import { MemoryMembership } from './infra/memory/memory-membership';
import { MemoryRecordStatusStore } from './infra/memory/memory-record-status-store';
import { MemoryRunQueue } from './infra/memory/memory-run-queue';
import { MemoryRunStore } from './infra/memory/memory-run-store';
import { MemoryWriteHoldStore } from './infra/memory/memory-write-hold-store';
import { MemoryParkedWriteStore } from './infra/memory/memory-parked-write-store';
import { MemorySessionStore } from './infra/memory/memory-session-store';
import { MemoryApiTokenStore } from './infra/memory/memory-api-token-store';
import { closeRedis, createRedis } from './infra/redis/connect';
import { RedisConnectionStore } from './infra/redis/redis-connection-store';
import { RedisDeadLetterStore } from './infra/redis/redis-dead-letter-store';
import { RedisLock } from './infra/redis/redis-lock';
import { RedisMembership } from './infra/redis/redis-membership';
import { RedisRecordStatusStore } from './infra/redis/redis-record-status-store';
import { RedisRunQueue } from './infra/redis/redis-run-queue';
import { RedisRunStore } from './infra/redis/redis-run-store';
import { RedisWriteHoldStore } from './infra/redis/redis-write-hold-store';
import { RedisParkedWriteStore } from './infra/redis/redis-parked-write-store';
import { RedisSessionStore } from './infra/redis/redis-session-store';
import { RedisApiTokenStore } from './infra/redis/redis-api-token-store';
import { createSecretBox, generateEncryptionKey } from './infra/secrets';
import type { Logger } from './logger';
import type { ConnectionStore } from './orgs/connection-store';
import type { Membership } from './pipeline/membership';
import type { RecordStatusStore } from './outcomes/record-status-store';
import type { WriteHoldStore } from './sink/write-holds';
import type { ParkedWriteStore } from './sink/parked-writes';
import type { Side } from './core/pair-state';

/**
 * The control plane's stores (connections, dead letters, runs, locks, record status, console
 * sessions, API tokens): Redis
 * when REDIS_URL is set, so every process shares them, memory otherwise.
 */
export interface ControlStores {
  connections: ConnectionStore;
  deadLetters: DeadLetterStore;
  runs: RunStore;
  /** Scheduled runs waiting for a free slot (src/batch/run-queue.ts). */
  runQueue: RunQueue;
  lock: Lock;
  /** Which processes are alive, beside the lock: spreads the organizations' sources. */
  membership: Membership;
  statuses: RecordStatusStore;
  /** Which processes' sinks hold which organizations' writes. */
  holds: WriteHoldStore;
  /** Writes of held organizations, parked so the partitions they share move on. */
  parked: Record<Side, ParkedWriteStore>;
  /** Console sign-in sessions (src/admin/session-store.ts). */
  sessions: SessionStore;
  /** Per-organization API tokens (src/admin/token-store.ts). */
  tokens: ApiTokenStore;
  /** Admin actions (src/admin/audit-log.ts). */
  audit: AuditLog;
  /** The control stores' own client (for /readyz), or null in memory. */
  redis: Redis | null;
  close(): Promise<void>;
}

export function createControlStores(config: Config, logger: Logger): ControlStores {
  const key = config.ENCRYPTION_KEY ?? generateEncryptionKey();
  const secrets = createSecretBox(key);
  const statusLimits = { ttlMs: config.RECORD_HISTORY_TTL_MS };
  const stores = ((): Omit<ControlStores, 'close'> => {
    if (!config.REDIS_URL) {
      return {
        connections: new MemoryConnectionStore({ secrets }),
        deadLetters: new MemoryDeadLetterStore(),
        runs: new MemoryRunStore(),
        runQueue: new MemoryRunQueue(),
        lock: new MemoryLock(),
        membership: new MemoryMembership(),
        statuses: new MemoryRecordStatusStore(statusLimits),
        holds: new MemoryWriteHoldStore(),
        parked: {
          salesforce: new MemoryParkedWriteStore(),
          initlive: new MemoryParkedWriteStore(),
        },
        sessions: new MemorySessionStore(),
        tokens: new MemoryApiTokenStore(),
        audit: new MemoryAuditLog({ maxEntries: config.AUDIT_LOG_MAX_ENTRIES }),
        redis: null,
      };
    }
    const redis = createRedis(config.REDIS_URL, {
      connectionName: `${config.KAFKA_CLIENT_ID}-control`,
      logger: logger.child({ component: 'redis-control' }),
    });
    const keyPrefix = config.REDIS_KEY_PREFIX;
    return {
      connections: new RedisConnectionStore({ redis, keyPrefix, secrets }),
      deadLetters: new RedisDeadLetterStore({ redis, keyPrefix }),
      runs: new RedisRunStore({ redis, keyPrefix }),
      runQueue: new RedisRunQueue({ redis, keyPrefix }),
      lock: new RedisLock({ redis, keyPrefix }),
      membership: new RedisMembership({ redis, keyPrefix }),
      statuses: new RedisRecordStatusStore({ redis, keyPrefix, ...statusLimits }),
      holds: new RedisWriteHoldStore({ redis, keyPrefix }),
      parked: {
        salesforce: new RedisParkedWriteStore({ redis, keyPrefix, sink: 'salesforce' }),
        initlive: new RedisParkedWriteStore({ redis, keyPrefix, sink: 'initlive' }),
      },
      sessions: new RedisSessionStore({ redis, keyPrefix }),
      tokens: new RedisApiTokenStore({ redis, keyPrefix }),
      audit: new RedisAuditLog({ redis, keyPrefix, maxEntries: config.AUDIT_LOG_MAX_ENTRIES }),
      redis,
    };
  })();
  return {
    ...stores,
    close: async () => {
      await Promise.allSettled([
        stores.connections.close(),
        stores.deadLetters.close(),
        stores.runs.close(),
        stores.runQueue.close(),
        stores.lock.close(),
        stores.membership.close(),
        stores.statuses.close(),
        stores.holds.close(),
        stores.parked.salesforce.close(),
        stores.parked.initlive.close(),
        stores.sessions.close(),
        stores.tokens.close(),
        stores.audit.close(),
      ]);
      if (stores.redis) await closeRedis(stores.redis);
    },
  };
}
