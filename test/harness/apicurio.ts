import fs from 'node:fs';
import path from 'node:path';
import { copyArtifact, ensureCached, untar } from './artifact-cache';
import { findJava } from './java';
import { harnessLog, secondsSince, sleep } from './log';
import { freePorts } from './ports';
import { describeExit, spawnService, stopService } from './processes';
import type { StartedService } from './started-service';

const DEFAULT_APICURIO_VERSION = '3.3.3';
const READY_TIMEOUT_MS = 90_000;
/** Where the Confluent-compatible API lives under the server root. */
const CCOMPAT_PATH = '/apis/ccompat/v7';

/** The unpacked Quarkus fast-jar distribution (quarkus-run.jar + lib/ + app/ + quarkus/). */
function apicurioDist(version: string): Promise<string> {
  const artifact = `io.apicurio:apicurio-registry-app:${version}:tar.gz:all`;
  return ensureCached(
    `apicurio-registry-${version}`,
    `Apicurio Registry ${version}`,
    async (dir) => {
      const download = path.join(dir, '.download');
      fs.mkdirSync(download);
      const [archive] = await copyArtifact(download, artifact, artifact);
      if (archive === undefined)
        throw new Error(`mvn reported success but fetched no file for ${artifact}`);
      await untar(archive, dir, artifact);
      // The archive stays in ~/.m2; a second copy here would only waste 160 MB.
      fs.rmSync(download, { recursive: true, force: true });
      if (!fs.existsSync(path.join(dir, 'quarkus-run.jar'))) {
        throw new Error(
          `${artifact} unpacked without quarkus-run.jar; unexpected layout in ${dir}`,
        );
      }
    },
  );
}

async function getStatus(url: string, timeoutMs: number): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer();
  return res.status;
}

/** The version Apicurio reports about itself, or undefined for a registry that is not Apicurio. */
async function reportedVersion(root: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${root}/apis/registry/v3/system/info`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { version?: unknown };
    return typeof body.version === 'string' ? body.version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Uses the registry at SCHEMA_REGISTRY_URL (a Confluent-compatible base URL): fails unless
 * GET <url>/subjects answers 200 within 15 s.
 */
export async function useExistingRegistry(url: string): Promise<StartedService> {
  const base = url.replace(/\/+$/, '');
  let status: number | string;
  try {
    status = await getStatus(`${base}/subjects`, 15_000);
  } catch (err) {
    status = (err as Error).message;
  }
  if (status !== 200) {
    throw new Error(
      `SCHEMA_REGISTRY_URL=${url} is set but GET ${base}/subjects did not answer 200 (${status}). ` +
        `It must be a Confluent-compatible base URL such as http://127.0.0.1:18081${CCOMPAT_PATH}; ` +
        `unset it to let the harness start Apicurio itself.`,
    );
  }
  const version = base.endsWith(CCOMPAT_PATH)
    ? await reportedVersion(base.slice(0, -CCOMPAT_PATH.length))
    : undefined;
  harnessLog(
    `Schema registry at ${base} (existing server from SCHEMA_REGISTRY_URL` +
      `${version ? `: Apicurio Registry ${version}` : ''})`,
  );
  return { name: 'Apicurio Registry', address: base, owned: false, stop: async () => undefined };
}

/**
 * Starts Apicurio Registry (in-memory storage, deletes enabled) on free ports bound to
 * 127.0.0.1, its management interface included, so no fixed port (9000) is opened and
 * concurrent runs cannot collide. Resolves once GET <base>/subjects answers 200; throws with
 * the log tail if the JVM exits or is not ready in 90 s. Needs Java 21+.
 */
export async function startApicurio(runDir: string): Promise<StartedService> {
  const version = process.env.HARNESS_APICURIO_VERSION || DEFAULT_APICURIO_VERSION;
  const started = Date.now();
  const [java, dist] = await Promise.all([
    findJava({
      minMajor: 21,
      purpose: `Apicurio Registry ${version}`,
      why: 'its classes are Java 21 bytecode, class file version 65',
      strictHomeVar: 'APICURIO_JAVA_HOME',
      homeVars: ['JAVA_HOME'],
    }),
    apicurioDist(version),
  ]);

  for (let attempt = 1; ; attempt++) {
    const home = path.join(runDir, `apicurio-${attempt}`);
    fs.mkdirSync(home, { recursive: true });
    const [port, managementPort] = (await freePorts(2)) as [number, number];
    const proc = spawnService(
      'Apicurio Registry',
      java.bin,
      [
        '-Xmx384m',
        '-Dquarkus.http.host=127.0.0.1',
        `-Dquarkus.http.port=${port}`,
        // The management interface (health, metrics) is fixed on at build time and would
        // listen on 0.0.0.0:9000, colliding between concurrent runs: move it to a free
        // loopback port instead.
        '-Dquarkus.management.host=127.0.0.1',
        `-Dquarkus.management.port=${managementPort}`,
        '-Dapicurio.rest.deletion.artifact.enabled=true',
        '-Dapicurio.rest.deletion.artifact-version.enabled=true',
        `-Djava.io.tmpdir=${home}`,
        '-jar',
        path.join(dist, 'quarkus-run.jar'),
      ],
      { cwd: home, logFile: path.join(home, 'apicurio.log') },
    );
    const root = `http://127.0.0.1:${port}`;
    const base = `${root}${CCOMPAT_PATH}`;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError = '';
    let ready = false;
    while (Date.now() < deadline && proc.exitInfo() === undefined) {
      try {
        const status = await getStatus(`${base}/subjects`, 2000);
        if (status === 200) {
          ready = true;
          break;
        }
        lastError = `HTTP ${status}`;
      } catch (err) {
        lastError = (err as Error).message;
      }
      await sleep(200);
    }
    if (ready) {
      const reported = (await reportedVersion(root)) ?? `${version} (artifact)`;
      harnessLog(
        `Apicurio Registry ${reported} started at ${base} in ${secondsSince(started)} ` +
          `(real registry, Confluent-compatible API; Java ${java.version}; pid ${proc.pid})`,
      );
      return {
        name: 'Apicurio Registry',
        address: base,
        owned: true,
        stop: async () => {
          const stopping = Date.now();
          await stopService(proc);
          harnessLog(
            `Apicurio Registry ${reported} at ${root} stopped in ${secondsSince(stopping)}`,
          );
        },
      };
    }

    const exit = proc.exitInfo();
    await stopService(proc);
    const logTail = proc.logTail(40);
    if (
      exit &&
      attempt === 1 &&
      /Address already in use|Port .* seems to be in use/i.test(logTail)
    ) {
      harnessLog(`Apicurio Registry lost its port to another process; retrying on a new one`);
      continue;
    }
    throw new Error(
      exit
        ? `Apicurio Registry ${version} ${describeExit(exit)} before it was ready ` +
            `(Java ${java.version} at ${java.bin}). Log tail (${proc.logFile}):\n${logTail}`
        : `Apicurio Registry ${version} did not answer GET ${base}/subjects within ` +
            `${READY_TIMEOUT_MS / 1000}s (last: ${lastError}). Log tail:\n${logTail}`,
    );
  }
}
