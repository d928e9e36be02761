import { ENV_FILE_VAR, SERVICE_ENV_KEYS, writeEnvFile } from './env-file';
import { startServices } from './services';
import type { RunningServices } from './services';

/** Shared with global-teardown.ts: jest runs both hooks in its parent process. */
export const SERVICES_GLOBAL = '__initliveIntegrationServices';

/**
 * jest globalSetup of the integration project: provides real Kafka, a real registry and real
 * Redis (see services.ts) and publishes their addresses to the test workers, both as
 * variables (inherited by workers forked afterwards) and as a JSON file named by
 * INTEGRATION_ENV_FILE (read by env.ts in every worker). Throws, failing the run, when a
 * service cannot be provided.
 */
export default async function globalSetup(): Promise<void> {
  // jest prints its own output right after; start on a fresh line.
  process.stderr.write('\n');
  const services = await startServices();
  (globalThis as Record<string, unknown>)[SERVICES_GLOBAL] = services satisfies RunningServices;
  for (const key of SERVICE_ENV_KEYS) process.env[key] = services.env[key];
  process.env[ENV_FILE_VAR] = writeEnvFile(services.runDir, services.env);
}
