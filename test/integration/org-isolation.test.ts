import { randomUUID } from 'node:crypto';
import type { Connection } from 'jsforce';
import { defaultMapping } from '../../src/core/mapping';
import type { DeadLetter } from '../../src/core/records';
import { createInitLiveClient } from '../../src/infra/initlive';
import { closeRedis, createRedis, deleteByPrefix } from '../../src/infra/redis/connect';
import { RedisParkedWriteStore } from '../../src/infra/redis/redis-parked-write-store';
import { createSalesforceConnection } from '../../src/infra/salesforce/connection';
import { createLogger, silentLogger } from '../../src/logger';
import { StaticOrgDirectory, type OrgRuntime } from '../../src/orgs/org-directory';
import { createPipeline, type Pipeline } from '../../src/pipeline/connector';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SandboxOrg } from '../../src/sandbox/salesforce/server';
import { recordKey } from '../../src/core/topics';
import { produce } from '../../src/pipeline/deps';
import { collect } from '../fixtures/pipeline-deps';
import { CLIENT_TAG, IL_ORIGIN, eventually, passwordToken } from '../fixtures/e2e';

/**
 * Issue 20 §4: one organization's fault stops that organization only. One connector, real
 * Kafka, registry and Redis, three organizations in one sandbox of each kind, and topics of a
 * single partition, so every organization's records share one partition: a fault that held
 * the partition would stop the healthy ones too. Each case breaks org C, checks that A and B
 * still stream (a new volunteer in each reaches Salesforce within HEALTHY_MS) and that their
 * sinks hold nothing, then mends C and checks that what C was holding lands.
 */

jest.setTimeout(120_000);

const HEALTHY_MS = 10_000;
const logger = process.env.TEST_LOG ? createLogger({ level: 'debug' }) : silentLogger;
type InitLiveSandbox = Awaited<ReturnType<typeof startInitLiveSandbox>>;

