import type { Connection } from 'jsforce';
import type { DeadLetter } from '../../src/core/records';
import { emptyPair } from '../../src/core/pair-state';
import type { SalesforceItemResult } from '../../src/infra/salesforce/salesforce-api';
import { itemError } from '../../src/infra/salesforce/salesforce-errors';
import { fastRetryPolicy } from '../../src/retry';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { SalesforceSink } from '../../src/sink/salesforce-sink';
import type { BulkContactWriter, SalesforceSinkOptions } from '../../src/sink/salesforce-sink';
import { bulkContactWriter } from '../../src/sink/salesforce/bulk-writer';
import { collect } from '../fixtures/pipeline-deps';
import {
  ORG_ID,
  contactsByStaffId,
  groupLag,
  memoryPipeline,
  orgRuntime,
  produceWrites,
  sandboxConnection,
  staffId,
  upsertWrite,
  waitFor,
  waitUntil,
} from './sink-salesforce-fixture';
import type { MemoryPipeline } from './sink-salesforce-fixture';

const COLLECTION_UPSERT = 'PATCH /composite/sobjects/:sobject/:field';
const COLLECTION_UPDATE = 'PATCH /composite/sobjects';
const INGEST_CREATE = 'POST /jobs/ingest';
const COMPOSITE = 'POST /composite';

