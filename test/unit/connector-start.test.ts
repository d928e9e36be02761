import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startConnector } from '../../src/app';
import type { Connector } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { eventually } from '../fixtures/e2e';
import { http } from '../fixtures/http';

/**
 * The composition root in its embedded default (in-memory transport and stores, both
 * sandboxes, the demo organization connected through the sandbox's OAuth): started in-process
 * through the same `startConnector` main.ts calls, and as a real process for configuration
 * errors and Ctrl-C.
 */

jest.setTimeout(90_000);

const ROOT = join(__dirname, '..', '..');
const ORG = 'org_demo';

/** Runs `node src/main.ts` (through ts-node) with `env` added to a clean environment. */
function runMain(
  env: Record<string, string>,
  onStdout?: (text: string, child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src', 'main.ts')],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm start (embedded default), in-process', () => {
  let connector: Connector | null = null;
  const logs: string[] = [];
  const printed: string[] = [];

  beforeAll(async () => {
    const config = loadConfig({
      PORT: '0',
      SANDBOX_SALESFORCE_PORT: '0',
      SANDBOX_INITLIVE_PORT: '0',
      LOG_LEVEL: 'debug',
    });
    connector = await startConnector(
      config,
      createLogger({ level: 'debug', write: (line) => logs.push(line) }),
      {
        print: (text) => printed.push(text),
        pipeline: { initliveSource: { pollIntervalMs: 200 }, salesforceSink: { lingerMs: 20 } },
      },
    );
  });

  afterAll(async () => {
    await connector?.stop();
  });

  it('is ready, with the demo organization connected and streaming, after an initial full sync', async () => {
    const c = connector!;
    expect(c.mode).toBe('memory');
    expect((await http(`${c.url}/readyz`)).status).toBe(200);
    expect((await http(`${c.url}/healthz`)).status).toBe(200);

    const status = await http(`${c.url}/api/orgs/${ORG}/salesforce`, { token: c.token });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      connection: 'connected',
      flow: 'jwt',
      instanceUrl: c.sandboxes!.salesforce.instanceUrl,
      settings: {
        direction: 'initlive_to_salesforce',
        streaming: true,
        schedule: { mode: 'manual' },
        deletePolicy: 'archive',
      },
      lastRun: { status: 'succeeded', trigger: 'manual' },
      streaming: { enabled: true, active: true },
    });
    // The initial sync copies every seeded staff member to Salesforce (created or linked).
    await eventually(() => {
      const linked = c
        .sandboxes!.salesforce.control.listContacts()
        .filter((x) => typeof x.InitLive_Staff_Id__c === 'string');
      expect(linked).toHaveLength(c.sandboxes!.initlive.control.listStaff().length);
    });
    expect((await http(`${c.url}/api/orgs/${ORG}/salesforce`)).status).toBe(401);
  });

  it('Sync now over HTTP runs a full sync whose counts show in the run history', async () => {
    const c = connector!;
    const il = c.sandboxes!.initlive.control;
    // The run must report reading every staff member, through the same HTTP routes an admin uses.
    const started = await http(`${c.url}/api/orgs/${ORG}/salesforce/sync`, {
      method: 'POST',
      token: c.token,
    });
    expect(started.status).toBe(202);
    const runId = (started.body as { runId: string }).runId;
    let run: Record<string, unknown> = {};
    await eventually(async () => {
      const res = await http(`${c.url}/api/orgs/${ORG}/salesforce/runs/${runId}`, {
        token: c.token,
      });
      run = res.body;
      expect(run.status).toBe('succeeded');
    }, 30_000);
    expect(run).toMatchObject({
      runId,
      trigger: 'manual',
      counts: expect.objectContaining({
        read: { initlive: il.listStaff().length, salesforce: expect.any(Number) },
      }),
    });
    // Everything was already in sync: the second run changes nothing in Salesforce.
    const counts = run.counts as {
      created: { salesforce: number };
      updated: { salesforce: number };
    };
    expect(counts.created.salesforce).toBe(0);
    expect(counts.updated.salesforce).toBe(0);
    const list = await http(`${c.url}/api/orgs/${ORG}/salesforce/runs`, { token: c.token });
    expect(JSON.stringify(list.body)).toContain(runId);
  });

  it('prints the admin URL, the token, the sandbox URLs and credentials', () => {
    const c = connector!;
    const text = printed.join('');
    expect(text).toContain(c.url);
    expect(text).toContain(c.token);
    expect(text).toContain(c.sandboxes!.salesforce.url);
    expect(text).toContain(`${c.sandboxes!.initlive.baseUrl}/api/v1`);
    expect(text).toContain('sandbox-secret');
    expect(text).toContain('sandbox-key');
    expect(text).toMatch(/curl -s -X PATCH .*\/organizations\/org_demo\/staff\/stf_/);
  });

  it('carries a change made in InitLive over to Salesforce, and shows it in /metrics', async () => {
    const c = connector!;
    const staff = c.sandboxes!.initlive.control.listStaff()[3]!;
    // The README's curl, as a person would send it.
    const patched = await http(
      `${c.sandboxes!.initlive.baseUrl}/api/v1/organizations/${ORG}/staff/${staff.id}`,
      { method: 'PATCH', token: 'sandbox-key', body: { phone: '+1 604 555 0142' } },
    );
    expect(patched.status).toBe(200);
    await eventually(() => {
      const contact = c
        .sandboxes!.salesforce.control.listContacts()
        .find((x) => x.InitLive_Staff_Id__c === staff.id);
      expect(contact?.Phone).toBe('+1 604 555 0142');
    });
    const metrics = await http(`${c.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(
      /initlive_sync_records_read_total\{source="initlive",org="org_demo"\} [1-9]/,
    );
    expect(metrics.text).toMatch(
      /initlive_sync_runs_total\{org="org_demo",trigger="manual",outcome="succeeded"\} [1-9]\d*/,
    );
    expect(metrics.text).toMatch(
      /initlive_sync_connection_state\{org="org_demo",state="connected"\} 1/,
    );
  });

  it('restarts the sources when the settings change: two-way carries Salesforce edits to InitLive', async () => {
    const c = connector!;
    const put = await http(`${c.url}/api/orgs/${ORG}/salesforce/settings`, {
      method: 'PUT',
      token: c.token,
      body: { direction: 'two_way', defaultSystem: 'initlive' },
    });
    expect(put.status).toBe(200);
    await eventually(async () => {
      const s = await http(`${c.url}/api/orgs/${ORG}/salesforce`, { token: c.token });
      expect(s.body.streaming).toMatchObject({ sources: { salesforce: 'streaming' } });
    });
    const contact = c
      .sandboxes!.salesforce.control.listContacts()
      .find((x) => typeof x.InitLive_Staff_Id__c === 'string')!;
    c.sandboxes!.salesforce.control.updateContact(String(contact.Id), {
      MobilePhone: '+1 778 555 0100',
    });
    await eventually(() => {
      const staff = c.sandboxes!.initlive.control.getStaff(String(contact.InitLive_Staff_Id__c));
      expect(staff.mobilePhone).toBe('+1 778 555 0100');
    });
  });

  it('disconnect stops streaming and the schedule; reconnecting through OAuth restarts them', async () => {
    const c = connector!;
    const daily = await http(`${c.url}/api/orgs/${ORG}/salesforce/settings`, {
      method: 'PUT',
      token: c.token,
      body: {
        direction: 'two_way',
        defaultSystem: 'initlive',
        schedule: { mode: 'interval', everyMinutes: 30 },
      },
    });
    expect(daily.status).toBe(200);
    await eventually(() => expect(c.scheduler.nextRunAt(ORG)).not.toBeNull());

    const off = await http(`${c.url}/api/orgs/${ORG}/salesforce/disconnect`, {
      method: 'POST',
      token: c.token,
    });
    expect(off.body).toMatchObject({ connection: 'disconnected', revoked: true });
    await eventually(async () => {
      const s = await http(`${c.url}/api/orgs/${ORG}/salesforce`, { token: c.token });
      expect(s.body.streaming).toMatchObject({
        active: false,
        sources: { salesforce: 'stopped', initlive: 'stopped' },
      });
      expect(c.scheduler.nextRunAt(ORG)).toBeNull();
    });

    // Changes on both sides while disconnected: the sources resume from their stored
    // positions, so both must arrive after the reconnect, once, with no duplicate records.
    const il = c.sandboxes!.initlive.control;
    const sf = c.sandboxes!.salesforce.control;
    const offStaff = il.listStaff()[6]!;
    il.updateStaff(offStaff.id, { lastName: 'WhileOff' });
    const offContact = sf
      .listContacts()
      .find((x) => x.InitLive_Staff_Id__c === il.listStaff()[7]!.id)!;
    sf.updateContact(String(offContact.Id), { MobilePhone: '+1 604 555 0777' });
    const contactsBefore = sf.listContacts().length;
    const staffBefore = il.listStaff().length;

    // The web-server flow with PKCE against the sandbox, as a browser would go through it.
    const started = await http(`${c.url}/api/orgs/${ORG}/salesforce/connect`, {
      method: 'POST',
      token: c.token,
    });
    const approve = await fetch(String(started.body.authorizeUrl), { redirect: 'manual' });
    expect(approve.status).toBe(302);
    const callback = await fetch(approve.headers.get('location')!, {
      headers: { accept: 'application/json' },
    });
    expect(await callback.json()).toMatchObject({ connection: 'connected' });
    await eventually(async () => {
      const s = await http(`${c.url}/api/orgs/${ORG}/salesforce`, { token: c.token });
      expect(s.body).toMatchObject({ flow: 'web_server' });
      expect(s.body.streaming).toMatchObject({
        active: true,
        sources: { salesforce: 'streaming', initlive: 'running' },
      });
      expect(c.scheduler.nextRunAt(ORG)).not.toBeNull();
    });
    await eventually(() => {
      expect(sf.listContacts().find((x) => x.InitLive_Staff_Id__c === offStaff.id)?.LastName).toBe(
        'WhileOff',
      );
      expect(il.getStaff(String(offContact.InitLive_Staff_Id__c)).mobilePhone).toBe(
        '+1 604 555 0777',
      );
    });
    expect(sf.listContacts()).toHaveLength(contactsBefore);
    expect(il.listStaff()).toHaveLength(staffBefore);
    const staff = c.sandboxes!.initlive.control.listStaff()[5]!;
    c.sandboxes!.initlive.control.updateStaff(staff.id, { lastName: 'Reconnected' });
    await eventually(() => {
      const contact = c
        .sandboxes!.salesforce.control.listContacts()
        .find((x) => x.InitLive_Staff_Id__c === staff.id);
      expect(contact?.LastName).toBe('Reconnected');
    });
  });

  it('shuts down cleanly, and no token or key ever reached a log line', async () => {
    const c = connector!;
    const secrets = [
      c.token,
      c.directory.connection(ORG)?.salesforce?.accessToken,
      c.directory.connection(ORG)?.salesforce?.refreshToken,
      'sandbox-secret',
      'sandbox-key',
    ].filter((s): s is string => typeof s === 'string' && s.length > 0);
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    await c.stop();
    await expect(fetch(`${c.url}/healthz`)).rejects.toThrow();
    await expect(fetch(`${c.sandboxes!.salesforce.url}/services/data`)).rejects.toThrow();
    expect(logs.some((l) => l.includes('"connector stopped"'))).toBe(true);
    expect(logs.length).toBeGreaterThan(20);
    for (const secret of secrets) {
      expect(logs.filter((l) => l.includes(secret))).toEqual([]);
    }
  });
});

describe('npm start as a process', () => {
  it('exits 1 naming every bad variable, without a stack trace', async () => {
    const out = await runMain({ PORT: 'abc', LOG_LEVEL: 'loud' });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/Invalid configuration/);
    expect(out.stderr).toMatch(/PORT:/);
    expect(out.stderr).toMatch(/LOG_LEVEL:/);
    expect(out.stderr).not.toMatch(/\n\s+at /);
    expect(out.stdout).toBe('');
  });

  it('requires ENCRYPTION_KEY once tokens are stored in Redis', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(
      /ENCRYPTION_KEY: is required when REDIS_URL is set/,
    );
    expect(() =>
      loadConfig({
        REDIS_URL: 'redis://127.0.0.1:6379',
        ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      }),
    ).not.toThrow();
    expect(() => loadConfig({ SANDBOX: 'off' })).toThrow(/SALESFORCE_LOGIN_URL: is required/);
    expect(() => loadConfig({ INITLIVE_BASE_URL: 'https://api.initlive.test' })).toThrow(
      /INITLIVE_API_KEY: INITLIVE_BASE_URL and INITLIVE_API_KEY are set together/,
    );
  });

  /** Runs `npm start` with `env` until its banner is out, then presses Ctrl-C. */
  const untilReadyThenCtrlC = async (
    env: Record<string, string>,
  ): Promise<{ code: number | null; stdout: string; stderr: string; sent: boolean }> => {
    let sent = false;
    const out = await runMain(
      { PORT: '0', SANDBOX_SALESFORCE_PORT: '0', SANDBOX_INITLIVE_PORT: '0', ...env },
      (stdout, child) => {
        if (!sent && stdout.includes('Ctrl-C stops it.')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    );
    return { ...out, sent };
  };

  it('never prints an admin token the operator set, on stdout or stderr', async () => {
    const token = 'operator-chosen-token-7f3a9c1e5b';
    const out = await untilReadyThenCtrlC({ ADMIN_TOKEN: token, LOG_LEVEL: 'debug' });
    expect(out.sent).toBe(true);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Admin token  ADMIN_TOKEN, as set (not printed)');
    expect(out.stdout).toContain('export TOKEN="$ADMIN_TOKEN"');
    expect(out.stdout).not.toContain(token);
    expect(out.stderr).not.toContain(token);
  });

  it('stops cleanly on Ctrl-C (SIGINT) and exits 0', async () => {
    const out = await untilReadyThenCtrlC({});
    expect(out.sent).toBe(true);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('"connector stopped"');
    expect(out.stderr).toContain('SIGINT: shutting down');
  });
});
