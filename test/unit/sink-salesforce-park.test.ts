import type { Connection } from 'jsforce';
import { MemoryParkedWriteStore } from '../../src/infra/memory/memory-parked-write-store';
import { fastRetryPolicy } from '../../src/retry';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { SalesforceSink } from '../../src/sink/salesforce-sink';
import type { SalesforceSinkOptions } from '../../src/sink/salesforce-sink';
import {
  groupLag,
  memoryPipeline,
  orgRuntime,
  produceWrites,
  sandboxConnection,
  upsertWrite,
  waitFor,
  waitUntil,
} from './sink-salesforce-fixture';
import type { MemoryPipeline } from './sink-salesforce-fixture';

const INGEST_CREATE = 'POST /jobs/ingest';
const HELD = 'org-held';
const HEALTHY = 'org-healthy';

/** Two orgs (each its own sandbox) sharing one partition; HELD's allocation is used up. */
describe('SalesforceSink parks a held organization’s writes', () => {
  let held: SalesforceSandbox;
  let healthy: SalesforceSandbox;
  let p: MemoryPipeline;
  let parked: MemoryParkedWriteStore;
  let sinks: SalesforceSink[];

  const startSink = async (options: SalesforceSinkOptions = {}): Promise<SalesforceSink> => {
    const sink = new SalesforceSink(p.deps, {
      lingerMs: 20,
      pauseCheckMs: 20,
      retryPolicy: fastRetryPolicy,
      parked,
      ...options,
    });
    sinks.push(sink);
    await sink.start();
    return sink;
  };
  const writes = (orgId: string, from: number, count: number): ReturnType<typeof upsertWrite>[] =>
    Array.from({ length: count }, (_, i) => upsertWrite(from + i, { orgId }));

  beforeEach(async () => {
    held = await startSalesforceSandbox({ streaming: false });
    healthy = await startSalesforceSandbox({ streaming: false });
    const conns: Connection[] = [await sandboxConnection(held), await sandboxConnection(healthy)];
    p = await memoryPipeline([orgRuntime(conns[0]!, HELD), orgRuntime(conns[1]!, HEALTHY)], 1);
    parked = new MemoryParkedWriteStore();
    sinks = [];
  });

  afterEach(async () => {
    for (const s of sinks) await s.stop();
    await p.memory.close();
    await held.close();
    await healthy.close();
  });

  it('commits the shared partition while one org is held; the held writes land in order once it resumes', async () => {
    held.control.exhaustApiLimit();
    const sink = await startSink();
    await produceWrites(p.deps, writes(HELD, 0, 20));
    await waitFor('held', () => sink.pausedFor(HELD) === 'api_limit');
    await produceWrites(p.deps, writes(HEALTHY, 100, 20));
    // Two writes to one held pair: the later one must win after the release.
    await produceWrites(p.deps, [upsertWrite(0, { orgId: HELD, fields: { LastName: 'Later' } })]);
    await waitFor('healthy contacts', () => healthy.control.listContacts().length === 20);
    await waitUntil(
      'partition committed past the held org',
      async () => (await groupLag(p.memory, sink.groupId, p.deps.topics.salesforceWrites)) === 0,
    );
    expect(held.control.listContacts()).toHaveLength(0);
    expect(await parked.count(HELD)).toBe(21);

    held.control.resetApiUsage();
    await waitFor('held contacts', () => held.control.listContacts().length === 20);
    await waitUntil('parked list drained', async () => (await parked.count(HELD)) === 0);
    const first = held.control
      .listContacts()
      .find((c) => (c as Record<string, unknown>).InitLive_Staff_Id__c === 'S-00000');
    expect((first as Record<string, unknown>).LastName).toBe('Later');
  });

  it('keeps parked writes across a crash: a new sink on the same store writes them', async () => {
    held.control.exhaustApiLimit();
    const first = await startSink();
    await produceWrites(p.deps, writes(HELD, 0, 10));
    await waitUntil('parked', async () => (await parked.count(HELD)) === 10);
    await waitUntil(
      'committed',
      async () => (await groupLag(p.memory, first.groupId, p.deps.topics.salesforceWrites)) === 0,
    );
    await first.stop();
    held.control.resetApiUsage();
    // A new process: it learns of the parked writes from the store when the org's next write comes.
    await startSink();
    await produceWrites(p.deps, writes(HELD, 10, 1));
    await waitFor('all contacts', () => held.control.listContacts().length === 11);
    await waitUntil('parked list drained', async () => (await parked.count(HELD)) === 0);
  });

  it('sends a big parked backlog by Bulk when the org is released', async () => {
    held.control.exhaustApiLimit();
    await startSink({ bulkThreshold: 1_000, bulkLingerMs: 50, runLingerMs: 50 });
    await produceWrites(p.deps, writes(HELD, 0, 6_000));
    await waitUntil('parked', async () => (await parked.count(HELD)) === 6_000, 30_000);
    held.control.resetApiUsage();
    await waitFor('contacts', () => held.control.listContacts().length === 6_000, 60_000);
    expect(held.control.counters().endpoints[INGEST_CREATE]).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