describe('SalesforceSink with Bulk API 2.0 for backlogs', () => {
  let sb: SalesforceSandbox;
  let conn: Connection;
  let p: MemoryPipeline;
  let sink: SalesforceSink | undefined;

  const startSink = async (options: SalesforceSinkOptions = {}): Promise<SalesforceSink> => {
    sink = new SalesforceSink(p.deps, {
      lingerMs: 20,
      bulkLingerMs: 100,
      bulkPollMs: 10,
      retryPolicy: fastRetryPolicy,
      ...options,
    });
    await sink.start();
    return sink;
  };

  /** Creates `count` Contacts without our external id (200 per call); returns their Ids. */
  const createContacts = async (count: number, lastName: string): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 200) {
      const created = await conn.sobject('Contact').create(
        Array.from({ length: Math.min(200, count - i) }, (_, j) => ({
          LastName: `${lastName}${i + j}`,
        })),
        { allOrNone: true },
      );
      for (const r of created) ids.push(String(r.id));
    }
    return ids;
  };

  const committed = (): Promise<void> =>
    waitUntil(
      'offsets committed',
      async () => (await groupLag(p.memory, sink!.groupId, p.deps.topics.salesforceWrites)) === 0,
      30_000,
    );

  beforeEach(async () => {
    sb = await startSalesforceSandbox({ streaming: false, bulkPollDelayMs: 5 });
    conn = await sandboxConnection(sb);
    p = await memoryPipeline([orgRuntime(conn)], 3);
  });

  afterEach(async () => {
    await sink?.stop();
    sink = undefined;
    await p?.memory.close();
    await sb.close();
  });

  it('writes a backlog above the threshold as one Bulk job, links created Contacts and counts them', async () => {
    const batch = Array.from({ length: 2_500 }, (_, i) => upsertWrite(i));
    for (const w of batch.slice(0, 5)) {
      const pair = { ...emptyPair(ORG_ID, w.pairId, Date.now()), initliveId: w.externalId };
      await p.store.compareAndApply(pair, 0);
    }
    const counts = { records: 0, created: 0 };
    p.deps.events.on('sink.records', (e) => {
      counts.records += e.count;
      counts.created += e.created;
    });
    await produceWrites(p.deps, batch);
    sb.control.resetApiUsage();

    await startSink({ bulkThreshold: 2_000 });
    await waitFor('2,500 contacts', () => sb.control.listContacts().length === 2_500, 30_000);
    await committed();

    const { apiCallsUsed, endpoints } = sb.control.counters();
    expect(endpoints[INGEST_CREATE]).toBe(1);
    expect(endpoints[COLLECTION_UPSERT]).toBeUndefined();
    // create, upload, close, a few polls, two result sets: instead of 13 collection calls.
    expect(apiCallsUsed).toBeLessThanOrEqual(10);
    expect(counts).toEqual({ records: 2_500, created: 2_500 });
    const byStaff = contactsByStaffId(sb);
    expect(byStaff.get(staffId(1_234))).toMatchObject({
      FirstName: 'First1234',
      Email: 'person1234@example.org',
    });
    for (const w of batch.slice(0, 5)) {
      const stored = await p.store.get(ORG_ID, w.pairId);
      expect(stored?.state.salesforceId).toBe(byStaff.get(w.externalId!)!.Id);
    }
  });

  it.each([
    ['a full sync’s', 6_000, 'run_1', 1, undefined],
    ['streaming', 6_000, null, 1, undefined],
    ['streaming', 4_000, null, undefined, 4],
  ])(
    'sends a backlog of %s writes by Bulk from the break-even (5,000), under the threshold: %i',
    async (_what, count, runId, bulkJobs, compositeCalls) => {
      // Produced before the sink starts, so its batches say it is behind. Below the threshold,
      // from the break-even (a Bulk job's 5-7 calls against one Composite call per 1,000).
      await produceWrites(
        p.deps,
        Array.from({ length: count }, (_, i) => ({ ...upsertWrite(i), runId })),
      );
      sb.control.resetApiUsage();
      // The product's linger: the gap between two partitions' batches is the time to decode
      // one (over 20 ms on a busy machine, which flushed the first alone).
      await startSink({ bulkThreshold: 20_000, maxBatchSize: 6_000, lingerMs: 350 });
      await waitFor('contacts', () => sb.control.listContacts().length === count, 30_000);
      await committed();
      const { endpoints } = sb.control.counters();
      expect(endpoints[INGEST_CREATE]).toBe(bulkJobs);
      expect(endpoints[COMPOSITE]).toBe(compositeCalls);
      expect(endpoints[COLLECTION_UPSERT]).toBeUndefined();
    },
  );

  it('handles per-record outcomes like collection calls: refused ones dead-lettered, locked ones retried', async () => {
    const letters = await collect(p.deps, 'deadLetters');
    const batch = Array.from({ length: 1_200 }, (_, i) => upsertWrite(i));
    batch[10] = upsertWrite(10, { fields: { ...batch[10]!.fields, Email: 'not-an-email' } });
    const lockError = { statusCode: 'UNABLE_TO_LOCK_ROW', message: 'locked', fields: [] };
    const jobSizes: number[] = [];
    // The real Bulk writer, except that S-00020 is locked during the first job.
    const bulkFor = (c: Connection): BulkContactWriter => {
      const real = bulkContactWriter(c, 10);
      return {
        updateContacts: real.updateContacts,
        upsertContacts: async (records, ext, signal) => {
          jobSizes.push(records.length);
          const first = jobSizes.length === 1;
          const locked = records.map((r) => first && r[ext] === staffId(20));
          const sent = await real.upsertContacts(
            records.filter((_, i) => !locked[i]),
            ext,
            signal,
          );
          return locked.map((l): SalesforceItemResult =>
            l
              ? { success: false, id: null, errors: [lockError], error: itemError([lockError]) }
              : sent.shift()!,
          );
        },
      };
    };
    await produceWrites(p.deps, batch);
    sb.control.resetApiUsage();
    await startSink({ bulkThreshold: 1_000, bulkFor });
    await letters.until(1);
    await waitFor('1,199 contacts', () => sb.control.listContacts().length === 1_199, 30_000);
    await committed();

    expect(jobSizes).toEqual([1_200]);
    // The locked record went again, alone, in a collection call.
    expect(sb.control.counters().endpoints[COLLECTION_UPSERT]).toBe(1);
    expect(contactsByStaffId(sb).has(staffId(20))).toBe(true);
    expect(letters.records).toHaveLength(1);
    const letter: DeadLetter = letters.records[0]!;
    expect(letter).toMatchObject({
      orgId: ORG_ID,
      errorCode: 'SALESFORCE_REJECTED',
      upstreamCode: 'INVALID_EMAIL_ADDRESS',
      recordType: 'SalesforceWrite',
    });
    const original = await p.deps.codec.decode('SalesforceWrite', letter.originalValue);
    expect(original.externalId).toBe(staffId(10));
    await letters.stop();
  });

  it('sends the creates and the stamps of one backlog as two Bulk jobs side by side', async () => {
    const ids = await createContacts(1_200, 'Stamped');
    const creates = Array.from({ length: 1_200 }, (_, i) => upsertWrite(i));
    const stamps = ids.map((id, i) =>
      upsertWrite(5_000 + i, {
        externalId: null,
        salesforceId: id,
        pairId: `pair-stamp-${i}`,
        fields: { InitLive_Staff_Id__c: staffId(5_000 + i) },
      }),
    );
    // The real Bulk writer, except that each job waits (up to 2 s) for the other to start:
    // jobs sent one after the other would leave the first waiting in vain.
    const started: string[] = [];
    let waitedInVain = 0;
    let bothStarted: () => void = () => undefined;
    const both = new Promise<boolean>((resolve) => (bothStarted = () => resolve(true)));
    const meet = async (job: string): Promise<void> => {
      started.push(job);
      if (started.length === 2) bothStarted();
      const met = await Promise.race([both, new Promise((r) => setTimeout(r, 2_000, false))]);
      if (!met) waitedInVain++;
    };
    const bulkFor = (c: Connection): BulkContactWriter => {
      const real = bulkContactWriter(c, 10);
      return {
        upsertContacts: async (records, ext, signal) => {
          await meet(`upsert ${records.length}`);
          return real.upsertContacts(records, ext, signal);
        },
        updateContacts: async (records, signal) => {
          await meet(`update ${records.length}`);
          return real.updateContacts(records, signal);
        },
      };
    };
    await produceWrites(p.deps, [...creates, ...stamps]);
    await startSink({ bulkThreshold: 1_000, maxBatchSize: 5_000, bulkFor });
    await waitFor('2,400 contacts', () => contactsByStaffId(sb).size === 2_400, 30_000);
    await committed();

    expect([...started].sort()).toEqual(['update 1200', 'upsert 1200']);
    expect(waitedInVain).toBe(0);
  });

  it('stamps many Contacts by Id (the InitLive sink’s links) with a Bulk update job', async () => {
    sb.control.resetApiUsage();
    const ids = await createContacts(600, 'Linked');
    const stamps = ids.map((id, i) =>
      upsertWrite(i, {
        externalId: null,
        salesforceId: id,
        pairId: `pair-link-${i}`,
        fields: { InitLive_Staff_Id__c: staffId(i) },
        causedBy: 'initlive-sink:link',
      }),
    );
    await produceWrites(p.deps, stamps);
    sb.control.resetApiUsage();
    await startSink({ bulkThreshold: 500 });
    await waitFor('600 stamped', () => contactsByStaffId(sb).size === 600, 30_000);
    await committed();
    const { endpoints } = sb.control.counters();
    expect(endpoints[INGEST_CREATE]).toBe(1);
    expect(endpoints[COLLECTION_UPDATE]).toBeUndefined();
    expect(contactsByStaffId(sb).get(staffId(7))?.Id).toBe(ids[7]);
  });

  describe("a full sync's writes arriving at the reconciler's pace", () => {
    /**
     * `count` writes (4,000) in sends of 50, `everyMs` (15 ms) apart: a consumer that keeps up
     * sees a trickle, of ~3,000 writes a second by default.
     */
    const trickle = async (
      runId: string | null,
      count = 4_000,
      everyMs = 15,
      perSend = 50,
    ): Promise<number> => {
      sb.control.resetApiUsage();
      const writes = Array.from({ length: count }, (_, i) => ({ ...upsertWrite(i), runId }));
      for (let i = 0; i < writes.length; i += perSend) {
        await produceWrites(p.deps, writes.slice(i, i + perSend));
        await new Promise((r) => setTimeout(r, everyMs));
      }
      await waitFor(`${count} contacts`, () => sb.control.listContacts().length === count, 30_000);
      await committed();
      return sb.control.counters().apiCallsUsed;
    };
    const options = { bulkThreshold: 500, lingerMs: 20, bulkLingerMs: 5_000 };

    it('gather into Bulk jobs while the topic behind them keeps growing', async () => {
      await startSink(options);
      const calls = await trickle('run_1');
      const { endpoints } = sb.control.counters();
      expect(endpoints[INGEST_CREATE]).toBeGreaterThanOrEqual(1);
      // Streaming at this pace costs at least 20 calls (4,000 / 200; next test).
      expect(calls).toBeLessThan(20);
    });

    it('streaming writes at the same pace go in Composite calls of up to 1,000', async () => {
      // The product's linger and Bulk threshold: a call gathers what comes within the linger.
      await startSink({ lingerMs: 350, bulkLingerMs: 5_000 });
      const calls = await trickle(null, 8_000);
      const { endpoints } = sb.control.counters();
      expect(endpoints[INGEST_CREATE]).toBeUndefined();
      expect(endpoints[COMPOSITE]).toBeGreaterThanOrEqual(1);
      // 8,000 / 200 = 40 calls on collection calls alone.
      expect(calls).toBeLessThan(20);
    });

    it('a burst (5,000 or more a second) gathers into Bulk jobs', async () => {
      await startSink(options);
      await trickle(null, 12_000, 10, 1_000);
      expect(sb.control.counters().endpoints[INGEST_CREATE]).toBeGreaterThanOrEqual(1);
    });

    it('streaming writes at 500 a second stay off Bulk', async () => {
      await startSink(options);
      const calls = await trickle(null, 1_000, 100);
      const { endpoints } = sb.control.counters();
      expect(endpoints[INGEST_CREATE]).toBeUndefined();
      // 1,000 / 200: no fewer calls than full collection calls would make.
      expect(calls).toBeGreaterThanOrEqual(5);
    });

    it('a handful from a small run lands in well under the Bulk linger', async () => {
      await startSink(options);
      const started = Date.now();
      await produceWrites(
        p.deps,
        Array.from({ length: 5 }, (_, i) => ({ ...upsertWrite(i), runId: 'run_2' })),
      );
      await waitFor('5 contacts', () => sb.control.listContacts().length === 5);
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });

  it('a lone write after a quiet spell goes at once; writes that follow it gather', async () => {
    const lingerMs = 3_000;
    await startSink({ lingerMs });
    sb.control.resetApiUsage();
    let started = Date.now();
    await produceWrites(p.deps, [upsertWrite(0)]);
    await waitFor('the first contact', () => sb.control.listContacts().length === 1);
    expect(Date.now() - started).toBeLessThan(lingerMs - 1_000);
    const upsertsBefore = sb.control.counters().endpoints[COLLECTION_UPSERT] ?? 0;

    // Right after it: these wait the linger, for whatever else comes.
    started = Date.now();
    await produceWrites(p.deps, [upsertWrite(1), upsertWrite(2)]);
    await waitFor('three contacts', () => sb.control.listContacts().length === 3, 10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(lingerMs);
    expect((sb.control.counters().endpoints[COLLECTION_UPSERT] ?? 0) - upsertsBefore).toBe(1);
  });

  it('keeps a trickle on collection calls within the linger', async () => {
    await startSink({ bulkThreshold: 200, lingerMs: 50 });
    sb.control.resetApiUsage();
    const started = Date.now();
    await produceWrites(
      p.deps,
      Array.from({ length: 5 }, (_, i) => upsertWrite(i)),
    );
    await waitFor('5 contacts', () => sb.control.listContacts().length === 5);
    expect(Date.now() - started).toBeLessThan(1_000);
    const { endpoints } = sb.control.counters();
    expect(endpoints[INGEST_CREATE]).toBeUndefined();
    expect(endpoints[COLLECTION_UPSERT]).toBeGreaterThanOrEqual(1);
  });
});
