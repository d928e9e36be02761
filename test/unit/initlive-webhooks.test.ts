import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fastRetryPolicy } from '../../src/retry';
import {
  createInitLiveClient,
  signWebhookBody,
  verifyWebhookSignature,
  webhookEventSchema,
} from '../../src/infra/initlive';
import type { InitLiveApi } from '../../src/infra/initlive';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox } from '../../src/sandbox/initlive';

const SECRET = 'whsec-test-0123456789';

interface Received {
  raw: Buffer;
  headers: IncomingHttpHeaders;
}

/** A tiny webhook receiver; `answer` decides the status of each request (by arrival number). */
async function startReceiver(
  answer: (n: number) => number = () => 204,
): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ raw: Buffer.concat(chunks), headers: req.headers });
      res.statusCode = answer(received.length);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/initlive/webhook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function eventOf(r: Received): { id: string; seq: number; orgId: string } {
  return webhookEventSchema.parse(JSON.parse(r.raw.toString('utf8')));
}

describe('InitLive sandbox webhooks', () => {
  let sandbox: InitLiveSandbox;
  let client: InitLiveApi;
  const cleanups: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    sandbox = await startInitLiveSandbox({
      rateLimit: false,
      webhooks: { initialDelayMs: 10, maxDelayMs: 50, maxAttempts: 4, reorderWindowMs: 60 },
    });
    client = createInitLiveClient({
      baseUrl: sandbox.baseUrl,
      apiKey: 'sandbox-key',
      orgId: 'org_demo',
      changeOrigin: 'salesforce-sync',
      retryPolicy: fastRetryPolicy,
    });
  });
  afterEach(async () => {
    await sandbox.close();
    await Promise.all(cleanups.splice(0).map((c) => c()));
  });

  async function receiver(answer?: (n: number) => number): ReturnType<typeof startReceiver> {
    const r = await startReceiver(answer);
    cleanups.push(r.close);
    return r;
  }

  it('POSTs a signed nudge per change that verifies, and fails verification when tampered', async () => {
    const r = await receiver();
    const hook = await client.registerWebhook(r.url, SECRET);
    expect(hook).toEqual({ id: expect.stringMatching(/^whk_/), url: r.url });
    const staff = await client.createStaff({ lastName: 'Hooked', email: 'hooked@example.org' });
    await client.updateStaff(staff.id, { firstName: 'Now' });
    await sandbox.control.webhooksIdle();

    expect(r.received).toHaveLength(2);
    const feed = await client.readChanges(0);
    expect(r.received.map((x) => eventOf(x).seq)).toEqual(feed.changes.map((c) => c.seq));
    for (const x of r.received) {
      expect(eventOf(x)).toMatchObject({ type: 'staff.changed', orgId: 'org_demo' });
      const header = x.headers['x-initlive-signature'] as string;
      expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verifyWebhookSignature(x.raw, header, SECRET, Date.now())).toEqual({ ok: true });

      const tampered = Buffer.from(x.raw.toString('utf8').replace(/"seq":(\d+)/, '"seq":9$1'));
      expect(verifyWebhookSignature(tampered, header, SECRET, Date.now())).toEqual({
        ok: false,
        reason: 'signature_mismatch',
      });
      expect(verifyWebhookSignature(x.raw, header, 'another-secret', Date.now())).toEqual({
        ok: false,
        reason: 'signature_mismatch',
      });
      expect(verifyWebhookSignature(x.raw, header, SECRET, Date.now() + 301_000)).toEqual({
        ok: false,
        reason: 'timestamp_out_of_tolerance',
      });
    }
    const ids = r.received.map((x) => eventOf(x).id);
    expect(new Set(ids).size).toBe(2);
  });

  it('retries with backoff while the receiver answers non-2xx, and gives up when bounded', async () => {
    const flaky = await receiver((n) => (n <= 2 ? 500 : 200));
    await client.registerWebhook(flaky.url, SECRET);
    await client.createStaff({ lastName: 'Retry', email: 'retry@example.org' });
    await sandbox.control.webhooksIdle();
    expect(flaky.received).toHaveLength(3);
    const sameEvent = new Set(flaky.received.map((x) => eventOf(x).id));
    expect(sameEvent.size).toBe(1);
    expect(sandbox.control.webhookAttempts().map((a) => [a.attempt, a.status, a.ok])).toEqual([
      [1, 500, false],
      [2, 500, false],
      [3, 200, true],
    ]);

    const down = await receiver(() => 503);
    await client.registerWebhook(down.url, SECRET);
    sandbox.control.createStaff({ lastName: 'Unlucky' });
    await sandbox.control.webhooksIdle();
    expect(down.received).toHaveLength(4);
    expect(sandbox.control.counters().webhook).toEqual({ attempts: 8, delivered: 2, failed: 1 });
  });

  it('sends every event twice in duplicate mode', async () => {
    const r = await receiver();
    await client.registerWebhook(r.url, SECRET);
    sandbox.control.setWebhookMode({ duplicate: true });
    await client.createStaff({ lastName: 'Twice', email: 'twice@example.org' });
    await sandbox.control.webhooksIdle();
    expect(r.received).toHaveLength(2);
    const [a, b] = r.received.map(eventOf);
    expect(a).toEqual(b);
  });

  it('delivers newest first in reorder mode', async () => {
    const r = await receiver();
    await client.registerWebhook(r.url, SECRET);
    sandbox.control.setWebhookMode({ reorder: true });
    // Synchronous writes, so all three land inside one reorder window however slow the machine.
    for (let i = 0; i < 3; i++) sandbox.control.createStaff({ lastName: `Order${i}` });
    await sandbox.control.webhooksIdle();
    const seqs = r.received.map((x) => eventOf(x).seq);
    expect(seqs).toHaveLength(3);
    expect(seqs).toEqual([...seqs].sort((x, y) => y - x));
    expect(new Set(seqs).size).toBe(3);
  });

  it('stops delivering once unregistered', async () => {
    const r = await receiver();
    const hook = await client.registerWebhook(r.url, SECRET);
    await client.unregisterWebhook(hook.id);
    await client.createStaff({ lastName: 'Silent', email: 'silent@example.org' });
    await sandbox.control.webhooksIdle();
    expect(r.received).toHaveLength(0);
    const again = client.unregisterWebhook(hook.id);
    await expect(again).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(client.registerWebhook('ftp://nope', 'short')).rejects.toMatchObject({
      code: 'INITLIVE_REJECTED',
      context: { details: { url: expect.any(String), secret: expect.any(String) } },
    });
  });
});