describe('organization isolation: one org’s fault leaves the others streaming', () => {
  let sf: SalesforceSandbox;
  let il: InitLiveSandbox;
  let runtime: Runtime;
  let pipeline: Pipeline;
  const sfOrgs = new Map<string, SandboxOrg>();
  const runtimes = new Map<string, OrgRuntime>();
  const id = randomUUID().slice(0, 8);
  const redisKeyPrefix = `iso-${id}:`;
  const redis = createRedis(process.env.REDIS_URL!, { connectionName: `iso-${id}` });
  const parked = {
    salesforce: new RedisParkedWriteStore({ redis, keyPrefix: redisKeyPrefix, sink: 'salesforce' }),
    initlive: new RedisParkedWriteStore({ redis, keyPrefix: redisKeyPrefix, sink: 'initlive' }),
  };
  const ORGS = ['iso-a', 'iso-b', 'iso-c'] as const;
  const [A, B, C] = ORGS;
  let n = 0;

  /** A connection as the connector holds it; C's cannot mint a new token, so a revoke sticks. */
  const connect = async (orgId: string): Promise<Connection> => {
    const o = sfOrgs.get(orgId)!;
    const creds = { ...o, loginUrl: o.loginUrl };
    const token = await passwordToken(creds);
    return createSalesforceConnection({
      credentials: {
        instanceUrl: token.instance_url,
        accessToken: token.access_token,
        loginUrl: o.loginUrl,
        clientId: o.clientId,
        clientSecret: o.clientSecret,
      },
      apiVersion: '62.0',
      clientTag: CLIENT_TAG,
      logger,
      ...(orgId === C
        ? {}
        : { mintAccessToken: async () => (await passwordToken(creds)).access_token }),
    });
  };

  const contactOf = (orgId: string, email: string): Record<string, unknown> | undefined =>
    sfOrgs
      .get(orgId)!
      .control.listContacts()
      .find((c) => String(c.Email).toLowerCase() === email.toLowerCase());

  /** A new volunteer in each org's InitLive; answers their emails by org. */
  const newVolunteers = (orgs: readonly string[], extra: Record<string, unknown> = {}) => {
    const emails = new Map<string, string>();
    for (const orgId of orgs) {
      n++;
      const email = `vol${n}-${id}@example.org`;
      il.control.createStaff(
        { firstName: `Vol${n}`, lastName: `Iso${n}`, email, ...extra },
        { orgId },
      );
      emails.set(orgId, email);
    }
    return emails;
  };

  /** A and B stream while C is broken: their volunteers land and their sinks hold nothing. */
  const othersStream = async (): Promise<void> => {
    const started = Date.now();
    const emails = newVolunteers([A, B]);
    await eventually(() => {
      for (const [orgId, email] of emails) expect(contactOf(orgId, email)).toBeDefined();
    }, HEALTHY_MS);
    expect(Date.now() - started).toBeLessThan(HEALTHY_MS);
    for (const orgId of [A, B]) {
      expect(pipeline.salesforceSink.pausedFor(orgId)).toBeNull();
      expect(pipeline.initliveSink.pausedFor(orgId)).toBeNull();
    }
  };

  beforeAll(async () => {
    sf = await startSalesforceSandbox({ port: 0 });
    il = await startInitLiveSandbox({ port: 0, rateLimit: false });
    for (const orgId of ORGS) {
      sfOrgs.set(orgId, sf.createOrg({ username: `admin@${orgId}-${id}.sandbox.test` }));
      const ilOrg = il.control.createOrg({ id: orgId });
      runtimes.set(orgId, {
        orgId,
        settings: {
          direction: 'initlive_to_salesforce',
          defaultSystem: 'initlive',
          deletePolicy: 'archive',
          mapping: defaultMapping,
        },
        streaming: true,
        salesforce: await connect(orgId),
        initlive: createInitLiveClient({
          baseUrl: il.baseUrl,
          apiKey: ilOrg.apiKey,
          orgId,
          changeOrigin: IL_ORIGIN,
          logger,
        }),
        initliveOrigin: IL_ORIGIN,
        salesforceClientTag: CLIENT_TAG,
      });
    }
    runtime = await createRuntime(
      {
        kafkaBrokers: (process.env.KAFKA_BROKERS ?? '').split(','),
        schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL!,
        redisUrl: process.env.REDIS_URL!,
        kafkaClientId: `iso-${id}`,
        redisKeyPrefix,
        subjectPrefix: `iso-${id}.`,
        topicPrefix: `iso-${id}`,
        // One partition: every organization's records queue in the same one.
        topicPartitions: 1,
        groupPrefix: `iso-${id}`,
      },
      new StaticOrgDirectory([...runtimes.values()]),
      logger,
    );
    pipeline = createPipeline(runtime.deps, {
      initliveSource: { pollIntervalMs: 50 },
      salesforceSink: { lingerMs: 30, pauseCheckMs: 300, parked: parked.salesforce },
      initliveSink: { parked: parked.initlive },
    });
    await pipeline.start();
    // Every org streams before any fault.
    const emails = newVolunteers(ORGS);
    await eventually(() => {
      for (const [orgId, email] of emails) expect(contactOf(orgId, email)).toBeDefined();
    }, 30_000);
  });

  afterAll(async () => {
    await pipeline?.stop();
    await runtime?.close();
    await deleteByPrefix(redis, redisKeyPrefix).finally(() => closeRedis(redis));
    await Promise.allSettled([sf?.close(), il?.close()]);
  });

  it('an exhausted API allocation holds only that org; its writes land once calls are back', async () => {
    const c = sfOrgs.get(C)!.control;
    c.exhaustApiLimit();
    const held = newVolunteers([C]).get(C)!;
    await eventually(() => expect(pipeline.salesforceSink.pausedFor(C)).toBe('api_limit'));
    await othersStream();
    await othersStream();
    expect(contactOf(C, held)).toBeUndefined();
    c.resetApiUsage();
    await eventually(() => expect(contactOf(C, held)).toBeDefined(), 15_000);
    await eventually(async () => expect(await parked.salesforce.count(C)).toBe(0));
  });

  it('a removed package holds only that org; its writes land once it is back', async () => {
    const c = sfOrgs.get(C)!.control;
    c.uninstallPackage();
    const held = newVolunteers([C]).get(C)!;
    await eventually(() => expect(pipeline.salesforceSink.pausedFor(C)).toBe('package_missing'));
    await othersStream();
    c.installPackage();
    await eventually(() => expect(contactOf(C, held)).toBeDefined(), 15_000);
  });

  it('a revoked grant holds only that org; its writes land once it is reconnected', async () => {
    const c = sfOrgs.get(C)!.control;
    c.revokeAllGrants();
    const held = newVolunteers([C]).get(C)!;
    await eventually(() => expect(pipeline.salesforceSink.pausedFor(C)).toBe('needs_reauth'));
    await othersStream();
    expect(contactOf(C, held)).toBeUndefined();
    // Reconnect: the org's runtime gets a new connection, as the admin's Connect gives it.
    runtimes.get(C)!.salesforce = await connect(C);
    runtime.deps.events.emit('sink.wake', { orgId: C });
    await eventually(() => expect(contactOf(C, held)).toBeDefined(), 15_000);
  });

  it('a record that always fails goes to the dead letters once; the others flow', async () => {
    const letters = await collect(runtime.deps, 'deadLetters');
    try {
      // InitLive takes a first name of 60 characters; Salesforce's holds 40.
      const poison = newVolunteers([C], { firstName: 'X'.repeat(60) }).get(C)!;
      const fine = newVolunteers([C]).get(C)!;
      await othersStream();
      await eventually(() => expect(contactOf(C, fine)).toBeDefined());
      await eventually(() =>
        expect(
          letters.records.filter(
            (l: DeadLetter) => l.orgId === C && l.upstreamCode === 'STRING_TOO_LONG',
          ),
        ).toHaveLength(1),
      );
      expect(contactOf(C, poison)).toBeUndefined();
      expect(pipeline.salesforceSink.pausedFor(C)).toBeNull();
    } finally {
      await letters.stop();
    }
  });
  it('an expired replay position asks a recovery for that org only; the others keep streaming', async () => {
    const source = pipeline.salesforceSource;
    const c = sfOrgs.get(C)!.control;
    c.createContact({ LastName: 'Seen', Email: `seen-${id}@example.org` });
    await eventually(() => expect(source.status(C).lastReplayId).not.toBeNull());
    await source.stopOrg(C);
    // Events C's stream never read, then gone from the retention window.
    c.createContact({ LastName: 'Missed', Email: `missed-${id}@example.org` });
    c.purgeReplayRetention();
    await source.startOrg(C);
    await eventually(() => expect(source.status(C).lastResync?.reason).toBe('replay_id_invalid'));
    await othersStream();
    for (const orgId of [A, B]) {
      expect(source.status(orgId)).toMatchObject({ state: 'streaming', lastResync: null });
      expect(source.status(orgId).lastError?.code).not.toBe('POSITION_EXPIRED');
    }
    // C streams again from now on: a new volunteer of C still lands.
    const after = newVolunteers([C]).get(C)!;
    await eventually(() => expect(contactOf(C, after)).toBeDefined());
  });
  it('a Contact read refused for an exhausted allocation dead-letters that change only; the reconciler moves on', async () => {
    const letters = await collect(runtime.deps, 'deadLetters');
    const c = sfOrgs.get(C)!.control;
    try {
      // A Contact no pair knows (C's stream is stopped), then a CDC update naming part of it:
      // the reconciler must read it whole, and C has no calls left.
      await pipeline.salesforceSource.stopOrg(C);
      const contact = c.createContact({ LastName: 'Unknown', Email: `unknown-${id}@example.org` });
      c.exhaustApiLimit();
      const contactId = String(contact.Id);
      await produce(runtime.deps, 'contactChanges', [
        {
          key: recordKey(C, contactId),
          value: {
            orgId: C,
            salesforceId: contactId,
            initliveId: null,
            operation: 'UPDATE',
            changedFields: ['phone'],
            values: { phone: '+1 555 0100' },
            sourceVersion: Date.now(),
            sourcePosition: 'test:1',
            origin: null,
            commitUser: null,
            transactionKey: null,
            sequenceNumber: null,
            observedAt: Date.now(),
            occurredAt: Date.now(),
            runId: null,
          },
        },
      ]);
      await eventually(() =>
        expect(
          letters.records.filter(
            (l: DeadLetter) => l.orgId === C && l.errorCode === 'API_LIMIT_EXCEEDED',
          ),
        ).toHaveLength(1),
      );
      // Committed past it: nothing of any org waits behind it in the partition.
      await eventually(async () => {
        const lag = await runtime.deps.transport.lag(`iso-${id}.reconciler`, [
          runtime.deps.topics.contactChanges,
        ]);
        expect(lag.reduce((sum, p) => sum + p.lag, 0)).toBe(0);
      });
      await othersStream();
    } finally {
      c.resetApiUsage();
      await pipeline.salesforceSource.startOrg(C);
      await letters.stop();
    }
  });
});
