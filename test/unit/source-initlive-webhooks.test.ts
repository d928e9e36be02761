import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InitLiveStaffChange } from '../../src/core/records';
import { signWebhookBody } from '../../src/infra/initlive';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox } from '../../src/sandbox/initlive';
import { InitLiveSource } from '../../src/source-initlive';
import {
  ORG_ID,
  client,
  collect,
  eventually,
  fastBackoff,
  orgRuntime,
  testPipeline,
} from './source-initlive-helpers';
import type { Collected, TestPipeline } from './source-initlive-helpers';

const SECRET = 'whsec-source-test-42';

describe('InitLiveSource webhooks', () => {
  let sandbox: InitLiveSandbox;
  let pipeline: TestPipeline;
  let changes: Collected<InitLiveStaffChange>;
  let source: InitLiveSource;
  let server: Server;
  let url: string;

  beforeEach(async () => {
    sandbox = await startInitLiveSandbox({
      rateLimit: false,
      webhooks: { initialDelayMs: 10, maxDelayMs: 50, maxAttempts: 3, reorderWindowMs: 30 },
    });
    pipeline = await testPipeline([orgRuntime(client(sandbox.baseUrl))]);
    changes = await collect(pipeline.deps, 'staffChanges');
    // A poll interval far longer than the test: only a webhook can make a change show up.
    source = new InitLiveSource(pipeline.deps, {
      pollIntervalMs: 600_000,
      errorBackoff: fastBackoff,
      webhook: { secret: SECRET },
    });
    server = createServer(source.webhookHttpHandler());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/initlive/webhook`;
    await source.start();
    // The first read happens at start; wait until the reader sleeps on its long poll.
    await eventually(() => source.status(ORG_ID)?.lastReadAt != null, 'first read');
  });

  afterEach(async () => {
    await source.stop();
    await changes.stop();
    await pipeline.memory.close();
    await sandbox.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const post = (body: string, signature?: string): Promise<Response> =>
    fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(signature ? { 'X-InitLive-Signature': signature } : {}),
      },
      body,
    });

  it('wakes the reader early on a signed webhook', async () => {
    await client(sandbox.baseUrl).registerWebhook(url, SECRET);
    const started = Date.now();
    const staff = sandbox.control.createStaff({ lastName: 'Woken' });
    await eventually(() => changes.values.length === 1, 'the change', 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(changes.values[0]).toMatchObject({ initliveId: staff.id, operation: 'CREATE' });
    await sandbox.control.webhooksIdle();
    expect(sandbox.control.webhookAttempts().every((a) => a.status === 202)).toBe(true);
    expect(source.stats().webhooks).toMatchObject({ accepted: 1, rejected: 0 });
  });

  it('answers 401 to a tampered or unsigned webhook, counts it, and does not read', async () => {
    const body = JSON.stringify({
      id: 'evt_forged',
      type: 'staff.changed',
      orgId: ORG_ID,
      seq: 1,
      occurredAt: new Date().toISOString(),
    });
    sandbox.control.createStaff({ lastName: 'NotYet' });
    const signature = signWebhookBody(body, SECRET, Date.now() / 1000);
    const tampered = body.replace('"seq":1', '"seq":2');

    const forged = await post(tampered, signature);
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ ok: false, reason: 'signature_mismatch' });
    expect(
      (await post(body, signWebhookBody(body, 'wrong-secret-123', Date.now() / 1000))).status,
    ).toBe(401);
    expect((await post(body)).status).toBe(401);
    expect(source.stats().webhooks).toMatchObject({
      accepted: 0,
      rejected: 3,
      rejectedByReason: { signature_mismatch: 2, missing_header: 1 },
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(changes.values).toHaveLength(0);

    // The same body correctly signed wakes the reader.
    expect((await post(body, signature)).status).toBe(202);
    await eventually(() => changes.values.length === 1, 'the change after a good webhook', 5_000);
  });

  it('treats duplicated and reordered webhooks as harmless nudges', async () => {
    await client(sandbox.baseUrl).registerWebhook(url, SECRET);
    sandbox.control.setWebhookMode({ duplicate: true, reorder: true });
    for (let i = 0; i < 3; i++) sandbox.control.createStaff({ lastName: `Dup${i}` });
    await eventually(() => changes.values.length === 3, 'three changes', 5_000);
    await sandbox.control.webhooksIdle();
    await new Promise((r) => setTimeout(r, 100));

    expect(changes.values.map((c) => c.sourcePosition)).toEqual(['1', '2', '3']);
    const stats = source.stats().webhooks;
    expect(stats.rejected).toBe(0);
    expect(stats.accepted + stats.ignored).toBe(6);

    // A replay of an old event after everything was read is ignored, not re-read.
    const body = JSON.stringify({
      id: 'evt_old',
      type: 'staff.changed',
      orgId: ORG_ID,
      seq: 2,
      occurredAt: new Date().toISOString(),
    });
    expect((await post(body, signWebhookBody(body, SECRET, Date.now() / 1000))).status).toBe(202);
    expect(source.stats().webhooks.ignored).toBe(stats.ignored + 1);
  });

  it('rejects signed bodies that are not usable and answers 405 to other methods', async () => {
    const notJson = 'not json';
    const res = await post(notJson, signWebhookBody(notJson, SECRET, Date.now() / 1000));
    expect(res.status).toBe(400);
    const other = source.handleWebhook(
      Buffer.from(
        '{"id":"e","type":"staff.changed","orgId":"org_other","seq":1,"occurredAt":"2026-01-01T00:00:00.000Z"}',
      ),
      signWebhookBody(
        '{"id":"e","type":"staff.changed","orgId":"org_other","seq":1,"occurredAt":"2026-01-01T00:00:00.000Z"}',
        SECRET,
        Date.now() / 1000,
      ),
      ORG_ID,
    );
    expect(other).toMatchObject({ status: 400, body: { error: 'organization mismatch' } });
    expect((await fetch(url)).status).toBe(405);
    expect(source.stats().webhooks.invalid).toBe(2);
  });
});
