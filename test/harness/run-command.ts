import { spawn } from 'node:child_process';

export interface CommandResult {
  /** Exit code; null when killed by a signal or the timeout. */
  code: number | null;
  /** stdout and stderr interleaved, as a person at a terminal would have seen them. */
  output: string;
  /** Set when the command could not be started (ENOENT for a missing binary). */
  spawnError?: NodeJS.ErrnoException;
  timedOut: boolean;
}

/**
 * Runs a short-lived command to completion and collects its output. Never rejects: callers turn
 * the result into an error message that names what is missing.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let size = 0;
    const collect = (chunk: Buffer): void => {
      // Keep the last ~1 MB: enough for any error tail, bounded for chatty tools.
      chunks.push(chunk);
      size += chunk.length;
      while (size > 1_000_000 && chunks.length > 1) size -= chunks.shift()!.length;
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    let settled = false;
    const finish = (code: number | null, spawnError?: NodeJS.ErrnoException): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code, output: Buffer.concat(chunks).toString('utf8'), spawnError, timedOut });
    };
    child.once('error', (err: NodeJS.ErrnoException) => finish(null, err));
    child.once('close', (code) => finish(code));
  });
}
