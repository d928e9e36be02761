import { randomUUID } from 'node:crypto';
import type { RunStore } from '../../src/batch/run-store';
import { RUN_HISTORY_LIMIT } from '../../src/batch/run-store';
import { queuedRun } from '../../src/batch/run-types';
import { tallyIncrements } from '../../src/core/outcomes';
import { sampleRecords } from '../fixtures/records';

export interface RunStoreFixture {
  store: RunStore;
  openAnother: () => Promise<RunStore>;
  cleanup: () => Promise<void>;
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 3));

/** The contract every RunStore adapter keeps. */
export function describeRunStoreConformance(
  name: string,
  factory: () => Promise<RunStoreFixture>,
): void {
  describe(`RunStore conformance: ${name}`, () => {
    let fx: RunStoreFixture;
    let store: RunStore;
    let org: string;

    beforeEach(async () => {
      fx = await factory();
      store = fx.store;
      org = `org-${randomUUID()}`;
    });

    afterEach(async () => {
      await fx.cleanup();
    });

    it('keeps run records and lists them newest first, updates in place', async () => {
      expect(await store.get(org, 'run_a')).toBeNull();
      expect(await store.list(org)).toEqual([]);
      const a = queuedRun(org, 'run_a', 'manual', null);
      await store.save(a);
      await tick();
      const b = queuedRun(org, 'run_b', 'scheduled', 'schedule@x');
      await store.save(b);
      await tick();
      await store.save({
        ...a,
        status: 'succeeded',
        endedAt: 5,
        counts: { ...a.counts, unchanged: 7 },
      });
      const list = await store.list(org);
      expect(list.map((r) => r.runId)).toEqual(['run_b', 'run_a']);
      expect(list[1]).toMatchObject({ status: 'succeeded', endedAt: 5, counts: { unchanged: 7 } });
      expect(await store.list(org, 1)).toHaveLength(1);
      const other = await fx.openAnother();
      expect(await other.get(org, 'run_b')).toEqual(b);
      expect(await store.list(`${org}-x`)).toEqual([]);
    });

    it(`keeps the newest ${RUN_HISTORY_LIMIT} runs per organization`, async () => {
      for (let i = 0; i < RUN_HISTORY_LIMIT + 3; i++) {
        await store.save(queuedRun(org, `run_${String(i).padStart(4, '0')}`, 'manual', null));
        if (i % 50 === 0) await tick();
      }
      const all = await store.list(org, RUN_HISTORY_LIMIT + 10);
      expect(all).toHaveLength(RUN_HISTORY_LIMIT);
      expect(await store.get(org, 'run_0000')).toBeNull();
      expect(
        await store.get(org, `run_${String(RUN_HISTORY_LIMIT + 2).padStart(4, '0')}`),
      ).not.toBeNull();
    });

    it('saves and loads a checkpoint, and forgets the work of a run', async () => {
      expect(await store.loadCheckpoint(org, 'run_a')).toBeNull();
      const cp = {
        phase: 'reading-salesforce',
        cursor: { lastId: '003x', locator: null },
        read: 12,
      };
      await store.saveCheckpoint(org, 'run_a', cp);
      expect(await (await fx.openAnother()).loadCheckpoint(org, 'run_a')).toEqual(cp);
      await store.markSeen(org, 'run_a', 'initlive', ['s1']);
      await store.putUnique(org, 'run_a', 'initlive-email', [['a@x.org', 's1']]);
      await store.forgetWork(org, 'run_a');
      expect(await store.loadCheckpoint(org, 'run_a')).toBeNull();
      expect(await store.unseen(org, 'run_a', 'initlive', ['s1'])).toEqual(['s1']);
      expect(await store.lookup(org, 'run_a', 'initlive-email', ['a@x.org'])).toEqual([null]);
    });

    it('remembers seen ids per run and side', async () => {
      await store.markSeen(org, 'run_a', 'initlive', ['s1', 's2']);
      await store.markSeen(org, 'run_a', 'initlive', ['s2', 's3']);
      await store.markSeen(org, 'run_a', 'salesforce', ['c1']);
      expect(await store.unseen(org, 'run_a', 'initlive', ['s0', 's1', 's3', 's4'])).toEqual([
        's0',
        's4',
      ]);
      expect(await store.unseen(org, 'run_a', 'salesforce', ['s1', 'c1'])).toEqual(['s1']);
      expect(await store.unseen(org, 'run_b', 'initlive', ['s1'])).toEqual(['s1']);
      expect(await store.unseen(org, 'run_a', 'initlive', [])).toEqual([]);
    });

    it('keeps one value per map key, and marks a key given two values ambiguous for good', async () => {
      await store.putUnique(org, 'run_a', 'initlive-email', [
        ['a@x.org', 's1'],
        ['b@x.org', 's2'],
      ]);
      await store.putUnique(org, 'run_a', 'initlive-email', [
        ['a@x.org', 's1'],
        ['b@x.org', 's3'],
      ]);
      await store.putUnique(org, 'run_a', 'initlive-email', [['b@x.org', 's2']]);
      expect(
        await store.lookup(org, 'run_a', 'initlive-email', ['a@x.org', 'b@x.org', 'c@x.org']),
      ).toEqual(['s1', null, null]);
      expect(await store.lookup(org, 'run_a', 'staff-contact', ['a@x.org'])).toEqual([null]);
    });

    it('tallies outcomes, each id once, the same in every handle, until the work is forgotten', async () => {
      const [decided, written] = sampleRecords.SyncOutcome.items;
      const entry = (item: typeof decided) => ({
        id: item!.id,
        increments: tallyIncrements(item!),
      });
      expect(await store.tally(org, 'run_a')).toEqual({});
      await store.addOutcomes(org, 'run_a', [entry(decided), entry(decided)]);
      const other = await fx.openAnother();
      // A redelivered outcome (same id) adds nothing, from whichever process it comes.
      await other.addOutcomes(org, 'run_a', [entry(decided), entry(written)]);
      await store.addOutcomes(org, 'run_a', []);
      const tally = await store.tally(org, 'run_a');
      // The decision caused one write to Salesforce; the write was refused there.
      expect(tally).toEqual({ d: 1, 'cw:s': 1, 'w:s': 1, 'fa:s': 1 });
      expect(await other.tally(org, 'run_a')).toEqual(tally);
      expect(await store.tally(org, 'run_b')).toEqual({});
      await store.forgetWork(org, 'run_a');
      expect(await store.tally(org, 'run_a')).toEqual({});
      // Forgotten ids count again (a late outcome after a run ended is not kept from a new tally).
      await store.addOutcomes(org, 'run_a', [entry(decided)]);
      expect(await store.tally(org, 'run_a')).toEqual({ d: 1, 'cw:s': 1 });
    });
  });
}
