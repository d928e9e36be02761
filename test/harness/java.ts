import fs from 'node:fs';
import path from 'node:path';
import { runCommand } from './run-command';

export interface JavaRuntime {
  /** Path of the `java` executable. */
  bin: string;
  /** Feature release, e.g. 17 or 25. */
  major: number;
  /** Full version string, e.g. "25.0.3". */
  version: string;
  /** Where it was found, for banners: "APICURIO_JAVA_HOME", "PATH", "/usr/lib/jvm". */
  source: string;
}

export interface FindJavaOptions {
  minMajor: number;
  /** What needs it, for the error message: "Apicurio Registry 3.3.3". */
  purpose: string;
  /** Extra reason shown in the error message, e.g. "class file version 65". */
  why?: string;
  /**
   * A variable naming a JDK home that belongs to this service only (APICURIO_JAVA_HOME). When
   * it is set it is authoritative: a wrong value fails instead of falling through to a JDK the
   * user did not ask for.
   */
  strictHomeVar?: string;
  /** Lower-priority JDK home variables (JAVA_HOME) that may point at an older JDK. */
  homeVars?: readonly string[];
  /** Directory whose subdirectories are JDK homes. */
  jvmRoot?: string;
}

/** `JAVA_VERSION="17.0.15"` in a JDK's `release` file, or `version "17.0.15"` from `java -version`. */
function parseVersion(text: string): string | undefined {
  return /(?:JAVA_VERSION="|version ")([0-9][^"]*)"/.exec(text)?.[1];
}

function majorOf(version: string): number {
  // Java 8 and older report "1.8.0_x".
  const parts = version.split(/[.+_-]/).map((p) => Number.parseInt(p, 10));
  const first = parts[0] ?? 0;
  return first === 1 ? (parts[1] ?? 0) : first;
}

async function probeBinary(bin: string): Promise<string | undefined> {
  const result = await runCommand(bin, ['-version'], { timeoutMs: 20_000 });
  return result.code === 0 ? parseVersion(result.output) : undefined;
}

/** Version of the JDK at `home`: its `release` file when present, else `bin/java -version`. */
async function probeHome(home: string): Promise<{ bin: string; version: string } | string> {
  const bin = path.join(home, 'bin', 'java');
  if (!fs.existsSync(bin)) return 'no bin/java';
  let version: string | undefined;
  try {
    version = parseVersion(fs.readFileSync(path.join(home, 'release'), 'utf8'));
  } catch {
    // No release file (some distro layouts): ask the binary.
  }
  version ??= await probeBinary(bin);
  return version === undefined ? 'bin/java does not report a version' : { bin, version };
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
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

/**
 * Finds a Java runtime of at least `minMajor`, looking in order at the strict home variable,
 * the other home variables, `java` on PATH, then every JDK under `jvmRoot` (newest first).
 * Throws an Error that lists every place looked at and what was found there, so a missing JDK
 * is obvious from the CI log alone.
 */
export async function findJava(options: FindJavaOptions): Promise<JavaRuntime> {
  const looked: string[] = [];
  const accept = (bin: string, version: string, source: string): JavaRuntime | undefined => {
    const major = majorOf(version);
    if (major >= options.minMajor) return { bin, major, version, source };
    looked.push(`${source}: ${version}`);
    return undefined;
  };

  if (options.strictHomeVar) {
    const home = process.env[options.strictHomeVar];
    if (home) {
      const found = await probeHome(home);
      const ok =
        typeof found === 'string'
          ? undefined
          : accept(found.bin, found.version, options.strictHomeVar);
      if (ok) return ok;
      throw new Error(
        `${options.strictHomeVar}=${home} is not a Java ${options.minMajor}+ home ` +
          `(${typeof found === 'string' ? found : `found Java ${found.version}`}); ` +
          `${options.purpose} needs Java ${options.minMajor}+. Unset it to let the harness search ` +
          `${options.homeVars?.join(', ') ?? ''}${options.homeVars?.length ? ', ' : ''}PATH and ` +
          `${options.jvmRoot ?? '/usr/lib/jvm'}/*.`,
      );
    }
    looked.push(`${options.strictHomeVar}: unset`);
  }

  for (const name of options.homeVars ?? []) {
    const home = process.env[name];
    if (!home) {
      looked.push(`${name}: unset`);
      continue;
    }
    const found = await probeHome(home);
    if (typeof found === 'string') {
      looked.push(`${name}=${home}: ${found}`);
      continue;
    }
    const ok = accept(found.bin, found.version, name);
    if (ok) return ok;
  }

  const pathJava = onPath('java');
  if (pathJava) {
    const version = await probeBinary(pathJava);
    if (version) {
      const ok = accept(pathJava, version, 'java on PATH');
      if (ok) return ok;
    } else looked.push(`java on PATH (${pathJava}): no version`);
  } else looked.push('java on PATH: none');

  const root = options.jvmRoot ?? '/usr/lib/jvm';
  let homes: string[] = [];
  try {
    homes = fs
      .readdirSync(root)
      .map((d) => path.join(root, d))
      .filter((d) => fs.statSync(d).isDirectory());
  } catch {
    looked.push(`${root}/*: no such directory`);
  }
  const candidates: JavaRuntime[] = [];
  for (const home of homes) {
    const found = await probeHome(home);
    if (typeof found === 'string') continue;
    const major = majorOf(found.version);
    if (major >= options.minMajor)
      candidates.push({ bin: found.bin, major, version: found.version, source: home });
    else looked.push(`${home}: ${found.version}`);
  }
  candidates.sort((a, b) => b.major - a.major);
  if (candidates[0]) return candidates[0];

  throw new Error(
    `java ${options.minMajor}+ not found; ${options.purpose} needs it` +
      `${options.why ? ` (${options.why})` : ''}. Looked in: ${looked.join('; ')}. ` +
      `Install a JDK ${options.minMajor}+ under ${root} or point ` +
      `${options.strictHomeVar ?? options.homeVars?.[0] ?? 'JAVA_HOME'} at one.`,
  );
}
