import { ENV_FILE_VAR } from './env-file';
import { SERVICES_GLOBAL } from './global-setup';
import type { RunningServices } from './services';

/** jest globalTeardown of the integration project: stops what global-setup.ts started. */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as Record<string, unknown>;
  const services = holder[SERVICES_GLOBAL] as RunningServices | undefined;
  delete holder[SERVICES_GLOBAL];
  delete process.env[ENV_FILE_VAR];
  await services?.stop();
}
