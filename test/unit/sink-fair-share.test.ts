import type { Connection } from 'jsforce';
import { MemoryParkedWriteStore } from '../../src/infra/memory/memory-parked-write-store';
import { createSalesforceApi } from '../../src/infra/salesforce/salesforce-api';
import type { SalesforceApi } from '../../src/infra/salesforce/salesforce-api';
import { fastRetryPolicy } from '../../src/retry';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { SalesforceSink } from '../../src/sink/salesforce-sink';
import { overflowOf } from '../../src/sink/write-park';
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

const BIG = 'org-big';
const SMALL = 'org-small';

/** An API whose calls wait until `gate` opens, counting them. */
function gated(api: SalesforceApi, gate: Promise<void>, calls: { n: number }): SalesforceApi {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        calls.n++;
        await gate;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('fair sharing in the Salesforce sink', () => {
  let big: SalesforceSandbox;
  let small: SalesforceSandbox;
  let bigConn: Connection;
  let p: MemoryPipeline;
  let parked: MemoryParkedWriteStore;
  let sink: SalesforceSink | null;
  let open: () => void;
  let gate: Promise<void>;
  const bigCalls = { n: 0 };

  beforeEach(async () => {
    big = await startSalesforceSandbox({ streaming: false });
    small = await startSalesforceSandbox({ streaming: false });
    bigConn = await sandboxConnection(big);
    const smallConn = await sandboxConnection(small);
    p = await memoryPipeline([orgRuntime(bigConn, BIG), orgRuntime(smallConn, SMALL)], 1);
    parked = new MemoryParkedWriteStore();
    gate = new Promise<void>((resolve) => (open = resolve));
    bigCalls.n = 0;
    sink = new SalesforceSink(p.deps, {
      lingerMs: 20,
      pauseCheckMs: 20,
      retryPolicy: fastRetryPolicy,
      parked,
      // The big org's Salesforce answers only once the test opens the gate.
      apiFor: (conn) =>
        conn === bigConn
          ? gated(createSalesforceApi(conn), gate, bigCalls)
          : createSalesforceApi(conn),
    });
    await sink.start();
  });

  afterEach(async () => {
    open();
    await sink?.stop();
    await p.memory.close();
    await big.close();
    await small.close();
  });

  it("moves a full sync's writes off the shared partition, so another org's live writes land first", async () => {
    const run = Array.from({ length: 500 }, (_, i) => ({
      ...upsertWrite(i, { orgId: BIG }),
      runId: 'run-1',
    }));
    await produceWrites(p.deps, run);
    // The run's writes are being written (and wait at the gate) before the live ones come.
    await waitFor('the big org called', () => bigCalls.n > 0);
    await produceWrites(
      p.deps,
      Array.from({ length: 20 }, (_, i) => upsertWrite(100 + i, { orgId: SMALL })),
    );
    // A live write of a pair the run also wrote: it must land after the run's.
    await produceWrites(p.deps, [upsertWrite(0, { orgId: BIG, fields: { LastName: 'Later' } })]);

    await waitFor('small contacts', () => small.control.listContacts().length === 20);
    await waitUntil(
      'partition committed past the run',
      async () => (await groupLag(p.memory, sink!.groupId, p.deps.topics.salesforceWrites)) === 0,
    );
    expect(big.control.listContacts()).toHaveLength(0);
    expect(await parked.count(BIG)).toBe(501);
    expect(await parked.count(SMALL)).toBe(0);

    open();
    await waitFor('big contacts', () => big.control.listContacts().length === 500, 30_000);
    await waitUntil('parked list drained', async () => (await parked.count(BIG)) === 0);
    const first = big.control
      .listContacts()
      .find((c) => (c as Record<string, unknown>).InitLive_Staff_Id__c === 'S-00000');
    expect((first as Record<string, unknown>).LastName).toBe('Later');
  });

  it('parks the live writes of one org beyond its share', () => {
    const base = { run: false, share: 2_000, organizations: () => 2 };
    expect(overflowOf({ ...base, inHand: 1_500, count: 500 })).toBeNull();
    expect(overflowOf({ ...base, inHand: 1_500, count: 501 })).toBe('over-share');
    expect(overflowOf({ ...base, inHand: 0, count: 1, run: true })).toBe('full-sync');
    // Alone, an organization shares its partitions with nobody.
    expect(overflowOf({ ...base, inHand: 0, count: 5_000, organizations: () => 1 })).toBeNull();
    expect(
      overflowOf({ ...base, inHand: 0, count: 1, run: true, organizations: () => 1 }),
    ).toBeNull();
  });
});
