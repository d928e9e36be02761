import type { Connection } from 'jsforce';
import { emptyPair } from '../../src/core/pair-state';
import { createLogger } from '../../src/logger';
import type { MemorySubscription } from '../../src/infra/memory/memory-transport';
import { fastRetryPolicy } from '../../src/retry';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { SalesforceSink } from '../../src/sink/salesforce-sink';
import type { SalesforceSinkOptions } from '../../src/sink/salesforce-sink';
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('SalesforceSink pauses', () => {
  let sb: SalesforceSandbox;
  let conn: Connection;
  let p: MemoryPipeline;
  let sinks: SalesforceSink[];
  let pauses: Array<{ reason: string; apiCallsUsed: number; contacts: number }>;
  let resumes: number;
  let logLines: string[];

  const startSink = async (options: SalesforceSinkOptions = {}): Promise<SalesforceSink> => {
    const sink = new SalesforceSink(p.deps, {
      lingerMs: 20,
      pauseCheckMs: 20,
      retryPolicy: fastRetryPolicy,
      ...options,
    });
    sinks.push(sink);
    await sink.start();
    return sink;
  };

  const writesTopic = (): string => p.deps.topics.salesforceWrites;

  beforeEach(async () => {
    sb = await startSalesforceSandbox({ streaming: false });
    conn = await sandboxConnection(sb);
    p = await memoryPipeline([orgRuntime(conn)], 1);
    logLines = [];
    p.deps.logger = createLogger({ level: 'warn', write: (line) => logLines.push(line) });
    sinks = [];
    pauses = [];
    resumes = 0;
    // One entry per pause: the event comes again after every probe, with the same `since`.
    const seen = new Set<number | undefined>();
    p.deps.events.on('sink.paused', (e) => {
      if (seen.has(e.since)) return;
      seen.add(e.since);
      pauses.push({
        reason: e.reason,
        apiCallsUsed: sb.control.counters().apiCallsUsed,
        contacts: sb.control.listContacts().length,
      });
    });
    p.deps.events.on('sink.resumed', () => resumes++);
  });

  afterEach(async () => {
    for (const s of sinks) await s.stop();
    await p.memory.close();
    await sb.close();
  });

  it('pauses on REQUEST_LIMIT_EXCEEDED, commits nothing meanwhile, and resumes when the allocation is back', async () => {
    const letters = await collect(p.deps, 'deadLetters');
    sb.control.exhaustApiLimit();
    const sink = await startSink();
    await produceWrites(
      p.deps,
      Array.from({ length: 300 }, (_, i) => upsertWrite(i)),
    );
    await waitFor('pause', () => pauses.length > 0);
    expect(pauses[0]!.reason).toBe('api_limit');
    expect(sink.pausedFor('org-sf-sink')).toBe('api_limit');
    await sleep(100);
    expect(pauses).toHaveLength(1);
    expect(sb.control.listContacts()).toHaveLength(0);
    expect(p.memory.committedOffset(sink.groupId, writesTopic(), 0)).toBe(0);

    sb.control.resetApiUsage();
    await waitFor('resume', () => resumes === 1);
    await waitFor('300 contacts', () => sb.control.listContacts().length === 300);
    await waitUntil(
      'committed',
      async () => (await groupLag(p.memory, sink.groupId, writesTopic())) === 0,
    );
    expect(letters.records).toHaveLength(0);
    await letters.stop();
  });

  it('shares one pause between the creates and the stamps of a flush, which go side by side', async () => {
    const created = await conn.sobject('Contact').create(
      Array.from({ length: 100 }, (_, j) => ({ LastName: `Stamped${j}` })),
      { allOrNone: true },
    );
    sb.control.exhaustApiLimit();
    const sink = await startSink({ lingerMs: 200 });
    await produceWrites(p.deps, [
      ...Array.from({ length: 100 }, (_, i) => upsertWrite(i)),
      ...created.map((r, i) =>
        upsertWrite(1_000 + i, {
          externalId: null,
          salesforceId: String(r.id),
          pairId: `pair-stamp-${i}`,
          fields: { InitLive_Staff_Id__c: staffId(1_000 + i) },
        }),
      ),
    ]);
    await waitFor('pause', () => pauses.length > 0);
    await sleep(100);
    expect(pauses).toHaveLength(1);
    expect(sink.pausedFor('org-sf-sink')).toBe('api_limit');

    sb.control.resetApiUsage();
    await waitFor('200 contacts with staff ids', () => contactsByStaffId(sb).size === 200);
    expect(resumes).toBe(1);
    expect(pauses).toHaveLength(1);
    await waitUntil(
      'committed',
      async () => (await groupLag(p.memory, sink.groupId, writesTopic())) === 0,
    );
  });

  it('pauses when the remaining budget falls below the reserve, before the allocation runs out', async () => {
    sb.control.setApiDailyMax(13);
    sb.control.resetApiUsage();
    await produceWrites(
      p.deps,
      Array.from({ length: 1000 }, (_, i) => upsertWrite(i)),
    );
    // Calls 1-3 leave 12, 11, 10 (not below 10); call 4 leaves 9: the fifth chunk waits.
    // Calls of 200 (one collection each), as before Composite calls carried five.
    await startSink({ apiReserve: { calls: 10 }, maxBatchSize: 1000, flushSize: 40 });
    await waitFor('pause', () => pauses.length > 0);
    expect(pauses[0]).toEqual({ reason: 'api_limit', apiCallsUsed: 4, contacts: 800 });

    sb.control.setApiDailyMax(100_000);
    await waitFor('resume', () => resumes === 1);
    await waitFor('1000 contacts', () => sb.control.listContacts().length === 1000);
    expect(sb.control.counters().endpoints['PATCH /composite/sobjects/:sobject/:field']).toBe(5);
  });

  it('sends a write held across a package reinstall to the Contact the pair knows, never to a new one', async () => {
    // The Contact exists and its pair knows it, but the write was decided before the pair
    // learnt it (an upsert by external id). A reinstall wipes the external ids meanwhile.
    const contact = sb.control.createContact({
      LastName: 'Known',
      Email: 'known@example.org',
      InitLive_Staff_Id__c: staffId(1),
    });
    const write = upsertWrite(1, {
      fields: { LastName: 'Held', InitLive_Staff_Id__c: staffId(1) },
    });
    await p.deps.store.compareAndApply(
      {
        ...emptyPair(ORG_ID, write.pairId, Date.now()),
        initliveId: staffId(1),
        salesforceId: String(contact.Id),
        status: 'linked',
      },
      0,
    );
    sb.control.uninstallPackage();
    await startSink();
    await produceWrites(p.deps, [write]);
    await waitFor('pause', () => pauses.length > 0);
    sb.control.installPackage();
    await waitFor(
      'the held write',
      () => sb.control.getContact(String(contact.Id))?.LastName === 'Held',
    );
    expect(sb.control.listContacts()).toHaveLength(1);
    // The Id carried the write, and the write brought the wiped external id back.
    expect(sb.control.getContact(String(contact.Id))?.InitLive_Staff_Id__c).toBe(staffId(1));
  });

  it('holds writes while the package is uninstalled, with one error and no dead letters, then lands them', async () => {
    const letters = await collect(p.deps, 'deadLetters');
    sb.control.uninstallPackage();
    const sink = await startSink();
    await produceWrites(
      p.deps,
      Array.from({ length: 50 }, (_, i) => upsertWrite(i)),
    );
    await waitFor('pause', () => pauses.length > 0);
    expect(pauses[0]!.reason).toBe('package_missing');
    await sleep(150);
    expect(letters.records).toHaveLength(0);
    expect(p.memory.committedOffset(sink.groupId, writesTopic(), 0)).toBe(0);
    const errors = logLines
      .map((l) => JSON.parse(l) as { level: string; msg: string })
      .filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toContain('InitLive package is not installed');

    sb.control.installPackage();
    await waitFor('resume', () => resumes === 1);
    await waitFor('50 contacts', () => contactsByStaffId(sb).size === 50);
    expect(contactsByStaffId(sb).get(staffId(7))).toMatchObject({ LastName: 'Last7' });
    await waitUntil(
      'committed',
      async () => (await groupLag(p.memory, sink.groupId, writesTopic())) === 0,
    );
    expect(letters.records).toHaveLength(0);
    await letters.stop();
  });

  it('pauses for re-authorisation when the refresh token is revoked, and resumes on a new connection', async () => {
    const letters = await collect(p.deps, 'deadLetters');
    sb.control.revokeAllGrants();
    await startSink();
    await produceWrites(p.deps, [upsertWrite(1), upsertWrite(2)]);
    await waitFor('pause', () => pauses.length > 0);
    expect(pauses[0]!.reason).toBe('needs_reauth');
    await sleep(60);
    expect(sb.control.listContacts()).toHaveLength(0);

    // The admin reconnects: the directory now holds a connection with fresh tokens.
    p.deps.orgs.set(orgRuntime(await sandboxConnection(sb)));
    await waitFor('resume', () => resumes === 1);
    await waitFor('2 contacts', () => sb.control.listContacts().length === 2);
    expect(letters.records).toHaveLength(0);
    await letters.stop();
  });

  it('redelivers held records after a crash while paused: a restarted sink writes them all', async () => {
    sb.control.exhaustApiLimit();
    const first = await startSink();
    await produceWrites(
      p.deps,
      Array.from({ length: 20 }, (_, i) => upsertWrite(i)),
    );
    await waitFor('pause', () => pauses.length > 0);
    expect(p.memory.committedOffset(first.groupId, writesTopic(), 0)).toBe(0);

    await (p.spy.subscriptions[0] as MemorySubscription).crash();
    await first.stop();
    expect(p.memory.committedOffset(first.groupId, writesTopic(), 0)).toBe(0);

    sb.control.resetApiUsage();
    const second = await startSink();
    await waitFor('20 contacts', () => sb.control.listContacts().length === 20);
    await waitUntil(
      'committed',
      async () => (await groupLag(p.memory, second.groupId, writesTopic())) === 0,
    );
  });

  it('a clean stop while paused gives the batch up uncommitted', async () => {
    sb.control.exhaustApiLimit();
    const first = await startSink();
    await produceWrites(p.deps, [upsertWrite(1)]);
    await waitFor('pause', () => pauses.length > 0);
    await first.stop();
    expect(p.memory.committedOffset(first.groupId, writesTopic(), 0)).toBe(0);
    sb.control.resetApiUsage();
    await startSink();
    await waitFor('1 contact', () => sb.control.listContacts().length === 1);
  });
});
