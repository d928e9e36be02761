import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { defaultMapping } from '../../src/core/mapping';
import { isSyncError } from '../../src/errors';
import { createEmbeddedCodec } from '../../src/infra/avro/avro-codec';
import { signWebhookBody } from '../../src/infra/initlive';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox } from '../../src/sandbox/initlive';
import { InitLiveSource } from '../../src/source-initlive';
import { changeTypes, parseCdcEvent } from '../../src/source-salesforce/cdc-event';
import { interpretEvent } from '../../src/source-salesforce/cdc-mapping';
import { ORG_ID, client, fastBackoff, orgRuntime, testPipeline } from './source-initlive-helpers';
import type { TestPipeline } from './source-initlive-helpers';

/**
 * Seeded bad input at the two doors records come in by (issue 15): InitLive's webhook endpoint
 * over HTTP, and the mapping of Salesforce change events. Each case gets a clear refusal (a 4xx,
 * or INVALID_INPUT, which the source turns into a dead letter), never a 5xx or a crash, and
 * nothing leaks into Object.prototype. FUZZ_RUNS and FUZZ_SEED run it longer or otherwise.
 */

const runs = Number(process.env.FUZZ_RUNS ?? 10_000);
const seed = Number(process.env.FUZZ_SEED ?? 20261204);
const SECRET = 'whsec-fuzz-0123456789';

/** Keys that pollute a prototype when code copies objects carelessly. */
const pollutingKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString');

/** A JSON text nested `depth` levels deep: parsers and schema checks must not fall over. */
const deep = fc
  .integer({ min: 100, max: 5_000 })
  .map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`);

function prototypeIsClean(): boolean {
  const probe: Record<string, unknown> = {};
  return (
    probe.polluted === undefined &&
    probe.isAdmin === undefined &&
    Object.keys(Object.prototype).length === 0
  );
}

describe('fuzzed InitLive webhooks over HTTP', () => {
  let sandbox: InitLiveSandbox;
  let pipeline: TestPipeline;
  let source: InitLiveSource;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    sandbox = await startInitLiveSandbox({ rateLimit: false });
    pipeline = await testPipeline([orgRuntime(client(sandbox.baseUrl))]);
    source = new InitLiveSource(pipeline.deps, {
      pollIntervalMs: 600_000,
      errorBackoff: fastBackoff,
      webhook: { secret: SECRET },
    });
    server = createServer(source.webhookHttpHandler());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/initlive`;
    await source.start();
  });

  afterAll(async () => {
    await source.stop();
    await pipeline.memory.close();
    await sandbox.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it(`answers ${runs} generated deliveries with 202, 400, 401 or 413, never 5xx`, async () => {
    const now = (): number => Date.now() / 1000;
    const event = fc.record(
      {
        id: fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.constant(null)),
        type: fc.oneof(fc.constant('staff.changed'), fc.string({ maxLength: 20 }), fc.integer()),
        orgId: fc.oneof(fc.constant(ORG_ID), fc.string({ maxLength: 30 }), fc.constant(null)),
        seq: fc.oneof(
          fc.integer({ min: -5, max: 1_000_000 }),
          fc.double(),
          fc.string({ maxLength: 10 }),
          fc.constant(Number.MAX_SAFE_INTEGER + 2),
        ),
        occurredAt: fc.oneof(fc.date().map((d) => (isNaN(d.getTime()) ? 'x' : d.toISOString()))),
      },
      { requiredKeys: [] },
    );
    const withExtras = fc
      .tuple(event, fc.dictionary(fc.oneof(pollutingKey, fc.string()), fc.jsonValue()))
      .map(([e, extra]) => JSON.stringify({ ...extra, ...e }));
    const polluting = fc
      .tuple(pollutingKey, fc.jsonValue())
      .map(
        ([key, value]) =>
          `{"type":"staff.changed","orgId":"${ORG_ID}","seq":1,"${key}":{"polluted":true,"isAdmin":true,"v":${JSON.stringify(value)}}}`,
      );
    // Well-formed deliveries, duplicated and out of order, some with unknown fields.
    const valid = fc
      .tuple(
        fc.integer({ min: 1, max: 50 }),
        fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 }),
      )
      .map(([seq, extra]) =>
        JSON.stringify({
          ...extra,
          id: `evt_${seq}`,
          type: 'staff.changed',
          orgId: ORG_ID,
          seq,
          occurredAt: new Date().toISOString(),
        }),
      );
    const body = fc.oneof(
      { weight: 3, arbitrary: valid },
      { weight: 4, arbitrary: withExtras },
      { weight: 2, arbitrary: polluting },
      { weight: 1, arbitrary: fc.json({ maxDepth: 6 }) },
      { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
      { weight: 1, arbitrary: deep },
      // Past the endpoint's limit: rare, as each costs 128 KB on the wire.
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: 0, max: 99 })
          .map((n) =>
            n === 0 ? `{"type":"staff.changed","pad":"${'x'.repeat(128 * 1024)}"}` : `{"n":${n}}`,
          ),
      },
    );
    // Good, missing, tampered, from another secret, replayed (stale) and malformed signatures.
    const signature = fc.oneof(
      fc.constant('good'),
      fc.constant('none'),
      fc.constant('tampered'),
      fc.constant('other-secret'),
      fc.constant('stale'),
      fc.constant('future'),
      fc.string({ maxLength: 80 }),
    );
    const statuses: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(body, signature, async (text, sig) => {
        const header =
          sig === 'good'
            ? signWebhookBody(text, SECRET, now())
            : sig === 'none'
              ? undefined
              : sig === 'tampered'
                ? signWebhookBody(`${text} `, SECRET, now())
                : sig === 'other-secret'
                  ? signWebhookBody(text, 'another-secret-456', now())
                  : sig === 'stale'
                    ? signWebhookBody(text, SECRET, now() - 3_600)
                    : sig === 'future'
                      ? signWebhookBody(text, SECRET, now() + 3_600)
                      : sig;
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            ...(header === undefined ? {} : { 'X-InitLive-Signature': header }),
          },
          body: text,
        });
        await res.arrayBuffer();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        expect([202, 400, 401, 413]).toContain(res.status);
        // Only a correctly signed, current delivery gets past the signature check.
        if (sig !== 'good' && sig !== 'none') expect(res.status).not.toBe(202);
        expect(prototypeIsClean()).toBe(true);
      }),
      { numRuns: runs, seed },
    );
    process.stdout.write(
      `webhook fuzz: ${runs} deliveries, seed ${seed}, statuses ${JSON.stringify(statuses)}\n`,
    );
    // The endpoint still takes a good delivery, and the reader still answers.
    const good = JSON.stringify({
      id: 'evt_last',
      type: 'staff.changed',
      orgId: ORG_ID,
      seq: 1,
      occurredAt: new Date().toISOString(),
    });
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'X-InitLive-Signature': signWebhookBody(good, SECRET, now()) },
      body: good,
    });
    expect(res.status).toBe(202);
    expect(source.status(ORG_ID)?.running).toBe(true);
  }, 300_000);
});

