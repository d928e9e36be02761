import { startConnector } from '../../src/app';
import type { Connector } from '../../src/app';
import { loadConfig } from '../../src/config';
import { closeRedis, createRedis } from '../../src/infra/redis/connect';
import { generateEncryptionKey } from '../../src/infra/secrets';
import { createLogger } from '../../src/logger';
import { dropDeployment } from '../fixtures/deployment-cleanup';
import { eventually } from '../fixtures/e2e';
import { integrationEnv, uniqueName } from '../harness/env';
import { http } from '../fixtures/http';

/**
 * The composition root against the real Kafka, schema registry and Redis of the harness:
 * the same `startConnector` as `npm start`, told to use them through the same variables a
 * deployment sets (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL), with both sandboxes.
 */

jest.setTimeout(180_000);

const ORG = 'org_demo';

describe('the connector on Kafka, the registry and Redis', () => {
  const env = integrationEnv();
  const name = uniqueName('start');
  const logs: string[] = [];
  let connector: Connector | null = null;

  afterAll(async () => {
    await connector?.stop();
    await dropDeployment(env, name);
  });

  it('starts ready and connected, syncs a change end to end, reports metrics and stops cleanly', async () => {
    const config = loadConfig({
      KAFKA_BROKERS: env.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: env.schemaRegistryUrl,
      SCHEMA_SUBJECT_PREFIX: `${name}.`,
      REDIS_URL: env.redisUrl,
      REDIS_KEY_PREFIX: `${name}:`,
      TOPIC_PREFIX: name,
      TOPIC_PARTITIONS: '3',
      KAFKA_GROUP_ID: name,
      KAFKA_CLIENT_ID: name,
      ENCRYPTION_KEY: generateEncryptionKey(),
      PORT: '0',
      SANDBOX_SALESFORCE_PORT: '0',
      SANDBOX_INITLIVE_PORT: '0',
      SANDBOX_STAFF_COUNT: '20',
      SANDBOX_CONTACT_COUNT: '16',
    });
    const started = Date.now();
    connector = await startConnector(
      config,
      createLogger({ level: 'debug', write: (line) => logs.push(line) }),
      {
        print: () => undefined,
        pipeline: { initliveSource: { pollIntervalMs: 500 }, salesforceSink: { lingerMs: 30 } },
      },
    );
    const c = connector;
    expect(c.mode).toBe('kafka+redis');
    const ready = await http(`${c.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'transport', ok: true }),
        expect.objectContaining({ name: 'control-store', ok: true }),
      ]),
    );
    process.stdout.write(`connector on Kafka+Redis ready in ${Date.now() - started} ms\n`);

    const status = await http(`${c.url}/api/orgs/${ORG}/salesforce`, { token: c.token });
    expect(status.body).toMatchObject({
      connection: 'connected',
      lastRun: { status: 'succeeded' },
      streaming: { active: true },
    });

    // A volunteer's phone changes in InitLive's UI; it lands on the linked Contact.
    const staff = c.sandboxes!.initlive.control.listStaff()[2]!;
    c.sandboxes!.initlive.control.updateStaff(staff.id, { phone: '+1 604 555 0177' });
    await eventually(() => {
      const contact = c
        .sandboxes!.salesforce.control.listContacts()
        .find((x) => x.InitLive_Staff_Id__c === staff.id);
      expect(contact?.Phone).toBe('+1 604 555 0177');
    }, 60_000);

    const metrics = await http(`${c.url}/metrics`);
    expect(metrics.text).toMatch(
      /initlive_sync_records_read_total\{source="initlive",org="org_demo"\} [1-9]/,
    );
    expect(metrics.text).toMatch(
      /initlive_sync_records_written_total\{sink="salesforce",org="org_demo"\} [1-9]/,
    );
    expect(metrics.text).toMatch(
      new RegExp(`initlive_sync_consumer_lag_records\\{group="${name}.reconciler"`),
    );

    // The grant is stored sealed in Redis: no token in clear at rest.
    const redis = createRedis(env.redisUrl);
    const stored = await redis.get(`${name}:conn:${ORG}`);
    await closeRedis(redis);
    const accessToken = c.directory.connection(ORG)?.salesforce?.accessToken;
    expect(stored).toBeTruthy();
    expect(accessToken).toBeTruthy();
    expect(stored).not.toContain(accessToken!);

    await c.stop();
    await expect(fetch(`${c.url}/healthz`)).rejects.toThrow();
    expect(logs.some((l) => l.includes('"connector stopped"'))).toBe(true);
    for (const secret of [c.token, accessToken!]) {
      expect(logs.filter((l) => l.includes(secret))).toEqual([]);
    }
  });
});
