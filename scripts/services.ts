/**
 * `npm run services`: starts (or finds) the same real Kafka, Apicurio registry and Redis that
 * the integration tests use, prints the variables to export, and keeps them running until
 * Ctrl-C. Variables already set (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL) are honoured
 * exactly as in the tests.
 */
import { SERVICE_ENV_KEYS } from '../test/harness/env-file';
import { harnessLog } from '../test/harness/log';
import { startServices } from '../test/harness/services';

async function main(): Promise<void> {
  const services = await startServices();
  // stdout carries only the exports, so `npm run -s services > .env.services` captures them.
  for (const key of SERVICE_ENV_KEYS) process.stdout.write(`export ${key}=${services.env[key]}\n`);
  harnessLog(
    'services are running; export the variables above in another shell. Ctrl-C stops them.',
  );
  // Signal listeners do not keep Node running and the services are detached: hold it open.
  const keepAlive = setInterval(() => undefined, 60_000);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  clearInterval(keepAlive);
  harnessLog(`${signal}: stopping`);
  await services.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