describe('fuzzed Salesforce change events', () => {
  it(`maps ${runs} generated events to records or refuses them as INVALID_INPUT, never throwing otherwise`, async () => {
    const codec = createEmbeddedCodec();
    const ctx = { orgId: ORG_ID, mapping: defaultMapping, now: () => 1 };
    const id = fc.oneof(
      fc.constantFrom('003Dn00000Xen9qIAB', '003Dn00000Xen9q'),
      fc.string({ maxLength: 20 }),
      fc.constant("003'; DELETE--xxxxx"),
    );
    const fieldValue = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.string({ maxLength: 2_000 }),
      fc.constant(null),
      fc.double(),
      fc.constantFrom('1990-13-45', 'not-an-email', '<p>x</p>', '\u0000'),
    );
    const fieldName = fc.oneof(
      fc.constantFrom(
        'FirstName',
        'LastName',
        'Email',
        'Phone',
        'Birthdate',
        'InitLive_Staff_Id__c',
        'InitLive_Tags__c',
        'MailingAddress',
        'Name',
      ),
      pollutingKey,
      fc.string({ maxLength: 30 }),
    );
    const fields = fc.dictionary(fieldName, fieldValue, { maxKeys: 8 });
    const header = fc.record(
      {
        entityName: fc.oneof(fc.constant('Contact'), fc.string({ maxLength: 10 })),
        recordIds: fc.oneof(fc.array(id, { maxLength: 3 }), fc.string(), fc.constant(null)),
        changeType: fc.oneof(fc.constantFrom(...changeTypes), fc.string({ maxLength: 10 })),
        changeOrigin: fc.oneof(fc.string({ maxLength: 60 }), fc.constant(null), fc.integer()),
        commitTimestamp: fc.oneof(fc.integer({ min: -1, max: 2 ** 50 }), fc.string()),
        commitUser: fc.oneof(fc.string({ maxLength: 18 }), fc.constant(null)),
        changedFields: fc.oneof(fc.array(fieldName, { maxLength: 6 }), fc.constant(null)),
        nulledFields: fc.oneof(fc.array(fieldName, { maxLength: 3 }), fc.string(), fc.integer()),
        diffFields: fc.oneof(fc.array(fieldName, { maxLength: 3 }), fc.string()),
        sequenceNumber: fc.oneof(fc.integer(), fc.double(), fc.constant(null)),
      },
      { requiredKeys: [] },
    );
    const message = fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .tuple(header, fields, fc.oneof(fc.integer(), fc.string(), fc.constant(null)))
          .map(([h, f, replayId]) => ({
            payload: { ...f, ChangeEventHeader: h },
            event: { replayId },
          })),
      },
      { weight: 1, arbitrary: fc.anything({ maxDepth: 4 }) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(pollutingKey, fc.jsonValue())
          .map(([key, value]) =>
            JSON.parse(
              `{"payload":{"${key}":{"polluted":true},"ChangeEventHeader":{"entityName":"Contact","recordIds":["003Dn00000Xen9qIAB"],"changeType":"CREATE","commitTimestamp":1,"${key}":${JSON.stringify(value)}}},"event":{"replayId":5}}`,
            ),
          ),
      },
    );
    const outcomes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(message, async (raw) => {
        let kind: string;
        try {
          const out = interpretEvent(parseCdcEvent(raw), ctx);
          kind = out.kind;
          // What the source puts on Kafka must encode: a record that cannot would stop it.
          if (out.kind === 'changes') {
            for (const r of out.records) await codec.encode('SalesforceContactChange', r);
          }
        } catch (err) {
          if (!(isSyncError(err) && err.code === 'INVALID_INPUT')) throw err;
          kind = 'refused';
        }
        outcomes[kind] = (outcomes[kind] ?? 0) + 1;
        expect(prototypeIsClean()).toBe(true);
      }),
      { numRuns: runs, seed },
    );
    process.stdout.write(
      `CDC fuzz: ${runs} events, seed ${seed}, outcomes ${JSON.stringify(outcomes)}\n`,
    );
    expect(outcomes.changes ?? 0).toBeGreaterThan(0);
    expect(outcomes.refused ?? 0).toBeGreaterThan(0);
  }, 300_000);
});
