import { resolveMapping } from '../../src/core/mapping';
import type { SalesforceContactChange } from '../../src/core/records';
import { recordKey, topicNames } from '../../src/core/topics';
import { createRegistryCodec } from '../../src/infra/avro/avro-codec';
import type { InitLiveApi } from '../../src/infra/initlive';
import { KafkaTransport } from '../../src/infra/kafka/kafka-transport';
import { MemoryPositionStore } from '../../src/infra/memory/memory-position-store';
import { MemoryVersionStore } from '../../src/infra/memory/memory-version-store';
import { createSalesforceConnection } from '../../src/infra/salesforce/connection';
import { silentLogger } from '../../src/logger';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import type { PipelineDeps } from '../../src/pipeline/deps';
import { SyncEvents } from '../../src/pipeline/events';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import { SalesforceSource, replayPositionName } from '../../src/source-salesforce';
import { integrationEnv, uniqueName } from '../harness/env';

const ORG = 'org-int';

async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('CDC events flow into a real Kafka topic, Avro-encoded through the registry', async () => {
  const env = integrationEnv();
  const sb = await startSalesforceSandbox();
  const token = await fetch(`${sb.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: sb.clientId,
      client_secret: sb.clientSecret,
      username: sb.username,
      password: sb.password,
    }),
  }).then(async (r) => ((await r.json()) as { access_token: string }).access_token);
  const conn = createSalesforceConnection({
    credentials: {
      instanceUrl: sb.instanceUrl,
      accessToken: token,
      loginUrl: sb.loginUrl,
      clientId: sb.clientId,
      clientSecret: sb.clientSecret,
    },
    apiVersion: '62.0',
    clientTag: 'InitLiveSync',
    logger: silentLogger,
  });
  const transport = new KafkaTransport({
    brokers: env.kafkaBrokers,
    clientId: uniqueName('source-sf'),
    consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, maxWaitTimeMs: 200 },
  });
  const topics = topicNames(uniqueName('source-sf'));
  const group = uniqueName('source-sf-collector');
  const codec = createRegistryCodec(env.schemaRegistryUrl);
  const positions = new MemoryPositionStore();
  const deps: PipelineDeps = {
    transport,
    codec,
    store: new MemoryVersionStore(),
    positions,
    orgs: new StaticOrgDirectory([
      {
        orgId: ORG,
        settings: {
          direction: 'two_way',
          defaultSystem: 'salesforce',
          deletePolicy: 'archive',
          mapping: resolveMapping(),
        },
        streaming: true,
        salesforce: conn,
        initlive: {} as InitLiveApi,
        initliveOrigin: 'initlive-sync',
        salesforceClientTag: 'InitLiveSync',
      },
    ]),
    topics,
    logger: silentLogger,
    events: new SyncEvents(),
    groupPrefix: group,
    now: () => Date.now(),
  };
  const source = new SalesforceSource(deps);
  const received: Array<{ key: string; value: SalesforceContactChange }> = [];
  try {
    await transport.ensureTopics(
      Object.values(topics).map((name) => ({ name, partitions: 1, replicationFactor: 1 })),
    );
    const sub = await transport.subscribe({
      groupId: group,
      topics: [topics.contactChanges],
      fromBeginning: true,
      handleBatch: async (batch) => {
        for (const r of batch.records) {
          received.push({
            key: r.key,
            value: await codec.decode('SalesforceContactChange', r.value),
          });
        }
      },
    });
    await sub.ready();
    await source.start();
    await waitFor('the subscription', () => source.status(ORG).state === 'streaming');

    const created = (await conn.sobject('Contact').create({
      FirstName: 'Dana',
      LastName: 'Scully',
      InitLive_Staff_Id__c: 'S-9',
    })) as { id: string };
    await conn.sobject('Contact').update({ Id: created.id, MailingCity: 'Arlington' });

    await waitFor('two records on the topic', () => received.length === 2);
    expect(received.map((r) => r.key)).toEqual([
      recordKey(ORG, created.id),
      recordKey(ORG, created.id),
    ]);
    expect(received[0]!.value).toMatchObject({
      operation: 'CREATE',
      initliveId: 'S-9',
      values: { firstName: 'Dana', lastName: 'Scully', initliveId: 'S-9' },
    });
    expect(received[1]!.value).toMatchObject({
      operation: 'UPDATE',
      changedFields: ['city'],
      values: { city: 'Arlington' },
    });
    expect(received[1]!.value.origin).toContain('client=InitLiveSync');
    await waitFor(
      'the stored position',
      () => source.status(ORG).lastReplayId === received[1]!.value.sourcePosition,
    );
    expect(await positions.get(replayPositionName(ORG))).toBe(received[1]!.value.sourcePosition);
  } finally {
    await source.stop();
    await transport.deleteGroups([group]).catch(() => undefined);
    await transport.deleteTopics(Object.values(topics)).catch(() => undefined);
    await transport.close();
    await sb.close();
  }
});
