import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { renderConfigTable } from '../../scripts/config-table';

describe('configuration', () => {
  it('gives safe defaults for the embedded mode', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(8080);
    expect(config.KAFKA_BROKERS).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.TOPIC_PARTITIONS).toBe(6);
    expect(config.SALESFORCE_API_VERSION).toBe('62.0');
  });

  it('lists every bad variable at once, by name, in one error', () => {
    let thrown: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        TOPIC_PARTITIONS: '0',
        REDIS_URL: 'not a url',
        LOG_LEVEL: 'loud',
      });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'CONFIG_INVALID', retriable: false });
    const message = (thrown as Error).message;
    for (const name of ['PORT', 'TOPIC_PARTITIONS', 'REDIS_URL', 'LOG_LEVEL']) {
      expect(message).toContain(`${name}:`);
    }
  });

  it('requires a registry and Redis once Kafka is configured', () => {
    expect(() => loadConfig({ KAFKA_BROKERS: 'localhost:9092' })).toThrow(
      /SCHEMA_REGISTRY_URL: is required[\s\S]*REDIS_URL: is required/,
    );
  });

  it('never echoes a rejected secret back', () => {
    expect(() => loadConfig({ ADMIN_TOKEN: 'short-secret' })).toThrow(
      /ADMIN_TOKEN: must be at least 16/,
    );
    expect(() => loadConfig({ ADMIN_TOKEN: 'short-secret' })).not.toThrow(/short-secret/);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ KAFKA_BROKERS: '', PORT: ' ' }).PORT).toBe(8080);
  });

  it('keeps the README configuration table in step with the schema', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(renderConfigTable());
  });
});
