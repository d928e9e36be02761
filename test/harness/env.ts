import { randomBytes } from 'node:crypto';
import { ENV_FILE_VAR, readEnvFile } from './env-file';

/**
 * jest setupFiles entry of the integration project (runs in every test worker before the test
 * file) and the tests' helper for finding the services.
 *
 * Loading the run's env file here, rather than trusting inherited variables alone, means a
 * worker sees the addresses global-setup.ts chose even when it was forked before they were
 * known or with a filtered environment.
 */
const envFile = process.env[ENV_FILE_VAR];
if (envFile) {
  for (const [key, value] of Object.entries(readEnvFile(envFile))) process.env[key] = value;
}

export interface IntegrationEnv {
  /** host:port list for kafkajs. */
  kafkaBrokers: string[];
  /** Confluent-compatible base URL, e.g. http://127.0.0.1:18081/apis/ccompat/v7. */
  schemaRegistryUrl: string;
  /** redis://host:port */
  redisUrl: string;
}

/**
 * Where the real services of this run are. Throws an Error naming the missing variables when
 * called outside the integration project (whose globalSetup sets them), rather than letting a
 * test time out against a wrong address.
 */
export function integrationEnv(): IntegrationEnv {
  const kafka = process.env.KAFKA_BROKERS;
  const registry = process.env.SCHEMA_REGISTRY_URL;
  const redis = process.env.REDIS_URL;
  const missing = [
    kafka ? undefined : 'KAFKA_BROKERS',
    registry ? undefined : 'SCHEMA_REGISTRY_URL',
    redis ? undefined : 'REDIS_URL',
  ].filter((v): v is string => v !== undefined);
  if (!kafka || !registry || !redis) {
    throw new Error(
      `integration services unknown: ${missing.join(', ')} not set. Run integration tests ` +
        `through jest's "integration" project (npm run test:integration), whose globalSetup ` +
        `starts or finds them, or export the variables printed by \`npm run services\`.`,
    );
  }
  return {
    kafkaBrokers: kafka
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b !== ''),
    schemaRegistryUrl: registry.replace(/\/+$/, ''),
    redisUrl: redis,
  };
}

/**
 * A name no other test or run uses, for topics, consumer groups, registry subjects and Redis
 * key prefixes: `<prefix>-<time base36>-<8 hex>`. Only [a-z0-9-] are added, which every one of
 * those namespaces accepts.
 */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
