import { outstandingOf } from '../../src/core/outcomes';
import * as pipelineDeps from '../../src/pipeline/deps';
import { linkedMarkerName } from '../../src/core/position-store';
import { ORG_ID, newRunId, peopleOf, startWorld } from './batch-fixture';
import type { World } from './batch-fixture';

jest.setTimeout(90_000);

describe('full sync', () => {
  let w: World | null = null;
  afterEach(async () => {
    await w?.close();
    w = null;
  });

  it('reads both sandboxes, links shared people by email and makes both sides converge', async () => {
    w = await startWorld({ staff: 300, contacts: 250, shared: 100 }, { sfPageSize: 100 });
    const runId = newRunId();
    expect(await w.deps.positions.get(linkedMarkerName(ORG_ID))).toBeNull();
    const record = await w.job().run(ORG_ID, runId, { trigger: 'manual' });
    await w.drained();

    expect(record.status).toBe('succeeded');
    // Every person both systems held is met: the sink no longer looks for Contacts by email.
    expect(await w.deps.positions.get(linkedMarkerName(ORG_ID))).toBe(runId);
    // Staff the InitLive sink created from Contacts meanwhile may be read too.
    expect(record.counts.read.salesforce).toBe(250);
    expect(record.counts.read.initlive).toBeGreaterThanOrEqual(300);
    expect(record.counts.read.initlive).toBeLessThanOrEqual(450);
    // 200 staff only in InitLive become Contacts; 150 Contacts only in Salesforce become staff.
    expect(record.counts.created).toEqual({ initlive: 150, salesforce: 200 });
    // The 100 shared people are merged: InitLive (the default system) wins the phone.
    expect(record.counts.conflicts).toBe(100);
    expect(record.counts.failed).toEqual({ initlive: 0, salesforce: 0 });

    const staff = w.il.control.listStaff();
    const contacts = w.sf.control.listContacts();
    expect(staff).toHaveLength(450);
    expect(contacts).toHaveLength(450);
    const byEmail = new Map(contacts.map((c) => [String(c.Email), c]));
    for (const s of staff) {
      const c = byEmail.get(s.email!);
      expect(c).toBeDefined();
      expect(c!.InitLive_Staff_Id__c).toBe(s.id);
      expect(c!.FirstName).toBe(s.firstName);
      expect(c!.Phone ?? null).toBe(s.phone);
    }
    expect(byEmail.get('shared000007@example.org')!.Phone).toBe('555-2000007');

    const history = await w.deps.runStore.list(ORG_ID);
    expect(history.map((r) => r.runId)).toEqual([runId]);
    expect(history[0]).toMatchObject({ status: 'succeeded', progress: { phase: 'done' } });
  });

  it('once converged, another run finds everything in sync and writes nothing', async () => {
    w = await startWorld({ staff: 60, contacts: 50, shared: 20 });
    await w.job().run(ORG_ID, newRunId());
    await w.drained();
    // Staff the first run created from Contacts are read back by the second (InitLive's
    // status and hours then reach Salesforce), as streaming would have delivered them.
    await w.job().run(ORG_ID, newRunId());
    await w.drained();
    const before = peopleOf(w);
    const written = async (): Promise<number> => {
      const lag = await w!.deps.transport.lag('never-consumes', [
        w!.deps.topics.salesforceWrites,
        w!.deps.topics.initliveWrites,
      ]);
      return lag.reduce((n, p) => n + p.lag, 0);
    };
    const seenWrites = await written();
    const again = await w.job().run(ORG_ID, newRunId());
    await w.drained();
    expect(again.status).toBe('succeeded');
    expect(again.counts.read).toEqual({ initlive: 90, salesforce: 90 });
    expect(again.counts.created).toEqual({ initlive: 0, salesforce: 0 });
    expect(again.counts.updated).toEqual({ initlive: 0, salesforce: 0 });
    expect(again.counts.unchanged).toBe(180);
    expect(await written()).toBe(seenWrites);
    expect(peopleOf(w)).toEqual(before);
  });

  /** Runs a full sync and looks at its outstanding work each time it puts a chunk on a topic. */
  async function pacedRun(
    world: World,
  ): Promise<{ chunks: number; undecided: number; all: number }> {
    const runId = newRunId();
    const { transport, topics, runStore } = world.deps;
    const changeTopics = new Set([topics.staffChanges, topics.contactChanges]);
    const send = transport.send.bind(transport);
    let emitted = 0;
    const most = { chunks: 0, undecided: 0, all: 0 };
    // Read as each chunk goes out: the tally only grows after the run's own look, so these
    // counts are never below what the run saw.
    jest.spyOn(transport, 'send').mockImplementation(async (topic, records) => {
      if (changeTopics.has(topic)) {
        const o = outstandingOf(await runStore.tally(ORG_ID, runId), emitted);
        const writes = o.writes.initlive + o.writes.salesforce;
        most.undecided = Math.max(most.undecided, o.decisions + records.length);
        most.all = Math.max(most.all, o.decisions + writes + records.length);
        emitted += records.length;
        most.chunks++;
      }
      return send(topic, records);
    });
    const record = await world.job({ maxAhead: 250, produceChunk: 100 }).run(ORG_ID, runId);
    expect(record.status).toBe('succeeded');
    expect(emitted).toBe(2200);
    return most;
  }

  it('keeps at most maxAhead of its own records waiting for the reconciler', async () => {
    w = await startWorld({ staff: 1200, contacts: 1000, shared: 300 }, { sfPageSize: 500 });
    const most = await pacedRun(w);
    expect(most.chunks).toBe(22);
    expect(most.undecided).toBeLessThanOrEqual(250);
    // Alone, its writes are not counted: they may gather for Bulk.
    expect(most.all).toBeGreaterThan(250);
  });

  it('beside other organizations, also counts the writes its records caused', async () => {
    w = await startWorld(
      { staff: 1200, contacts: 1000, shared: 300 },
      { sfPageSize: 500, parked: true },
    );
    w.deps.orgs.set({ ...w.org, orgId: 'org_other' });
    const most = await pacedRun(w);
    expect(most.chunks).toBe(22);
    expect(most.all).toBeLessThanOrEqual(250);
    // Its writes went by way of the parked list, and all landed.
    await w.drained();
    expect(w.il.control.listStaff()).toHaveLength(1900);
    expect(w.sf.control.listContacts()).toHaveLength(1900);
  });

  it('beside other organizations, puts at most FULL_SYNC_SHARED_RATE records a second on the topics', async () => {
    w = await startWorld(
      { staff: 1200, contacts: 1000, shared: 300 },
      { sfPageSize: 500, parked: true },
    );
    w.deps.orgs.set({ ...w.org, orgId: 'org_other' });
    // Timed where the run hands a chunk over, before encoding: a send is later by the chunk's
    // encoding, which is longest for the first (the schema is looked up then).
    const produce = pipelineDeps.produce;
    const sends: Array<{ at: number; n: number }> = [];
    jest.spyOn(pipelineDeps, 'produce').mockImplementation(async (deps, role, records) => {
      if ((role === 'staffChanges' || role === 'contactChanges') && records.length > 0) {
        sends.push({ at: Date.now(), n: records.length });
      }
      return produce(deps, role, records);
    });
    const record = await w.job({ sharedRate: 2_000 }).run(ORG_ID, newRunId());
    expect(record.status).toBe('succeeded');
    // A quarter second's worth at a time: 500 records.
    expect(Math.max(...sends.map((x) => x.n))).toBe(500);
    expect(sends.reduce((n, x) => n + x.n, 0)).toBe(2200);
    // Each chunk after the first waited its turn: all but the last at 2,000 a second.
    const last = sends[sends.length - 1]!;
    expect(last.at - sends[0]!.at).toBeGreaterThanOrEqual(((2200 - last.n) / 2_000) * 1000);
  });
});
