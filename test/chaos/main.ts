import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runChaos } from './run';

/**
 * `npm run chaos -- --seed N --minutes M [--out report.json]`: one seeded chaos run on its own
 * Kafka, registry and redis-server (docs/reliability.md). Prints the report as JSON and exits
 * 1 when an invariant failed; the run directory (connector and service logs) is kept then.
 */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const inline = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (inline) return inline.slice(name.length + 3);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const seed = Number(arg('seed', String(Date.now() % 100_000)));
  const minutes = Number(arg('minutes', '15'));
  if (!Number.isInteger(seed) || !(minutes > 0)) {
    throw new Error('usage: npm run chaos -- --seed <integer> --minutes <number> [--out file]');
  }
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `initlive-chaos-${seed}-`));
  const started = Date.now();
  const log = (line: string) =>
    process.stderr.write(`[chaos ${((Date.now() - started) / 1000).toFixed(0)}s] ${line}\n`);
  log(`seed ${seed}, ${minutes} min of faults; logs in ${runDir}`);
  const report = await runChaos({
    seed,
    minutes,
    runDir,
    entry: 'dist',
    ...(process.env.SCHEMA_REGISTRY_URL ? { registryUrl: process.env.SCHEMA_REGISTRY_URL } : {}),
    log,
  });
  const json = JSON.stringify(report, null, 2);
  process.stdout.write(`${json}\n`);
  const out = arg('out', '');
  if (out) fs.writeFileSync(out, json);
  if (report.passed) fs.rmSync(runDir, { recursive: true, force: true });
  else log(`FAILED (seed ${seed}); logs kept in ${runDir}`);
  process.exit(report.passed ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(2);
});
