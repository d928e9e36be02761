import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { harnessLog, secondsSince, tail } from './log';
import { runCommand } from './run-command';

/**
 * Kafka's classpath and the Apicurio distribution live in a per-user cache outside the
 * repository, so clean clones and parallel worktrees share one copy and a warm run needs no
 * network and no Maven start-up (Maven itself caches downloads in ~/.m2 as well).
 *
 * Each entry is filled in a private temporary directory and renamed into place only when
 * complete, with a marker file inside; a crashed or concurrent fill can never leave a
 * half-copied entry that a later run would trust.
 */

const MARKER = '.complete';

/** The dependency plugin is pinned so every machine resolves the same way. */
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

/** `${XDG_CACHE_HOME:-$HOME/.cache}/initlive-salesforce-sync`. */
export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'initlive-salesforce-sync');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `<name>.tmp-<pid>-*` left by fills whose process died. */
function sweepAbandoned(root: string, name: string): void {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return;
  }
  for (const entry of entries) {
    const m = new RegExp(`^${name.replace(/[.]/g, '\\.')}\\.tmp-(\\d+)-`).exec(entry);
    if (m && !isAlive(Number(m[1])))
      fs.rmSync(path.join(root, entry), { recursive: true, force: true });
  }
}

/**
 * Returns the cache directory `name`, filling it with `fill(dir)` first if it is not complete.
 * `fill` writes into a fresh temporary directory; it may throw, and then nothing is cached.
 */
export async function ensureCached(
  name: string,
  description: string,
  fill: (dir: string) => Promise<void>,
): Promise<string> {
  const root = cacheRoot();
  const final = path.join(root, name);
  if (fs.existsSync(path.join(final, MARKER))) return final;

  fs.mkdirSync(root, { recursive: true });
  sweepAbandoned(root, name);
  // A directory without its marker comes from an older layout or a manual copy: not trusted.
  if (fs.existsSync(final)) fs.rmSync(final, { recursive: true, force: true });

  const started = Date.now();
  harnessLog(`${description} not cached yet: fetching with Maven into ${final}`);
  const temp = fs.mkdtempSync(path.join(root, `${name}.tmp-${process.pid}-`));
  try {
    await fill(temp);
    fs.writeFileSync(path.join(temp, MARKER), `${new Date().toISOString()}\n`);
    try {
      fs.renameSync(temp, final);
    } catch (err) {
      // Another run finished the same fill first; its copy is as good as ours.
      if (!fs.existsSync(path.join(final, MARKER))) throw err;
      fs.rmSync(temp, { recursive: true, force: true });
    }
  } catch (err) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw err;
  }
  harnessLog(`${description} cached in ${secondsSince(started)}`);
  return final;
}

/**
 * Runs Maven in batch, quiet mode. Throws an Error naming what was being fetched, with the
 * tail of Maven's output, or saying that Maven itself is missing.
 */
export async function runMaven(args: readonly string[], cwd: string, what: string): Promise<void> {
  const result = await runCommand('mvn', ['-B', '-q', '-Dstyle.color=never', ...args], {
    cwd,
    timeoutMs: 20 * 60_000,
  });
  if (result.spawnError?.code === 'ENOENT') {
    throw new Error(
      `mvn (Apache Maven) not found on PATH; it is needed to fetch ${what} from Maven Central ` +
        `(apt-get install maven).`,
    );
  }
  if (result.code !== 0) {
    throw new Error(
      `mvn could not fetch ${what}` +
        `${result.timedOut ? ' (timed out after 20 minutes)' : ` (exit code ${result.code})`}; ` +
        `check the network to Maven Central or ~/.m2. Maven said:\n${tail(result.output, 25)}`,
    );
  }
}

/** `mvn dependency:copy-dependencies` of a throwaway POM into `<dir>/libs`. */
export async function copyDependencies(
  dir: string,
  dependencies: ReadonlyArray<{ groupId: string; artifactId: string; version: string }>,
  what: string,
): Promise<string> {
  const deps = dependencies
    .map(
      (d) =>
        `    <dependency><groupId>${d.groupId}</groupId><artifactId>${d.artifactId}</artifactId>` +
        `<version>${d.version}</version></dependency>`,
    )
    .join('\n');
  const pom = `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by test/harness: resolves a runtime classpath; nothing is built from it. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.harness</groupId>
  <artifactId>classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}
  </dependencies>
</project>
`;
  const pomFile = path.join(dir, 'pom.xml');
  fs.writeFileSync(pomFile, pom);
  const libs = path.join(dir, 'libs');
  await runMaven(
    [
      '-f',
      pomFile,
      `${DEPENDENCY_PLUGIN}:copy-dependencies`,
      '-DincludeScope=runtime',
      `-DoutputDirectory=${libs}`,
    ],
    dir,
    what,
  );
  if (!fs.existsSync(libs) || fs.readdirSync(libs).length === 0) {
    throw new Error(`mvn reported success but copied no jars for ${what} into ${libs}`);
  }
  return libs;
}

/** `mvn dependency:copy` of one artifact (given as g:a:v[:type[:classifier]]) into `dir`. */
export async function copyArtifact(dir: string, artifact: string, what: string): Promise<string[]> {
  await runMaven(
    [`${DEPENDENCY_PLUGIN}:copy`, `-Dartifact=${artifact}`, `-DoutputDirectory=${dir}`],
    dir,
    what,
  );
  return fs.readdirSync(dir).map((f) => path.join(dir, f));
}

/** Unpacks a .tar.gz into `dir` with the system tar. */
export async function untar(archive: string, dir: string, what: string): Promise<void> {
  const result = await runCommand('tar', ['-xzf', archive, '-C', dir], { timeoutMs: 10 * 60_000 });
  if (result.code !== 0) {
    throw new Error(
      `could not unpack ${what} (${archive}): ` +
        `${result.spawnError ? `tar: ${result.spawnError.message}` : `tar said:\n${tail(result.output, 15)}`}`,
    );
  }
}
