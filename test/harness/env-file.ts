import fs from 'node:fs';
import path from 'node:path';

/** The variables through which tests (and the connector) find the services. */
export interface ServiceEnv {
  KAFKA_BROKERS: string;
  SCHEMA_REGISTRY_URL: string;
  REDIS_URL: string;
}

export const SERVICE_ENV_KEYS = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'REDIS_URL'] as const;

/**
 * Names the JSON file holding the ServiceEnv of the current run. globalSetup writes it; test
 * workers read it, so they see the services even if they were forked with another environment.
 */
export const ENV_FILE_VAR = 'INTEGRATION_ENV_FILE';

/** Writes `env` as `<dir>/env.json` and returns the path. */
export function writeEnvFile(dir: string, env: ServiceEnv): string {
  const file = path.join(dir, 'env.json');
  fs.writeFileSync(file, `${JSON.stringify(env, null, 2)}\n`);
  return file;
}

/** Reads the string values of a file written by writeEnvFile; unknown keys are ignored. */
export function readEnvFile(file: string): Partial<ServiceEnv> {
  const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
  const out: Partial<ServiceEnv> = {};
  if (typeof parsed !== 'object' || parsed === null) return out;
  for (const key of SERVICE_ENV_KEYS) {
    const value = (parsed as Record<string, unknown>)[key];
    if (typeof value === 'string' && value !== '') out[key] = value;
  }
  return out;
}