describe('webhook signature', () => {
  const body =
    '{"id":"evt_1","type":"staff.changed","orgId":"org_demo","seq":1,"occurredAt":"2026-11-24T18:03:11.000Z"}';
  const nowMs = 1_790_000_000_000;

  it('accepts its own signature as string or buffer, and a rotated-secret header', () => {
    const header = signWebhookBody(body, SECRET, nowMs / 1000);
    expect(verifyWebhookSignature(body, header, SECRET, nowMs)).toEqual({ ok: true });
    expect(verifyWebhookSignature(Buffer.from(body), header, SECRET, nowMs + 299_000)).toEqual({
      ok: true,
    });
    const rotated = `${signWebhookBody(body, 'old-secret-xyz', nowMs / 1000)},${header.split(',')[1]}`;
    expect(verifyWebhookSignature(body, rotated, SECRET, nowMs)).toEqual({ ok: true });
  });

  it('rejects missing, malformed, stale and forged headers', () => {
    const header = signWebhookBody(body, SECRET, nowMs / 1000);
    const check = (h: string | undefined, now = nowMs): unknown =>
      verifyWebhookSignature(body, h, SECRET, now);
    expect(check(undefined)).toEqual({ ok: false, reason: 'missing_header' });
    expect(check('')).toEqual({ ok: false, reason: 'missing_header' });
    expect(check('garbage')).toEqual({ ok: false, reason: 'malformed_header' });
    expect(check(`t=abc,v1=${'0'.repeat(64)}`)).toEqual({ ok: false, reason: 'malformed_header' });
    expect(check(`t=${nowMs / 1000}`)).toEqual({ ok: false, reason: 'malformed_header' });
    expect(check(`t=${nowMs / 1000},v1=abc`)).toEqual({ ok: false, reason: 'malformed_header' });
    expect(check(header, nowMs - 301_000)).toEqual({
      ok: false,
      reason: 'timestamp_out_of_tolerance',
    });
    expect(check(`t=${nowMs / 1000},v1=${'0'.repeat(64)}`)).toEqual({
      ok: false,
      reason: 'signature_mismatch',
    });
    // Re-signing with a new timestamp without the secret is impossible: t is inside the MAC.
    const replayed = header.replace(/^t=\d+/, `t=${nowMs / 1000 + 1}`);
    expect(check(replayed)).toEqual({ ok: false, reason: 'signature_mismatch' });
  });
});
