import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DEPLOYED_ENV, DEPLOYED_HEAP_FLAG } from './deployed';

/**
 * Connector processes as deployed: `node src/main.js` (the composition root, `npm start`)
 * with its configuration in the environment, each with its own admin API port, all sharing
 * Kafka, the registry and Redis under one prefix. Nothing is injected: the bench reaches them
 * over HTTP, as an administrator and Prometheus would, and reads what the kernel says of them
 * (/proc), so a `kill -9` is a real one.
 */

export interface ConnectorMain {
  index: number;
  pid: number;
  url: string;
  logFile: string;
  /** Exit code or signal once the process has ended, null while it runs. */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** SIGKILL: no shutdown, no lease release, as a crashed host. */
  kill9(): void;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

/** The built main.js beside the built bench, or the TypeScript one under ts-node. */
function mainCommand(): string[] {
  if (__filename.endsWith('.ts')) {
    return ['-r', 'ts-node/register/transpile-only', join(__dirname, '..', 'src', 'main.ts')];
  }
  return [join(__dirname, '..', 'src', 'main.js')];
}

/**
 * Starts one connector process with `env` (PORT must be set) and resolves once its /readyz
 * answers 200. Its stdout and stderr go to `logFile`.
 */
export async function startConnectorMain(
  index: number,
  env: Record<string, string>,
  logFile: string,
  readyTimeoutMs = 180_000,
): Promise<ConnectorMain> {
  const url = `http://127.0.0.1:${env.PORT}`;
  const log = createWriteStream(logFile, { flags: 'a' });
  // BENCH_CONNECTOR_NODE_FLAGS: e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where a
  // connector's time goes (the profile is written at its clean stop).
  const flags = (process.env.BENCH_CONNECTOR_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  // BENCH_CONNECTOR_NODE: another node binary for the connectors only (the sandboxes stay on
  // this one), to tell a Node version's effect on the connector from its effect on the bench.
  const child: ChildProcess = spawn(
    process.env.BENCH_CONNECTOR_NODE || process.execPath,
    [DEPLOYED_HEAP_FLAG, ...flags, ...mainCommand()],
    {
      env: { PATH: process.env.PATH ?? '', ...DEPLOYED_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exit) throw new Error(`connector ${index} exited while starting; see ${logFile}`);
    const ready = await fetch(`${url}/readyz`).catch(() => null);
    if (ready?.status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`connector ${index} not ready after ${readyTimeoutMs} ms; see ${logFile}`);
    }
    await sleep(250);
  }
  return {
    index,
    pid: child.pid ?? 0,
    url,
    logFile,
    exited: () => exit,
    kill9: () => {
      child.kill('SIGKILL');
    },
    stop: async (graceMs = 40_000) => {
      if (exit) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      log.end();
    },
  };
}

/** What the kernel says of one process. */
export interface ProcessSample {
  rssMb: number;
  /** Open file descriptors, and of them sockets (TCP to Kafka, Redis, the APIs, clients). */
  fds: number;
  sockets: number;
  /** User + system CPU since the process started. */
  cpuMs: number;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

export async function sampleProcess(pid: number): Promise<ProcessSample> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces: utime and stime are the 12th and
  // 13th of them (14th and 15th of the line).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const fdDir = `/proc/${pid}/fd`;
  const fds = await readdir(fdDir);
  const links = await Promise.all(fds.map((fd) => readlink(join(fdDir, fd)).catch(() => '')));
  return {
    rssMb: Math.round((rssKb / 1024) * 10) / 10,
    fds: fds.length,
    sockets: links.filter((l) => l.startsWith('socket:')).length,
    cpuMs: Math.round((ticks / USER_HZ) * 1000),
  };
}

/** Series in one /metrics text, and those carrying an `org` label. */
export interface SeriesCount {
  series: number;
  withOrgLabel: number;
  /** How long the scrape took to answer. */
  scrapeMs: number;
  /** The process's longest event-loop delay since the previous scrape (prom-client's). */
  eventLoopLagMaxMs: number;
  heapUsedMb: number;
}

export async function countSeries(url: string): Promise<SeriesCount> {
  const started = Date.now();
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  const scrapeMs = Date.now() - started;
  if (res.status !== 200) throw new Error(`${url}/metrics: ${res.status}`);
  let series = 0;
  let withOrgLabel = 0;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    series += 1;
    if (/[{,]org="/.test(line)) withOrgLabel += 1;
  }
  const value = (name: string): number =>
    Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    series,
    withOrgLabel,
    scrapeMs,
    eventLoopLagMaxMs: Math.round(value('nodejs_eventloop_lag_max_seconds') * 1000),
    heapUsedMb: Math.round(value('nodejs_heap_size_used_bytes') / 2 ** 20),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
