import { createServer, type AddressInfo } from 'node:net';
import { startConnector } from '../../src/app';
import type { Connector } from '../../src/app';
import { loadConfig } from '../../src/config';
import { MemoryLock } from '../../src/infra/memory/memory-lock';
import { silentLogger } from '../../src/logger';
import { eventually } from '../fixtures/e2e';
import { http } from '../fixtures/http';

/**
 * Two whole connectors (the embedded default, each with its own sandboxes) whose source
 * leases share one lock, as processes share Redis: what the admin API and /metrics say, and
 * that a webhook signed for one process is accepted by another (one load balancer in front).
 */

jest.setTimeout(90_000);

const ORG = 'org_demo';
const LEASE_MS = 900;
const KEY = Buffer.alloc(32, 7).toString('base64');

async function start(lock: MemoryLock, env: Record<string, string> = {}): Promise<Connector> {
  const config = loadConfig({
    PORT: '0',
    SANDBOX_SALESFORCE_PORT: '0',
    SANDBOX_INITLIVE_PORT: '0',
    ENCRYPTION_KEY: KEY,
    ...env,
  });
  return startConnector(config, silentLogger, {
    print: () => undefined,
    awaitInitialSync: false,
    pipeline: {
      initliveSource: { pollIntervalMs: 100 },
      sourceLease: { lock: new MemoryLock({ sharedWith: lock }), leaseMs: LEASE_MS },
    },
  });
}

/** A port nothing listens on now, so a process can be started again at the same address. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function sourceStates(c: Connector): Promise<unknown> {
  const res = await http(`${c.url}/api/orgs/${ORG}/salesforce`, { token: c.token });
  return (res.body.streaming as { sources: unknown }).sources;
}

async function leaseGauge(c: Connector): Promise<string | undefined> {
  const text = (await http(`${c.url}/metrics`)).text;
  return /^initlive_sync_source_lease_state\{org="org_demo"\} (\d)$/m.exec(text)?.[1];
}

describe('source lease in the connector', () => {
  let a: Connector | null = null;
  let b: Connector | null = null;

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('reports the standby process as standby, hands over on a clean stop, and shares the webhook secret', async () => {
    const lock = new MemoryLock();
    const port = await freePort();
    a = await start(lock, { PORT: String(port) });
    // B sits behind the same load balancer: its InitLive sends B's webhooks to A's address.
    b = await start(lock, { PUBLIC_URL: a.url });

    expect(await sourceStates(a)).toEqual({ initlive: 'running', salesforce: 'streaming' });
    expect(await sourceStates(b)).toEqual({ initlive: 'standby', salesforce: 'standby' });
    expect(await leaseGauge(a)).toBe('1');
    expect(await leaseGauge(b)).toBe('0');

    // Only the process reading an organization registers its webhook: none from B yet.
    const bInitLive = b.sandboxes!.initlive.control;
    bInitLive.createStaff({ firstName: 'Standby', lastName: 'Quiet' });
    await bInitLive.webhooksIdle();
    expect(bInitLive.webhookAttempts()).toEqual([]);

    await a.stop();
    a = null;
    await eventually(async () => {
      expect(await sourceStates(b!)).toEqual({ initlive: 'running', salesforce: 'streaming' });
    }, 5_000);
    expect(await leaseGauge(b)).toBe('1');

    // A comes back at its address, standby now; a nudge B registered reaches it, and it
    // verifies it with the same secret: 202, not 401.
    a = await start(lock, { PORT: String(port) });
    bInitLive.createStaff({ firstName: 'Balanced', lastName: 'Nudge' });
    await bInitLive.webhooksIdle();
    const attempts = bInitLive.webhookAttempts().filter((x) => x.status !== null);
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.map((x) => x.status)).toEqual(attempts.map(() => 202));
    expect(attempts.every((x) => x.url.startsWith(`${a!.url}/webhooks/initlive`))).toBe(true);
    expect(a.pipeline.initliveSource.stats().webhooks.rejected).toBe(0);
  });
});
