import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApicurio, useExistingRegistry } from './apicurio';
import { startKafka, useExistingKafka } from './kafka';
import { harnessLog, secondsSince } from './log';
import { startRedis } from './redis';
import type { ServiceEnv } from './env-file';
import type { StartedService } from './started-service';

export interface RunningServices {
  readonly env: ServiceEnv;
  /** Private directory of this run (configs, data, logs); removed by stop(). */
  readonly runDir: string;
  /** Stops every service the harness started, in parallel. Idempotent; never throws. */
  stop(): Promise<void>;
}

const RUN_DIR_PREFIX = 'initlive-harness-';

/**
 * Removes run directories whose owning process is gone (a run killed before its cleanup, or a
 * failed start whose logs were kept): the pid is part of the name.
 */
function sweepAbandonedRunDirs(): void {
  const tmp = os.tmpdir();
  for (const entry of fs.readdirSync(tmp)) {
    const pid = new RegExp(`^${RUN_DIR_PREFIX}(\\d+)-`).exec(entry)?.[1];
    if (pid === undefined || Number(pid) === process.pid) continue;
    try {
      process.kill(Number(pid), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') {
        fs.rmSync(path.join(tmp, entry), { recursive: true, force: true });
      }
    }
  }
}

/**
 * Makes Kafka, the schema registry and Redis available for one test run. Each service given
 * by its variable (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL) is checked and used as is;
 * the others are started privately on free ports, Kafka and Apicurio in parallel.
 *
 * Throws if any service is missing or does not come up, with one line per failed service
 * naming what is missing; anything already started is stopped first, and the run directory
 * (with the services' logs) is kept for inspection.
 */
export async function startServices(): Promise<RunningServices> {
  const started = Date.now();
  sweepAbandonedRunDirs();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `${RUN_DIR_PREFIX}${process.pid}-`));
  const kafkaVar = process.env.KAFKA_BROKERS;
  const registryVar = process.env.SCHEMA_REGISTRY_URL;

  const results = await Promise.allSettled([
    kafkaVar ? useExistingKafka(kafkaVar) : startKafka(runDir),
    registryVar ? useExistingRegistry(registryVar) : startApicurio(runDir),
    startRedis(runDir),
  ]);
  const names = ['Kafka', 'Schema registry (Apicurio)', 'Redis'];
  const services: StartedService[] = [];
  const failures: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') services.push(r.value);
    else
      failures.push(
        `- ${names[i]}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`,
      );
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(services.map((s) => s.stop()));
  };

  if (failures.length > 0) {
    await stop();
    throw new Error(
      `Integration test services could not be provided (the run fails rather than skip ` +
        `integration tests):\n${failures.join('\n')}\nLogs kept in ${runDir}.`,
    );
  }
  const [kafka, registry, redis] = services as [StartedService, StartedService, StartedService];
  harnessLog(`integration services ready in ${secondsSince(started)}`);
  return {
    env: {
      KAFKA_BROKERS: kafka.address,
      SCHEMA_REGISTRY_URL: registry.address,
      REDIS_URL: redis.address,
    },
    runDir,
    stop: async () => {
      await stop();
      fs.rmSync(runDir, { recursive: true, force: true });
    },
  };
}
