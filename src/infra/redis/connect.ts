import Redis from 'ioredis';
import { SyncError, isSyncError } from '../../errors';
import type { Logger } from '../../logger';

export interface CreateRedisOptions {
  /** Shown in CLIENT LIST, to tell the connector's connections apart. */
  connectionName?: string;
  /**
   * Reconnect attempts a command waits through before it fails (then as STORE_UNAVAILABLE).
   * Kept low so a Redis outage surfaces to the caller's retry and back-pressure instead of
   * piling commands up in memory.
   */
  maxRetriesPerRequest?: number;
  connectTimeoutMs?: number;
  logger?: Logger;
}

/**
 * Opens an ioredis client. It connects at once (lazyConnect false), waits for the server to
 * finish loading before running commands (enableReadyCheck), and reconnects forever with a
 * capped backoff; while disconnected, each command waits through at most
 * `maxRetriesPerRequest` reconnect attempts. Key prefixes are applied by the stores, not by
 * the client, so one client can serve several stores. Close it with `closeRedis`.
 */
export function createRedis(url: string, options: CreateRedisOptions = {}): Redis {
  const client = new Redis(url, {
    connectionName: options.connectionName ?? 'initlive-salesforce-sync',
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 3,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    enableReadyCheck: true,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    // ioredis keeps a timer this long after disconnect() even when the socket is long gone,
    // which holds a shutting-down process (and jest) open.
    disconnectTimeout: 200,
    // Commands issued in one tick go out in one socket write. The reconciler makes several
    // round trips per change across many concurrent changes; one write per command made the
    // socket writes the largest CPU cost of a full sync (measured with --cpu-prof).
    enableAutoPipelining: true,
  });
  // Without a listener ioredis prints every failed reconnect; the failures reach callers as
  // rejected commands anyway, so they are logged once per state change here.
  let down = false;
  client.on('error', (err: Error) => {
    if (!down) options.logger?.warn('redis connection error', { err });
    down = true;
  });
  client.on('ready', () => {
    if (down) options.logger?.info('redis connection restored');
    down = false;
  });
  return client;
}

/**
 * Deletes every key starting with `prefix` (SCAN, then DEL per page), e.g. what one deployment
 * prefix, benchmark or test left behind. Keys written meanwhile may survive.
 */
export async function deleteByPrefix(client: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) deleted += await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

/** Closes a client: QUIT when connected (pending replies arrive first), otherwise disconnects. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/** Redis replies that mean "not now" rather than "never". */
const transientReply = /^(BUSY|LOADING|READONLY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|MOVED|ASK)\b/;

/**
 * Maps a failed Redis call to a SyncError: no connection (closed socket, refused connect,
 * MaxRetriesPerRequestError, timeouts) and transient server states become STORE_UNAVAILABLE
 * (retriable); any other error reply (a bug in a script or a key of the wrong type) is INTERNAL.
 */
export function storeError(err: unknown, context: Record<string, unknown> = {}): SyncError {
  if (isSyncError(err)) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  if (e.name === 'ReplyError' && !transientReply.test(e.message)) {
    return new SyncError('INTERNAL', `redis refused: ${e.message}`, { cause: err, context });
  }
  return new SyncError('STORE_UNAVAILABLE', `redis unavailable: ${e.message}`, {
    cause: err,
    context,
  });
}

/**
 * Runs one store operation: refuses it once the store was closed (not retriable: a closed
 * handle stays closed), and turns whatever Redis throws into storeError's codes. Every Redis
 * adapter goes through this, so they fail alike.
 */
export async function redisOp<T>(
  store: { name: string; closed: boolean },
  op: string,
  context: Record<string, unknown>,
  fn: () => Promise<T>,
): Promise<T> {
  if (store.closed) {
    throw new SyncError('STORE_UNAVAILABLE', `${store.name} is closed`, {
      retriable: false,
      context: { op, ...context },
    });
  }
  try {
    return await fn();
  } catch (err) {
    throw storeError(err, { op, ...context });
  }
}
