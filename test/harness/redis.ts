import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { harnessLog, secondsSince, sleep } from './log';
import { freePort } from './ports';
import { describeExit, spawnService, stopService } from './processes';
import type { StartedService } from './started-service';

/** The machine-wide Redis that developer and CI machines run; tests isolate by key prefix. */
const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';
const READY_TIMEOUT_MS = 15_000;

/** PING, then the version from INFO server. Rejects when the server does not answer. */
async function probe(url: string, timeoutMs: number): Promise<string> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // Without retries ioredis rejects with a bare "Connection is closed"; the socket error it
  // emits first (ECONNREFUSED, ENOTFOUND) is what explains the failure.
  let socketError: Error | undefined;
  client.on('error', (err: Error) => {
    socketError ??= err;
  });
  try {
    await client.connect().catch((err: unknown) => {
      throw socketError ?? err;
    });
    const pong = await client.ping();
    if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
    const info = await client.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown version';
  } finally {
    client.disconnect();
  }
}

function findOnPath(name: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(path.delimiter),
    '/usr/sbin',
    '/usr/bin',
    '/usr/local/bin',
  ];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function existing(url: string, version: string, origin: string): StartedService {
  harnessLog(`Redis ${version} at ${url} (existing server${origin})`);
  return { name: 'Redis', address: url, owned: false, stop: async () => undefined };
}

/**
 * Finds or starts Redis: REDIS_URL if set (must answer PING), else the local server at
 * `localUrl` (127.0.0.1:6379) if it answers, else a private `redis-server` on a free port with persistence off. Throws
 * naming what is missing when none of these works.
 */
export async function startRedis(
  runDir: string,
  localUrl: string = LOCAL_REDIS_URL,
): Promise<StartedService> {
  const configured = process.env.REDIS_URL;
  if (configured) {
    try {
      return existing(configured, await probe(configured, 5000), ' from REDIS_URL');
    } catch (err) {
      throw new Error(
        `REDIS_URL=${configured} is set but Redis did not answer PING (${(err as Error).message}). ` +
          `Unset it to let the harness use or start a local Redis.`,
      );
    }
  }
  let localError: string;
  try {
    return existing(localUrl, await probe(localUrl, 1000), '');
  } catch (err) {
    localError = (err as Error).message;
  }

  const bin = findOnPath('redis-server');
  if (!bin) {
    throw new Error(
      `Redis not available: nothing answers at ${localUrl} (${localError}) and no ` +
        `redis-server binary was found on PATH or in /usr/sbin, /usr/bin, /usr/local/bin. ` +
        `Install it (apt-get install redis-server) or set REDIS_URL.`,
    );
  }
  return startRedisServer(path.join(runDir, 'redis'), await freePort(), bin);
}

/**
 * A private `redis-server` on `port` with its files in `home`: persistence off unless `args`
 * turn it on. For the harness, and for tests that must restart Redis (never the shared one).
 */
export async function startRedisServer(
  home: string,
  port: number,
  bin: string | undefined = findOnPath('redis-server'),
  args: readonly string[] = ['--save', '', '--appendonly', 'no'],
): Promise<StartedService> {
  if (!bin) throw new Error('no redis-server binary on PATH (apt-get install redis-server)');
  const started = Date.now();
  fs.mkdirSync(home, { recursive: true });
  const proc = spawnService(
    'Redis',
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', ...args, '--dir', home],
    { cwd: home, logFile: path.join(home, 'redis.log') },
  );
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline && proc.exitInfo() === undefined) {
    try {
      const version = await probe(url, 1000);
      harnessLog(
        `Redis ${version} started at ${url} in ${secondsSince(started)} (pid ${proc.pid})`,
      );
      return {
        name: 'Redis',
        address: url,
        owned: true,
        pid: proc.pid,
        stop: async () => {
          await stopService(proc);
          harnessLog(`Redis ${version} at ${url} stopped`);
        },
      };
    } catch (err) {
      lastError = (err as Error).message;
      await sleep(100);
    }
  }
  const exit = proc.exitInfo();
  await stopService(proc);
  throw new Error(
    `${bin} ${exit ? describeExit(exit) : `did not answer PING within ${READY_TIMEOUT_MS / 1000}s (${lastError})`}. ` +
      `Log tail:\n${proc.logTail(20)}`,
  );
}
