import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { harnessLog, tail, timeout } from './log';

/**
 * Service processes (Kafka, Apicurio, redis-server) run detached, each as the leader of its
 * own process group, so one signal to the group reaches the JVM and anything it forks, and a
 * Ctrl-C meant for jest does not half-kill a broker mid-test. Because they are detached, the
 * harness itself must make sure they die with the run: `stop()` on the normal path, a
 * synchronous SIGKILL on `exit` / SIGINT / SIGTERM / SIGHUP, and a tiny `sh` watchdog per
 * service that kills the group if the parent vanishes without running any handler
 * (SIGKILL, OOM killer).
 */

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (e.g. ENOENT). */
  error?: Error;
}

export interface ServiceProcess {
  readonly label: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Non-undefined once the process has exited. */
  exitInfo(): ExitInfo | undefined;
  /** The last lines of the process's combined stdout/stderr. */
  logTail(lines?: number): string;
}

interface Tracked {
  label: string;
  watchdogPid: number | undefined;
}

/** Groups still to be killed on exit. */
const live = new Map<number, Tracked>();
/** Every spawned child until stopService retires it, even after an emergency kill. */
const children = new Map<number, ChildProcess>();
let hooksInstalled = false;

const watchdogScript = [
  // $1 = parent pid, $2 = service process group. Poll both; when the parent is gone while the
  // group still lives, the run was killed without cleanup: take the group down.
  'while kill -0 "$1" 2>/dev/null && kill -0 -"$2" 2>/dev/null; do sleep 1; done',
  'if kill -0 -"$2" 2>/dev/null; then kill -TERM -"$2" 2>/dev/null; sleep 5; kill -KILL -"$2" 2>/dev/null; fi',
].join('\n');

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    // ESRCH: the group is already gone, which is what we wanted.
    return false;
  }
}

function killAllNow(reason: string): void {
  if (live.size === 0) return;
  const names = [...live.entries()].map(([pid, t]) => `${t.label} (pid ${pid})`).join(', ');
  for (const [pgid, tracked] of live) {
    signalGroup(pgid, 'SIGKILL');
    if (tracked.watchdogPid !== undefined) signalGroup(tracked.watchdogPid, 'SIGKILL');
  }
  live.clear();
  harnessLog(`${reason}: killed ${names}`);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => killAllNow('process exiting'));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllNow(`received ${signal}`);
      process.removeListener(signal, onSignal);
      // Without other listeners, re-raising gives the default action (terminate with the
      // signal's status), as if we had never intercepted it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function startWatchdog(pgid: number): number | undefined {
  const watchdog = spawn(
    'sh',
    ['-c', watchdogScript, 'harness-watchdog', String(process.pid), String(pgid)],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  watchdog.on('error', () => undefined);
  watchdog.unref();
  return watchdog.pid;
}

export interface SpawnOptions {
  cwd: string;
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a long-running service process in its own process group, stdout and stderr appended
 * to `logFile`. The process is registered for cleanup at once. Spawn failures (missing binary)
 * surface through `exited`, with `error` set.
 */
export function spawnService(
  label: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): ServiceProcess {
  const out = fs.openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', out, out],
    });
  } finally {
    fs.closeSync(out);
  }
  let info: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      info ??= { code, signal };
      resolve(info);
    });
    child.once('error', (error) => {
      info ??= { code: null, signal: null, error };
      resolve(info);
    });
  });
  // The harness polls and keeps its own handles; the child must not keep the parent alive.
  child.unref();
  const pid = child.pid ?? -1;
  if (pid > 0) {
    installExitHooks();
    live.set(pid, { label, watchdogPid: startWatchdog(pid) });
    children.set(pid, child);
    void exited.then(() => {
      // The leader is gone; sweep any stragglers in its group but keep it registered until
      // stopService, which also retires the watchdog.
      signalGroup(pid, 'SIGKILL');
    });
  }
  return {
    label,
    pid,
    logFile: options.logFile,
    exited,
    exitInfo: () => info,
    logTail: (lines = 30) => {
      try {
        return tail(fs.readFileSync(options.logFile, 'utf8'), lines);
      } catch {
        return '    (no log)';
      }
    },
  };
}

/**
 * Stops a service: SIGTERM to its process group, SIGKILL after `graceMs`. Idempotent; never
 * throws. Test services hold no data worth a slow shutdown, so the grace period is short.
 */
export async function stopService(proc: ServiceProcess, graceMs = 5000): Promise<void> {
  const tracked = live.get(proc.pid);
  const child = children.get(proc.pid);
  if (proc.pid > 0 && proc.exitInfo() === undefined) {
    // Children are unref'd so they never hold the parent open; while we wait for one to exit
    // it must, or an otherwise idle parent (jest in globalTeardown) would exit mid-stop.
    child?.ref();
    signalGroup(proc.pid, 'SIGTERM');
    const done = await Promise.race([
      proc.exited.then(() => true),
      timeout(graceMs).then(() => false),
    ]);
    if (!done) {
      signalGroup(proc.pid, 'SIGKILL');
      await Promise.race([proc.exited, timeout(5000)]);
    }
  }
  if (proc.pid > 0) signalGroup(proc.pid, 'SIGKILL');
  child?.unref();
  children.delete(proc.pid);
  if (tracked?.watchdogPid !== undefined) signalGroup(tracked.watchdogPid, 'SIGKILL');
  live.delete(proc.pid);
}

/** Describes how a process ended, for error messages. */
export function describeExit(info: ExitInfo): string {
  if (info.error) return `could not be started: ${info.error.message}`;
  if (info.signal) return `was killed by ${info.signal}`;
  return `exited with code ${info.code}`;
}
