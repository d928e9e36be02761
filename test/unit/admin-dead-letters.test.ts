import { randomUUID } from 'node:crypto';
import type { SalesforceWrite } from '../../src/core/records';
import type { ConsumedRecord } from '../../src/core/transport';
import { SyncError } from '../../src/errors';
import type { PipelineDeps } from '../../src/pipeline/deps';
import { sendToDeadLetters } from '../../src/pipeline/dead-letters';
import type { AdminFixture } from './admin-fixture';
import { startAdmin } from './admin-fixture';

const ORG = 'org_dl';

function write(i: number): SalesforceWrite {
  return {
    orgId: ORG,
    pairId: `p${i}`,
    operation: 'UPSERT',
    externalId: `S-${i}`,
    salesforceId: null,
    fields: { LastName: `Last${i}`, Email: `bad${i}@@example` },
    fingerprint: `f${i}`,
    causedBy: `initlive:${i}`,
    decidedAt: 1_700_000_000_000 + i,
    attempt: 1,
  };
}

async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('admin API: dead letters', () => {
  let fx: AdminFixture;
  let deps: PipelineDeps;
  let originals: ConsumedRecord[];

  /** Dead-letters write i as a sink would: the consumed record kept whole. */
  async function fail(i: number, code: 'SALESFORCE_REJECTED' | 'INVALID_INPUT'): Promise<string> {
    const value = await fx.pipeline.codec.encode('SalesforceWrite', write(i));
    const original: ConsumedRecord = {
      topic: fx.pipeline.topics.salesforceWrites,
      partition: 1,
      offset: String(10 + i),
      key: `${ORG}/p${i}`,
      value,
      headers: {},
      timestamp: 1,
    };
    originals[i] = original;
    fx.clock.now += 1_000;
    const letter = await sendToDeadLetters(deps, {
      orgId: ORG,
      original,
      recordType: 'SalesforceWrite',
      error: new SyncError(code, `Email: invalid email address: bad${i}@@example`),
      upstreamCode: code === 'SALESFORCE_REJECTED' ? 'INVALID_EMAIL_ADDRESS' : null,
      attempts: 2,
    });
    return letter.id;
  }

  beforeEach(async () => {
    fx = await startAdmin();
    originals = [];
    deps = { ...fx.pipeline, orgs: fx.directory } as unknown as PipelineDeps;
  });
  afterEach(async () => {
    await fx.close();
  });

  test('listed newest first with the decoded record, reason, codes, attempts and time; paged', async () => {
    const ids = [
      await fail(0, 'SALESFORCE_REJECTED'),
      await fail(1, 'INVALID_INPUT'),
      await fail(2, 'SALESFORCE_REJECTED'),
    ];
    await until(async () => (await fx.deadLetterStore.list(ORG)).total === 3, 'three letters');

    const page = await fx.api('GET', `/api/orgs/${ORG}/salesforce/errors?limit=2`);
    expect(page.status).toBe(200);
    expect(page.body.total).toBe(3);
    expect(page.body.nextOffset).toBe(2);
    expect(page.body.items.map((l: { id: string }) => l.id)).toEqual([ids[2], ids[1]]);
    expect(page.body.items[0]).toMatchObject({
      id: ids[2],
      orgId: ORG,
      record: write(2),
      recordBase64: null,
      recordType: 'SalesforceWrite',
      // The value Salesforce quoted is not kept: reasons carry field names, never values.
      reason: 'Email: invalid email address',
      occurrences: 1,
      code: 'SALESFORCE_REJECTED',
      upstreamCode: 'INVALID_EMAIL_ADDRESS',
      attempts: 2,
      time: new Date(fx.clock.now).toISOString(),
      sourceTopic: fx.pipeline.topics.salesforceWrites,
      sourcePartition: 1,
      sourceOffset: '12',
      key: `${ORG}/p2`,
    });
    const rest = await fx.api('GET', `/api/orgs/${ORG}/salesforce/errors?offset=2&limit=2`);
    expect(rest.body.items.map((l: { id: string }) => l.id)).toEqual([ids[0]]);
    expect(rest.body.nextOffset).toBeNull();
    const byCode = await fx.api('GET', `/api/orgs/${ORG}/salesforce/errors?code=INVALID_INPUT`);
    expect(byCode.body.items.map((l: { id: string }) => l.id)).toEqual([ids[1]]);
    expect((await fx.api('GET', '/api/orgs/other_org/salesforce/errors')).body.total).toBe(0);
    expect((await fx.api('GET', `/api/orgs/${ORG}/salesforce/errors?limit=9999`)).status).toBe(400);
  });

  test('retry re-produces the original bytes to the source topic and removes the letter', async () => {
    const id = await fail(0, 'SALESFORCE_REJECTED');
    await until(async () => (await fx.deadLetterStore.get(ORG, id)) !== null, 'the letter');

    const received: ConsumedRecord[] = [];
    const sub = await fx.pipeline.transport.subscribe({
      groupId: `probe-${randomUUID()}`,
      topics: [fx.pipeline.topics.salesforceWrites],
      fromBeginning: true,
      handleBatch: async (batch) => {
        received.push(...batch.records);
      },
    });
    await sub.ready();
    try {
      const res = await fx.api('POST', `/api/orgs/${ORG}/salesforce/errors/${id}/retry`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id, topic: fx.pipeline.topics.salesforceWrites, attempt: 3 });
      await until(() => received.length === 1, 'the retried record');
      expect(received[0]!.value.equals(originals[0]!.value)).toBe(true);
      expect(received[0]!.key).toBe(`${ORG}/p0`);
      expect(received[0]!.headers).toMatchObject({
        'x-dead-letter-id': id,
        'x-dead-letter-attempt': '3',
      });
    } finally {
      await sub.stop();
    }
    expect((await fx.api('GET', `/api/orgs/${ORG}/salesforce/errors`)).body.total).toBe(0);
    const again = await fx.api('POST', `/api/orgs/${ORG}/salesforce/errors/${id}/retry`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('NOT_FOUND');
  });

  test('a retried record that fails again goes on counting its attempts', async () => {
    const value = await fx.pipeline.codec.encode('SalesforceWrite', write(7));
    const retried = (headers: Record<string, string>): ConsumedRecord => ({
      topic: fx.pipeline.topics.salesforceWrites,
      partition: 0,
      offset: '3',
      key: `${ORG}/p7`,
      value,
      headers,
      timestamp: 1,
    });
    const send = (headers: Record<string, string>) =>
      sendToDeadLetters(deps, {
        orgId: ORG,
        original: retried(headers),
        recordType: 'SalesforceWrite',
        error: new SyncError('SALESFORCE_REJECTED', 'FirstName: data value too large'),
        attempts: 1,
      });
    expect(
      (await send({ 'x-dead-letter-id': 'dl_1', 'x-dead-letter-attempt': '3' })).attempts,
    ).toBe(3);
    expect((await send({})).attempts).toBe(1);
    expect((await send({ 'x-dead-letter-attempt': 'junk' })).attempts).toBe(1);
  });

  test('a redelivered letter that was already retried is not brought back', async () => {
    const id = await fail(0, 'SALESFORCE_REJECTED');
    await until(async () => (await fx.deadLetterStore.get(ORG, id)) !== null, 'the letter');
    const letter = (await fx.deadLetterStore.get(ORG, id))!;
    expect((await fx.api('DELETE', `/api/orgs/${ORG}/salesforce/errors/${id}`)).status).toBe(204);
    expect(await fx.deadLetterStore.add(letter)).toBe(false);
    expect((await fx.deadLetterStore.list(ORG)).total).toBe(0);
  });

  test('bulk retry, optionally by code; dismiss answers 204 then 404', async () => {
    const rejected = [await fail(0, 'SALESFORCE_REJECTED'), await fail(1, 'SALESFORCE_REJECTED')];
    const invalid = await fail(2, 'INVALID_INPUT');
    const dismissed = await fail(3, 'INVALID_INPUT');
    await until(async () => (await fx.deadLetterStore.list(ORG)).total === 4, 'four letters');

    const byCode = await fx.api('POST', `/api/orgs/${ORG}/salesforce/errors/retry`, {
      body: { code: 'SALESFORCE_REJECTED' },
    });
    expect(byCode.status).toBe(200);
    expect(byCode.body.retried.sort()).toEqual([...rejected].sort());
    expect(byCode.body.failed).toEqual([]);
    const left = await fx.api('GET', `/api/orgs/${ORG}/salesforce/errors`);
    expect(left.body.items.map((l: { id: string }) => l.id).sort()).toEqual(
      [invalid, dismissed].sort(),
    );

    expect((await fx.api('DELETE', `/api/orgs/${ORG}/salesforce/errors/${dismissed}`)).status).toBe(
      204,
    );
    const gone = await fx.api('DELETE', `/api/orgs/${ORG}/salesforce/errors/${dismissed}`);
    expect(gone.status).toBe(404);

    const all = await fx.api('POST', `/api/orgs/${ORG}/salesforce/errors/retry`);
    expect(all.body).toEqual({ retried: [invalid], failed: [] });
    expect((await fx.api('GET', `/api/orgs/${ORG}/salesforce/errors`)).body.total).toBe(0);
    expect(
      (
        await fx.api('POST', `/api/orgs/${ORG}/salesforce/errors/retry`, {
          body: { code: 'lower' },
        })
      ).status,
    ).toBe(400);
  });

  test('a letter with no pipeline topic or bytes cannot be retried (409) and stays listed', async () => {
    const letter = await sendToDeadLetters(deps, {
      orgId: ORG,
      original: null,
      recordType: null,
      error: new SyncError('INVALID_INPUT', 'webhook body was not JSON'),
      attempts: 1,
    });
    await until(async () => (await fx.deadLetterStore.get(ORG, letter.id)) !== null, 'the letter');
    const res = await fx.api('POST', `/api/orgs/${ORG}/salesforce/errors/${letter.id}/retry`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('CONFLICT');
    const list = await fx.api('GET', `/api/orgs/${ORG}/salesforce/errors`);
    expect(list.body.items).toEqual([
      expect.objectContaining({ id: letter.id, record: null, recordBase64: '' }),
    ]);
  });
});
