import { closeRedis, createRedis } from '../../src/infra/redis/connect';
import { generateEncryptionKey } from '../../src/infra/secrets';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import { dropDeployment } from '../fixtures/deployment-cleanup';
import { eventually } from '../fixtures/e2e';
import { http, type Json } from '../fixtures/http';
import { startMainProcess, stopMainProcesses, type MainProcess } from '../fixtures/main-process';
import { integrationEnv, uniqueName } from '../harness/env';
import { freePorts } from '../harness/ports';

/**
 * Truthful runs across processes: two connector processes (`src/main.ts`, what `npm start`
 * runs) in one consumer group on the real Kafka, registry and Redis, against sandboxes in this
 * process. Whichever process takes the Sync now, the run ends only once its Contacts exist and
 * counts exactly what landed, although the reconciler and sinks that did the work are spread
 * over both processes.
 */

jest.setTimeout(240_000);

const ORG = 'org_demo';
const TOKEN = 'two-process-admin-token-0123456789';
const TOO_LONG_EMAIL = (n: number): string => `${'x'.repeat(75)}${n}@example.org`;

type Proc = MainProcess;

interface Run extends Json {
  status: string;
  counts: { created: { salesforce: number }; failed: { initlive: number; salesforce: number } };
}

describe('truthful runs with two connector processes on Kafka, the registry and Redis', () => {
  const env = integrationEnv();
  const name = uniqueName('truth');
  const procs: Proc[] = [];
  /** By label: `procs` is in the order the processes became ready, which varies. */
  const byLabel = new Map<string, Proc>();
  let sf: Awaited<ReturnType<typeof startSalesforceSandbox>>;
  let il: Awaited<ReturnType<typeof startInitLiveSandbox>>;

  const start = async (
    port: number,
    label: string,
    key: string,
    callbackPort: number,
  ): Promise<Proc> => {
    const shared = { name, orgId: ORG, encryptionKey: key, adminToken: TOKEN, sf, il };
    const proc = await startMainProcess(
      { ...shared, callbackPort, env: { LOG_LEVEL: 'debug' } },
      port,
      label,
    );
    procs.push(proc);
    byLabel.set(label, proc);
    return proc;
  };

  const api = (p: Proc, route: string, init: { method?: string; body?: unknown } = {}) =>
    http(`${p.url}/api/orgs/${ORG}/salesforce${route}`, { token: TOKEN, ...init });

  /**
   * Polls the run as a client would and returns the first answer that says it ended. With no
   * pause it polls back to back, so that no answer between two polls goes unseen.
   */
  const firstFinished = async (p: Proc, runId: string, pauseMs = 0): Promise<Run> => {
    for (;;) {
      const run = (await api(p, `/runs/${runId}`)).body as Run;
      if (['succeeded', 'partially_succeeded', 'failed'].includes(run.status)) return run;
      await new Promise((r) => (pauseMs > 0 ? setTimeout(r, pauseMs) : setImmediate(r)));
    }
  };

  beforeAll(async () => {
    sf = await startSalesforceSandbox({ port: 0 });
    il = await startInitLiveSandbox({ port: 0, rateLimit: false });
  });

  afterAll(async () => {
    await stopMainProcesses(procs);
    await Promise.allSettled([sf?.close(), il?.close()]);
    await dropDeployment(env, name);
  });

  // Shared with the access-control test below, which uses the same two processes.
  const key = generateEncryptionKey();
  let portA = 0;

  it('counts exactly what landed, whichever process takes the Sync now', async () => {
    const [pa, portB] = await freePorts(2);
    portA = pa!;
    const [a, b] = await Promise.all([
      start(portA, 'a', key, portA),
      start(portB!, 'b', key, portA),
    ]);

    // Connect through A with the OAuth web flow; B learns of it from the shared store.
    const started = await api(a, '/connect', { method: 'POST' });
    expect(started.status).toBe(200);
    const approve = await fetch(String(started.body.authorizeUrl), { redirect: 'manual' });
    const callback = await fetch(approve.headers.get('location')!, {
      headers: { accept: 'application/json' },
    });
    expect(callback.status).toBe(200);
    const settings = await api(a, '/settings');
    const put = await api(a, '/settings', {
      method: 'PUT',
      body: { ...settings.body, streaming: false },
    });
    expect(put.status).toBe(200);
    for (const p of [a, b]) {
      await eventually(async () => {
        const status = await api(p, '');
        expect(status.body).toMatchObject({ connection: 'connected' });
        expect((await api(p, '/settings')).body).toMatchObject({ streaming: false });
      }, 30_000);
    }
    // The initial state: a first run links nothing (both systems are empty) and ends.
    const first = await firstFinished(
      b,
      String((await api(b, '/sync', { method: 'POST' })).body.runId),
    );
    expect(first.status).toBe('succeeded');

    // One round taken by each process. An organization's outcomes are counted by whichever
    // process holds their partition, so in one of the rounds the process holding the run is not
    // the one counting its outcomes; the counts must be exact in both.
    for (const [round, taker] of [
      [1, b],
      [2, a],
    ] as const) {
      const good = [
        il.control.createStaff({
          firstName: 'Ann',
          lastName: `R${round}`,
          email: `ann.r${round}@example.org`,
        }),
        il.control.createStaff({
          firstName: 'Ben',
          lastName: `R${round}`,
          email: `ben.r${round}@example.org`,
        }),
      ];
      const refused = il.control.createStaff({
        firstName: 'Cat',
        lastName: `R${round}`,
        email: TOO_LONG_EMAIL(round),
      });
      const sync = await api(taker, '/sync', { method: 'POST' });
      expect(sync.status).toBe(202);
      // Watched from the other process: the run history is shared too.
      const watcher = taker === a ? b : a;
      const run = await firstFinished(watcher, String(sync.body.runId));
      const contacts = sf.control.listContacts();
      for (const s of good) {
        expect(contacts.filter((x) => x.InitLive_Staff_Id__c === s.id)).toHaveLength(1);
      }
      expect(run.status).toBe('partially_succeeded');
      expect(run.counts.created.salesforce).toBe(2);
      // Every refused volunteer so far is refused again: the run says so, on the Salesforce side.
      expect(run.counts.failed).toEqual({ initlive: 0, salesforce: round });
      const status = await api(watcher, `/records?initliveId=${refused.id}`);
      expect(status.body).toMatchObject({
        state: 'failed',
        lastError: { code: 'SALESFORCE_REJECTED' },
      });
      const synced = await api(watcher, `/records?initliveId=${good[0]!.id}`);
      expect(synced.body).toMatchObject({ state: 'in_sync', linkedBy: 'created' });
    }

    // Record status and history in Redis hold names, never values.
    const redis = createRedis(env.redisUrl);
    try {
      const stored: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${name}:rs:*`, 'COUNT', 1000);
        for (const k of keys) {
          const type = await redis.type(k);
          if (type === 'hash') stored.push(JSON.stringify(await redis.hgetall(k)));
          else if (type === 'list') stored.push(...(await redis.lrange(k, 0, -1)));
        }
        cursor = next;
      } while (cursor !== '0');
      expect(stored.length).toBeGreaterThan(0);
      const text = stored.join('\n');
      expect(text).toContain('"written"');
      for (const value of [
        'ann.r1@example.org',
        'ben.r2@example.org',
        TOO_LONG_EMAIL(1),
        'Ann',
        'Cat',
      ]) {
        expect(text).not.toContain(value);
      }
    } finally {
      await closeRedis(redis);
    }
    // Nor the processes' logs.
    const logs = procs.map((p) => p.output.join('')).join('\n');
    for (const value of ['ann.r1@example.org', 'ben.r2@example.org', TOO_LONG_EMAIL(2)]) {
      expect(logs).not.toContain(value);
    }
  });
  it('revokes an organization token at one process and the other refuses it next; the audit log is shared and survives a restart', async () => {
    const [a, b] = [byLabel.get('a'), byLabel.get('b')];
    expect(a && b).toBeTruthy();
    const orgApi = (
      p: Proc,
      route: string,
      init: { method?: string; body?: unknown; token?: string } = {},
    ) => http(`${p.url}/api/orgs/${ORG}${route}`, { token: TOKEN, ...init });

    const created = await orgApi(a!, '/tokens', {
      method: 'POST',
      body: { name: 'coordinator', role: 'admin' },
    });
    expect(created.status).toBe(201);
    const secret = String(created.body.secret);
    expect((await orgApi(b!, '/salesforce', { token: secret })).status).toBe(200);
    expect((await http(`${b!.url}/api/orgs/other_org/salesforce`, { token: secret })).status).toBe(
      403,
    );
    expect(
      (await orgApi(a!, `/tokens/${String(created.body.id)}`, { method: 'DELETE' })).status,
    ).toBe(204);
    expect((await orgApi(b!, '/salesforce', { token: secret })).status).toBe(401);

    interface Entry extends Json {
      id: string;
      action: string;
      changes?: Array<{ field: string; before: unknown; after: unknown }>;
    }
    const entries = async (p: Proc): Promise<Entry[]> =>
      ((await orgApi(p, '/audit?limit=500')).body as { entries: Entry[] }).entries;
    let seen: Entry[] = [];
    await eventually(async () => {
      seen = await entries(b!);
      expect(seen.map((e) => e.action)).toContain('token.revoked');
    });
    const actions = seen.map((e) => e.action);
    for (const action of [
      'connect.completed',
      'settings.changed',
      'sync.requested',
      'token.created',
    ]) {
      expect(actions).toContain(action);
    }
    const change = seen.find((e) => e.action === 'settings.changed');
    expect(change?.changes).toContainEqual({ field: 'streaming', before: true, after: false });

    // Process A stops and starts again: the log is Redis's, not the process's.
    await new Promise<void>((resolve) => {
      a!.child.once('exit', () => resolve());
      a!.child.kill('SIGTERM');
    });
    const again = await start(portA, 'a2', key, portA);
    expect((await entries(again)).map((e) => e.id)).toEqual(seen.map((e) => e.id));
  });

  it('a Sync now whose process is killed mid-run is finished by the other process, without a restart or a sweep', async () => {
    const [b, a2] = [byLabel.get('b'), byLabel.get('a2')];
    expect(b && a2).toBeTruthy();
    const staff = Array.from({ length: 6_000 }, (_, i) =>
      il.control.createStaff({
        firstName: 'Kim',
        lastName: `K${i}`,
        email: `kim.${i}@example.org`,
      }),
    );
    const sync = await api(a2!, '/sync', { method: 'POST' });
    expect(sync.status).toBe(202);
    const runId = String(sync.body.runId);
    // Killed while it reads the volunteers (pages of 500): at most half of them read, so the
    // run cannot end without being taken over.
    await eventually(
      async () => {
        const run = (await api(b!, `/runs/${runId}`)).body as Run & {
          progress: { phase: string; read: { initlive: number } };
        };
        expect(run.status).toBe('running');
        expect(run.progress.phase).toBe('reading-initlive');
        expect(run.progress.read.initlive).toBeGreaterThan(0);
        expect(run.progress.read.initlive).toBeLessThanOrEqual(3_000);
      },
      60_000,
      10,
    );
    // The run goes to the process its organization is meant for, whichever took the request.
    const started = (p: Proc) =>
      p.output
        .join('')
        .split('\n')
        .some((line) => line.includes('full sync started') && line.includes(runId));
    const runner = [b!, a2!].find(started);
    const other = runner === b ? a2! : b!;
    expect(runner).toBeDefined();
    await new Promise<void>((resolve) => {
      runner!.child.once('exit', () => resolve());
      runner!.child.kill('SIGKILL');
    });
    const killedAt = Date.now();
    // The other process sees the runner leave the membership (15 s) and resumes the run once
    // its lease (30 s) runs out; its own look at every organization's runs is 5 minutes away.
    const run = await firstFinished(other, runId, 250);
    const tookMs = Date.now() - killedAt;
    expect(run.status).toBe('partially_succeeded'); // the two refused volunteers of the first test
    expect(tookMs).toBeLessThan(90_000); // not the 5-minute sweep
    const contacts = new Set(sf.control.listContacts().map((c) => c.InitLive_Staff_Id__c));
    expect(staff.filter((s) => !contacts.has(s.id))).toEqual([]);
    expect(other.output.join('')).toContain('a process left');
    expect(other.output.join('')).toContain('resuming an interrupted run');
  });
});
