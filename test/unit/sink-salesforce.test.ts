import type { Connection } from 'jsforce';
import type { DeadLetter, SalesforceWrite } from '../../src/core/records';
import { createSalesforceApi } from '../../src/infra/salesforce/salesforce-api';
import type { ContactFields, SalesforceApi } from '../../src/infra/salesforce/salesforce-api';
import { itemError } from '../../src/infra/salesforce/salesforce-errors';
import { emptyPair } from '../../src/core/pair-state';
import { fastRetryPolicy } from '../../src/retry';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { ContactWriteEvent, SalesforceSandbox } from '../../src/sandbox/salesforce';
import { SalesforceSink } from '../../src/sink/salesforce-sink';
import type { SalesforceSinkOptions } from '../../src/sink/salesforce-sink';
import { collect } from '../fixtures/pipeline-deps';
import {
  CLIENT_TAG,
  ORG_ID,
  contactsByStaffId,
  memoryPipeline,
  orgRuntime,
  produceWrites,
  sandboxConnection,
  staffId,
  upsertWrite,
  waitFor,
  waitUntil,
  groupLag,
} from './sink-salesforce-fixture';
import type { MemoryPipeline } from './sink-salesforce-fixture';

describe('SalesforceSink', () => {
  let sb: SalesforceSandbox;
  let conn: Connection;
  let p: MemoryPipeline;
  let sink: SalesforceSink | undefined;
  let writes: ContactWriteEvent[];
  let stopWatching: () => void;

  const startSink = async (options: SalesforceSinkOptions = {}): Promise<SalesforceSink> => {
    sink = new SalesforceSink(p.deps, { lingerMs: 20, retryPolicy: fastRetryPolicy, ...options });
    await sink.start();
    return sink;
  };

  const setUp = async (partitions: number): Promise<void> => {
    conn = await sandboxConnection(sb);
    p = await memoryPipeline([orgRuntime(conn)], partitions);
  };

  beforeEach(async () => {
    sb = await startSalesforceSandbox({ streaming: false });
    writes = [];
    stopWatching = sb.control.onWrite((events) => writes.push(...events));
  });

  afterEach(async () => {
    await sink?.stop();
    sink = undefined;
    stopWatching();
    await p?.memory.close();
    await sb.close();
  });

  const committed = (): Promise<void> =>
    waitUntil(
      'offsets committed',
      async () => (await groupLag(p.memory, sink!.groupId, p.deps.topics.salesforceWrites)) === 0,
    );

  it('upserts 1,000 writes in one API call (five collections in a Composite request), tagged, and links created Contacts to their pairs', async () => {
    await setUp(3);
    const batch = Array.from({ length: 1000 }, (_, i) => upsertWrite(i));
    // Ten pairs exist in the store without a Salesforce id; the sink must tell them theirs.
    for (const w of batch.slice(0, 10)) {
      const pair = { ...emptyPair(ORG_ID, w.pairId, Date.now()), initliveId: w.externalId };
      await p.store.compareAndApply(pair, 0);
    }
    const counts = { records: 0, created: 0 };
    p.deps.events.on('sink.records', (e) => {
      counts.records += e.count;
      counts.created += e.created;
    });
    const usage: number[] = [];
    p.deps.events.on('salesforce.api-usage', (e) => usage.push(e.used));
    await produceWrites(p.deps, batch);
    sb.control.resetApiUsage();

    // A long linger: the remainders of partitions wait for each other to fill whole calls.
    await startSink({ lingerMs: 1000 });
    await waitFor('1,000 contacts', () => sb.control.listContacts().length === 1000);
    await committed();

    const counters = sb.control.counters();
    expect(counters.apiCallsUsed).toBe(1);
    expect(counters.endpoints).toEqual({ 'POST /composite': 1 });
    expect(counts).toEqual({ records: 1000, created: 1000 });
    expect(usage[usage.length - 1]).toBe(1);
    expect(new Set(writes.map((w) => w.client))).toEqual(new Set([CLIENT_TAG]));
    expect(writes.every((w) => w.changeType === 'CREATE')).toBe(true);

    const byStaff = contactsByStaffId(sb);
    const c = byStaff.get(staffId(42))!;
    expect(c).toMatchObject({
      FirstName: 'First42',
      LastName: 'Last42',
      Email: 'person42@example.org',
    });
    for (const w of batch.slice(0, 10)) {
      const stored = await p.store.get(ORG_ID, w.pairId);
      expect(stored?.state.salesforceId).toBe(byStaff.get(w.externalId!)!.Id);
    }
  });

  it('dead-letters records Salesforce refuses, with statusCode and message, while the rest of the call lands', async () => {
    await setUp(1);
    const letters = await collect(p.deps, 'deadLetters');
    const batch = Array.from({ length: 10 }, (_, i) => upsertWrite(i));
    batch[3] = upsertWrite(3, { fields: { ...batch[3]!.fields, Email: 'not-an-email' } });
    batch[7] = upsertWrite(7, { fields: { ...batch[7]!.fields, LastName: 'x'.repeat(81) } });
    await produceWrites(p.deps, batch);
    sb.control.resetApiUsage();

    await startSink();
    await letters.until(2);
    await waitFor('8 contacts', () => sb.control.listContacts().length === 8);

    // One write call (with allOrNone the eight good records would have been rolled back), after
    // one lookup of the creates' emails.
    expect(sb.control.counters().apiCallsUsed).toBe(2);
    expect(sb.control.counters().endpoints['GET /query']).toBe(1);
    const byUpstream = new Map<string | null, DeadLetter>(
      letters.records.map((l) => [l.upstreamCode, l]),
    );
    expect([...byUpstream.keys()].sort()).toEqual(['INVALID_EMAIL_ADDRESS', 'STRING_TOO_LONG']);
    const email = byUpstream.get('INVALID_EMAIL_ADDRESS')!;
    expect(email).toMatchObject({
      orgId: ORG_ID,
      errorCode: 'SALESFORCE_REJECTED',
      recordType: 'SalesforceWrite',
    });
    // Salesforce quotes the value; the reason keeps the field and the problem, not the value.
    expect(email.message).toBe('Email: invalid email address');
    expect(email.sourceTopic).toBe(p.deps.topics.salesforceWrites);
    const original = await p.deps.codec.decode('SalesforceWrite', email.originalValue);
    expect(original.externalId).toBe(staffId(3));
    expect(byUpstream.get('STRING_TOO_LONG')!.message).toContain('max length=80');
    const landed = contactsByStaffId(sb);
    expect(landed.has(staffId(3))).toBe(false);
    expect(landed.has(staffId(7))).toBe(false);
    expect(landed.has(staffId(9))).toBe(true);
    await committed();
    await letters.stop();
  });

  it('folds a burst of writes to one pair into one record in one call, later fields winning', async () => {
    await setUp(1);
    const a = (fields: SalesforceWrite['fields']): SalesforceWrite =>
      upsertWrite(1, { fields: { InitLive_Staff_Id__c: staffId(1), ...fields } });
    await produceWrites(p.deps, [
      a({ FirstName: 'Ann', LastName: 'Lee' }),
      upsertWrite(2),
      a({ FirstName: 'Anna' }),
      a({ Email: 'anna@example.org', Phone: '555-0100' }),
      a({ Phone: null }),
    ]);
    sb.control.resetApiUsage();

    await startSink();
    await waitFor('2 contacts', () => sb.control.listContacts().length === 2);
    await committed();
    // One write, after one lookup of the two creates' emails.
    expect(sb.control.counters().apiCallsUsed).toBe(2);
    expect(writes.map((w) => w.changeType)).toEqual(['CREATE', 'CREATE']);
    expect(contactsByStaffId(sb).get(staffId(1))).toMatchObject({
      FirstName: 'Anna',
      LastName: 'Lee',
      Email: 'anna@example.org',
      Phone: null,
    });
  });

  it('deletes by Id, and a delete then a re-create of one pair happen in that order', async () => {
    await setUp(1);
    const old = sb.control.createContact({ LastName: 'Old', InitLive_Staff_Id__c: staffId(900) });
    const gone = sb.control.createContact({ LastName: 'Gone' });
    await produceWrites(p.deps, [
      upsertWrite(900, { operation: 'DELETE', salesforceId: String(old.Id), fields: {} }),
      upsertWrite(900, { fields: { LastName: 'New', InitLive_Staff_Id__c: staffId(900) } }),
      upsertWrite(901, {
        operation: 'DELETE',
        externalId: null,
        salesforceId: String(gone.Id),
        fields: {},
      }),
    ]);
    await startSink();
    await waitFor('re-created', () => contactsByStaffId(sb).get(staffId(900))?.LastName === 'New');
    expect(sb.control.getContact(String(old.Id))?.IsDeleted).toBe(true);
    await waitFor(
      'second delete',
      () => sb.control.getContact(String(gone.Id))?.IsDeleted === true,
    );
    const recreated = contactsByStaffId(sb).get(staffId(900))!;
    expect(recreated.Id).not.toBe(old.Id);
    const types = writes
      .filter((w) => w.client === CLIENT_TAG)
      .map((w) => `${w.changeType}:${w.recordId}`);
    expect(types.indexOf(`DELETE:${old.Id}`)).toBeLessThan(types.indexOf(`CREATE:${recreated.Id}`));
  });

  it('updates by Id when the Contact is known, setting the external id on a Contact linked by email', async () => {
    await setUp(1);
    const linked = sb.control.createContact({ LastName: 'ByEmail', Email: 'linked@example.org' });
    await produceWrites(p.deps, [
      upsertWrite(77, {
        salesforceId: String(linked.Id),
        fields: { FirstName: 'Linked', InitLive_Staff_Id__c: staffId(77) },
      }),
    ]);
    sb.control.resetApiUsage();
    await startSink();
    await waitFor('update', () => sb.control.getContact(String(linked.Id))?.FirstName === 'Linked');
    expect(sb.control.listContacts()).toHaveLength(1);
    expect(sb.control.getContact(String(linked.Id))).toMatchObject({
      InitLive_Staff_Id__c: staffId(77),
      LastName: 'ByEmail',
    });
    expect(sb.control.counters().endpoints['PATCH /composite/sobjects']).toBe(1);
  });

  it('isolates a record that makes Salesforce refuse the whole call, and lands the others', async () => {
    await setUp(1);
    const letters = await collect(p.deps, 'deadLetters');
    const batch = Array.from({ length: 10 }, (_, i) => upsertWrite(i));
    // A text value in a number field fails JSON parsing: a 400 for the whole request.
    batch[6] = upsertWrite(6, {
      fields: { ...batch[6]!.fields, InitLive_Hours_Worked__c: 'lots' },
    });
    await produceWrites(p.deps, batch);
    await startSink();
    await letters.until(1);
    await waitFor('9 contacts', () => sb.control.listContacts().length === 9);
    await committed();
    expect(letters.records).toHaveLength(1);
    expect(letters.records[0]).toMatchObject({
      errorCode: 'SALESFORCE_REJECTED',
      upstreamCode: 'JSON_PARSER_ERROR',
    });
    const original = await p.deps.codec.decode(
      'SalesforceWrite',
      letters.records[0]!.originalValue,
    );
    expect(original.externalId).toBe(staffId(6));
    await letters.stop();
  });

  it('retries records Salesforce could not lock, and parks one that never frees', async () => {
    await setUp(1);
    const letters = await collect(p.deps, 'deadLetters');
    const lockedTries = new Map<string, number>();
    // Two records are locked: S-00001 for two calls, S-00002 for good.
    const lockError = {
      statusCode: 'UNABLE_TO_LOCK_ROW',
      message: 'unable to obtain exclusive access to this record',
      fields: [],
    };
    const isLocked = (id: string): boolean => {
      const n = (lockedTries.get(id) ?? 0) + 1;
      if (id !== staffId(2) && !(id === staffId(1) && n <= 2)) return false;
      lockedTries.set(id, n);
      return true;
    };
    // The real adapter, except that locked records come back as Salesforce reports them.
    const apiFor = (c: Connection): SalesforceApi => {
      const real = createSalesforceApi(c);
      const upsertContacts: SalesforceApi['upsertContacts'] = async (records, ext) => {
        const locked = records.map((r: ContactFields) => isLocked(String(r[ext])));
        const sent = await real.upsertContacts(
          records.filter((_, i) => !locked[i]),
          ext,
        );
        return locked.map((l) =>
          l
            ? {
                success: false as const,
                id: null,
                errors: [lockError],
                error: itemError([lockError]),
              }
            : sent.shift()!,
        );
      };
      return Object.assign(Object.create(real) as SalesforceApi, { upsertContacts });
    };
    await produceWrites(p.deps, [upsertWrite(0), upsertWrite(1), upsertWrite(2), upsertWrite(3)]);
    await startSink({ apiFor });
    await letters.until(1);
    await waitFor('3 contacts', () => sb.control.listContacts().length === 3);
    await committed();
    expect(contactsByStaffId(sb).has(staffId(1))).toBe(true);
    expect(lockedTries.get(staffId(2))).toBe(fastRetryPolicy.maxAttempts);
    expect(letters.records[0]).toMatchObject({
      errorCode: 'SALESFORCE_REJECTED',
      upstreamCode: 'UNABLE_TO_LOCK_ROW',
      attempts: fastRetryPolicy.maxAttempts,
    });
    await letters.stop();
  });

  it.each([
    [503, 'SERVER_UNAVAILABLE'],
    [429, 'plain text from the edge, with Retry-After'],
  ] as const)(
    'retries %s answers (%s) with backoff and lands everything without dead letters',
    async (status, answer) => {
      await setUp(1);
      const letters = await collect(p.deps, 'deadLetters');
      await produceWrites(
        p.deps,
        Array.from({ length: 10 }, (_, i) => upsertWrite(i)),
      );
      sb.control.resetApiUsage();
      sb.control.failNext(3, status);
      await startSink();
      await waitFor(
        `10 contacts past ${answer}`,
        () => sb.control.listContacts().length === 10,
        20_000,
      );
      expect(sb.control.counters().pendingFailures).toBe(0);
      // The three failures are not counted by Salesforce; the lookup and the write that landed are.
      expect(sb.control.counters().apiCallsUsed).toBe(2);
      await new Promise((r) => setTimeout(r, 50));
      expect(letters.records).toHaveLength(0);
      await letters.stop();
    },
  );

  it('refreshes an expired access token invisibly', async () => {
    await setUp(1);
    const refreshed: string[] = [];
    conn.on('refresh', (token: string) => refreshed.push(token));
    const paused: string[] = [];
    p.deps.events.on('sink.paused', (e) => paused.push(e.reason));
    await startSink();
    await produceWrites(
      p.deps,
      Array.from({ length: 5 }, (_, i) => upsertWrite(i)),
    );
    await waitFor('first 5', () => sb.control.listContacts().length === 5);

    sb.control.expireAccessTokens();
    await produceWrites(
      p.deps,
      Array.from({ length: 5 }, (_, i) => upsertWrite(i + 5)),
    );
    await waitFor('next 5', () => sb.control.listContacts().length === 10);
    expect(refreshed).toHaveLength(1);
    expect(conn.accessToken).toBe(refreshed[0]);
    expect(paused).toEqual([]);
  });

  it('dead-letters undecodable, unusable and unknown-org records and writes the rest', async () => {
    await setUp(1);
    const letters = await collect(p.deps, 'deadLetters');
    await p.deps.transport.send(p.deps.topics.salesforceWrites, [
      { key: `${ORG_ID}/junk`, value: Buffer.from('not avro at all') },
    ]);
    await produceWrites(p.deps, [
      upsertWrite(1),
      upsertWrite(2, { externalId: null, pairId: 'pair-no-ids', fields: { LastName: 'X' } }),
      upsertWrite(3, { orgId: 'org-unknown' }),
      upsertWrite(4),
    ]);
    await startSink();
    await letters.until(3);
    await waitFor('2 contacts', () => sb.control.listContacts().length === 2);
    expect(letters.records.map((l) => l.errorCode).sort()).toEqual([
      'INVALID_INPUT',
      'NOT_FOUND',
      'SCHEMA_MISMATCH',
    ]);
    const junk = letters.records.find((l) => l.errorCode === 'SCHEMA_MISMATCH')!;
    expect(junk.orgId).toBe(ORG_ID);
    expect(junk.originalValue.toString()).toBe('not avro at all');
    await letters.stop();
  });
});
