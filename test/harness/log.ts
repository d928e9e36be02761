/**
 * Harness messages go to stderr with one recognisable prefix, so a CI log shows at a glance
 * which real services the integration tests ran against.
 */
export function harnessLog(message: string): void {
  process.stderr.write(`[harness] ${message}\n`);
}

/** Seconds since `startMs`, one decimal, for the start/stop banners. */
export function secondsSince(startMs: number): string {
  return `${((Date.now() - startMs) / 1000).toFixed(1)}s`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Like sleep, but the timer does not keep the process alive: for timeouts raced against
 * something else, which would otherwise hold jest open after the run (and trigger its
 * "did not exit" warning) until they fire.
 */
export function timeout(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The last `lines` lines of a text, indented, for error messages quoting a service's log. */
export function tail(text: string, lines = 30): string {
  const all = text.trimEnd().split('\n');
  return all
    .slice(-lines)
    .map((l) => `    ${l}`)
    .join('\n');
}
