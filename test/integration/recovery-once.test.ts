import { startConnector } from '../../src/app';
import type { Connector } from '../../src/app';
import { loadConfig } from '../../src/config';
import { generateEncryptionKey } from '../../src/infra/secrets';
import { silentLogger } from '../../src/logger';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import { dropDeployment } from '../fixtures/deployment-cleanup';
import { eventually } from '../fixtures/e2e';
import { http, type Json } from '../fixtures/http';
import { integrationEnv, uniqueName } from '../harness/env';
import { freePorts } from '../harness/ports';

/**
 * One recovery per gap: a replay position Salesforce no longer serves asks for exactly one
 * recovery full sync, however often the source restarts afterwards and in whichever of two
 * connectors (on the real Kafka, registry and Redis) it runs.
 */

jest.setTimeout(240_000);

const ORG = 'org_demo';

describe('an expired replay position across restarts and processes', () => {
  const env = integrationEnv();
  const name = uniqueName('recover');
  const connectors: Connector[] = [];
  let sf: Awaited<ReturnType<typeof startSalesforceSandbox>>;
  let il: Awaited<ReturnType<typeof startInitLiveSandbox>>;

  afterAll(async () => {
    for (const c of connectors) await c.stop().catch(() => undefined);
    await Promise.allSettled([sf?.close(), il?.close()]);
    await dropDeployment(env, name);
  });

  it('asks for one full sync, and restarts after it resume without another', async () => {
    sf = await startSalesforceSandbox({ port: 0 });
    il = await startInitLiveSandbox({ port: 0, rateLimit: false });
    const key = generateEncryptionKey();
    const [portA, portB] = await freePorts(2);
    const start = (port: number, label: string): Promise<Connector> =>
      startConnector(
        loadConfig({
          KAFKA_BROKERS: env.kafkaBrokers.join(','),
          SCHEMA_REGISTRY_URL: env.schemaRegistryUrl,
          SCHEMA_SUBJECT_PREFIX: `${name}.`,
          REDIS_URL: env.redisUrl,
          REDIS_KEY_PREFIX: `${name}:`,
          TOPIC_PREFIX: name,
          TOPIC_PARTITIONS: '3',
          KAFKA_GROUP_ID: name,
          KAFKA_CLIENT_ID: `${name}-${label}`,
          ENCRYPTION_KEY: key,
          PORT: String(port),
          SOURCE_LEASE_MS: '1500',
          SALESFORCE_LOGIN_URL: sf.loginUrl,
          SALESFORCE_CLIENT_ID: sf.clientId,
          SALESFORCE_CLIENT_SECRET: sf.clientSecret,
          SALESFORCE_REDIRECT_URI: `http://127.0.0.1:${portA}/oauth/salesforce/callback`,
          INITLIVE_BASE_URL: il.baseUrl,
          INITLIVE_API_KEY: 'sandbox-key',
          INITLIVE_ORG_ID: ORG,
        }),
        silentLogger,
        {
          print: () => undefined,
          directoryPollMs: 200,
          pipeline: { initliveSource: { pollIntervalMs: 200 }, salesforceSink: { lingerMs: 30 } },
        },
      );
    const a = await start(portA!, 'a');
    connectors.push(a);
    const b = await start(portB!, 'b');
    connectors.push(b);
    const api = (c: Connector, route: string, init: { method?: string; body?: unknown } = {}) =>
      http(`${c.url}/api/orgs/${ORG}/salesforce${route}`, { token: c.token, ...init });

    const started = await api(a, '/connect', { method: 'POST' });
    const approve = await fetch(String(started.body.authorizeUrl), { redirect: 'manual' });
    expect((await fetch(approve.headers.get('location')!)).status).toBeLessThan(400);
    await api(a, '/settings', {
      method: 'PUT',
      body: { direction: 'two_way', defaultSystem: 'salesforce' },
    });
    const holder = async (): Promise<Connector> => {
      let found: Connector | null = null;
      await eventually(() => {
        found =
          connectors.find((c) => c.pipeline.salesforceSource.status(ORG).state === 'streaming') ??
          null;
        expect(found).not.toBeNull();
      }, 30_000);
      return found!;
    };
    // A change is streamed and its replay id stored; then Salesforce purges its event retention.
    // Made once a source streams: a Contact created before it subscribed is the first full
    // sync's to carry, not this stream's.
    await holder();
    // Every process reconciles with the new direction (the other one reads it on its next poll).
    await eventually(() => {
      for (const c of connectors) expect(c.directory.syncSettings(ORG).direction).toBe('two_way');
    }, 10_000);
    const first = sf.control.createContact({ LastName: 'Before', Email: 'before@example.org' });
    await eventually(() => {
      expect(il.control.listStaff().some((s) => s.email === 'before@example.org')).toBe(true);
    }, 30_000);
    sf.control.purgeReplayRetention();
    const runs = async (): Promise<Json[]> =>
      ((await api(a, '/runs?limit=200')).body.runs as Json[]).filter(
        (r) => r.trigger === 'recovery',
      );

    // 50 restarts of the source, handing it to the other process every tenth time.
    for (let i = 0; i < 50; i++) {
      const c = await holder();
      if (i % 10 === 9) {
        await c.pipeline.sourceLease!.stop();
        await c.pipeline.sourceLease!.start();
      } else {
        await c.pipeline.salesforceSource.restart(ORG);
      }
    }
    await eventually(async () => {
      const recovery = await runs();
      expect(recovery).toHaveLength(1);
      expect(recovery[0]).toMatchObject({ reason: 'replay_id_invalid', status: 'succeeded' });
    }, 60_000);

    // The next restart resumes from the stored position: no run, and changes stream again.
    await (await holder()).pipeline.salesforceSource.restart(ORG);
    sf.control.updateContact(String(first.Id), { Phone: '+1 604 555 0155' });
    await eventually(() => {
      const staff = il.control.listStaff().find((s) => s.email === 'before@example.org');
      expect(staff?.phone).toBe('+1 604 555 0155');
    }, 30_000);
    expect(await runs()).toHaveLength(1);
    // One request, not one per restart: the refused position was replaced once it was asked for.
    let requests = 0;
    for (const c of connectors) {
      const text = (await http(`${c.url}/metrics`)).text;
      const m =
        /^initlive_sync_resync_requests_total\{source="salesforce",org="org_demo"\} (\d+)/m.exec(
          text,
        );
      requests += Number(m?.[1] ?? 0);
    }
    expect(requests).toBe(1);
  });
});
