import type { FullSyncCheckpoint } from '../../src/batch/full-sync-job';
import { recordKey } from '../../src/core/topics';
import { produce } from '../../src/pipeline/deps';
import { ORG_ID, newRunId, peopleOf, startWorld } from './batch-fixture';
import type { World } from './batch-fixture';

jest.setTimeout(120_000);

const seed = { staff: 120, contacts: 110, shared: 40 };

describe('full sync: bulk reads, crash and resume, offline deletes, live updates', () => {
  const worlds: World[] = [];
  afterEach(async () => {
    await Promise.all(worlds.splice(0).map((w) => w.close()));
  });
  const world = async (...args: Parameters<typeof startWorld>): Promise<World> => {
    const w = await startWorld(...args);
    worlds.push(w);
    return w;
  };

  it('reads Contacts with Bulk API 2.0 above the threshold, page by page', async () => {
    const w = await world(seed);
    const record = await w.job({ restThreshold: 50, bulkPageSize: 30 }).run(ORG_ID, newRunId());
    await w.drained();
    expect(record.status).toBe('succeeded');
    expect(record.counts.read.salesforce).toBe(110);
    const endpoints = w.sf.control.counters().endpoints;
    const resultCalls = Object.entries(endpoints)
      .filter(([k]) => /jobs\/query\/:id\/results/.test(k))
      .reduce((n, [, v]) => n + v, 0);
    expect(resultCalls).toBe(Math.ceil(110 / 30));
    expect(w.sf.control.listContacts()).toHaveLength(190);
    expect(w.il.control.listStaff()).toHaveLength(190);
  });

  it.each([
    ['REST', { restThreshold: 10_000 }],
    ['Bulk', { restThreshold: 50, bulkPageSize: 25 }],
  ])(
    'interrupted and resumed (%s) converges to the state of an uninterrupted run',
    async (_mode, opts) => {
      const plain = await world(seed, { sfPageSize: 25 });
      await plain.job(opts).run(ORG_ID, newRunId());
      await plain.drained();

      const crashed = await world(seed, { sfPageSize: 25 });
      const runId = newRunId();
      const abort = new AbortController();
      let aborted: FullSyncCheckpoint | null = null;
      const first = crashed.job({
        ...opts,
        initlivePageSize: 20,
        onCheckpoint: (cp) => {
          // Stop in the middle of the Contacts, after some have gone out.
          if (!aborted && cp.phase === 'reading-salesforce' && cp.read.salesforce >= 50) {
            aborted = cp;
            abort.abort(new Error('simulated crash'));
          }
        },
      });
      await expect(first.run(ORG_ID, runId, { signal: abort.signal })).rejects.toThrow(
        'simulated crash',
      );
      expect(aborted).not.toBeNull();
      expect((await crashed.deps.runStore.get(ORG_ID, runId))?.status).toBe('running');

      const checkpoints: FullSyncCheckpoint[] = [];
      const resumed = await crashed
        .job({ ...opts, initlivePageSize: 20, onCheckpoint: (cp) => checkpoints.push(cp) })
        .run(ORG_ID, runId);
      await crashed.drained();
      expect(resumed.status).toBe('succeeded');
      // It went on from the checkpoint: the InitLive index pass was not done again.
      expect(checkpoints[0]!.phase).toBe('reading-salesforce');
      expect(resumed.counts.read.salesforce).toBe(110);
      // Staff the sink created from Contacts are read back by one more run in both worlds (when
      // they appear during a run depends on timing), then both hold exactly the same people.
      for (const x of [plain, crashed]) {
        await x.job(opts).run(ORG_ID, newRunId());
        await x.drained();
      }
      expect(peopleOf(crashed)).toEqual(peopleOf(plain));
      expect(crashed.il.control.listStaff()).toHaveLength(190);
      expect(crashed.sf.control.listContacts()).toHaveLength(190);
    },
  );

  it('applies the delete policy to records deleted on one side while offline', async () => {
    const w = await world({ staff: 30, contacts: 30, shared: 30 });
    await w.job().run(ORG_ID, newRunId());
    await w.drained();
    const staff = w.il.control.listStaff();
    const goneStaff = staff[0]!;
    w.il.control.deleteStaff(goneStaff.id);
    const goneContact = w.sf.control.listContacts().find((c) => c.Email === staff[1]!.email)!;
    w.sf.control.deleteContact(String(goneContact.Id));

    const record = await w.job().run(ORG_ID, newRunId());
    await w.drained();
    expect(record.status).toBe('succeeded');
    // archive: the Contact of the deleted staff member is marked, the staff member of the
    // deleted Contact is archived; nothing else is touched.
    const marked = w.sf.control.listContacts().find((c) => c.InitLive_Staff_Id__c === goneStaff.id);
    expect(marked?.InitLive_Status__c).toBe('deleted');
    expect(w.il.control.getStaff(staff[1]!.id).status).toBe('archived');
    expect(w.il.control.listStaff().filter((s) => s.status === 'archived')).toHaveLength(1);
    expect(record.counts.updated).toEqual({ initlive: 1, salesforce: 1 });
  });

  it('never reverts a change streaming applied after the snapshot was read', async () => {
    const w = await world({ staff: 5, contacts: 0, shared: 0 });
    await w.job().run(ORG_ID, newRunId());
    await w.drained();
    const target = w.il.control.listStaff()[0]!;
    // The run reads the staff member (version v), then someone edits it (v+1) and the
    // InitLive source streams that edit, which the reconciler applies before the snapshot.
    const stale = await w.org.initlive.getStaff(target.id);
    const edited = w.il.control.updateStaff(target.id, { firstName: 'Edited' });
    await produce(w.deps, 'staffChanges', [
      {
        key: recordKey(ORG_ID, target.id),
        value: {
          orgId: ORG_ID,
          initliveId: target.id,
          salesforceId: null,
          operation: 'UPDATE',
          changedFields: ['firstName'],
          values: {
            initliveId: target.id,
            firstName: 'Edited',
            lastName: edited.lastName,
            email: edited.email,
            status: 'active',
          },
          sourceVersion: edited.version,
          sourcePosition: '900001',
          origin: null,
          observedAt: Date.now(),
          occurredAt: Date.now(),
          runId: null,
        },
      },
    ]);
    await w.drained();
    const realList = w.org.initlive.listStaff.bind(w.org.initlive);
    w.org.initlive.listStaff = async function* (options) {
      for await (const page of realList(options))
        yield page.map((s) => (s.id === target.id ? stale : s));
    };
    const record = await w.job().run(ORG_ID, newRunId());
    await w.drained();
    expect(record.status).toBe('succeeded');
    const contact = w.sf.control.listContacts().find((c) => c.InitLive_Staff_Id__c === target.id);
    expect(contact?.FirstName).toBe('Edited');
    expect(w.il.control.getStaff(target.id).firstName).toBe('Edited');
  });
});
