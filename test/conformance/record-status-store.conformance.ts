import { randomUUID } from 'node:crypto';
import { statusChangeOf } from '../../src/core/record-status';
import type { HistoryEntry, StatusChange } from '../../src/core/record-status';
import type { RecordStatusStore } from '../../src/outcomes/record-status-store';
import { sampleRecords } from '../fixtures/records';

export interface RecordStatusStoreFixture {
  /** A store keeping `historyLimit` entries per record for `ttlMs`. */
  open: (limits?: { historyLimit?: number; ttlMs?: number }) => RecordStatusStore;
  cleanup: () => Promise<void>;
}

const entry = (at: number, event: HistoryEntry['event'] = 'written'): HistoryEntry => ({
  at,
  event,
  side: 'salesforce',
  fields: ['Phone'],
  runId: null,
});

/** The contract every RecordStatusStore adapter keeps. */
export function describeRecordStatusStoreConformance(
  name: string,
  factory: () => Promise<RecordStatusStoreFixture>,
): void {
  describe(`RecordStatusStore conformance: ${name}`, () => {
    let fx: RecordStatusStoreFixture;
    let org: string;

    beforeEach(async () => {
      fx = await factory();
      org = `org-${randomUUID()}`;
    });

    afterEach(async () => {
      await fx.cleanup();
    });

    it('merges the status of outcomes in order and keeps their history newest first', async () => {
      const store = fx.open();
      expect(await store.get(org, { pairId: 'pair_1' })).toBeNull();
      const changes = sampleRecords.SyncOutcome.items.map((i) => statusChangeOf(i)!);
      await store.apply(org, changes);
      const got = await fx.open().get(org, { pairId: 'pair_1' });
      expect(got?.fields).toEqual({
        initliveId: 'stf_01HZX3K8M2',
        awaiting: { salesforce: { cause: 'r:i:stf_01HZX3K8M2', at: 1_795_000_001_500 } },
        landed: { salesforce: 'r:i:stf_01HZX3K8M2' },
        lastError: {
          code: 'SALESFORCE_REJECTED',
          message: 'Email: invalid email address',
          at: 1_795_000_002_000,
          deadLetterId: 'dl_1',
          side: 'salesforce',
        },
      });
      expect(got?.history.map((h) => h.event)).toEqual(['failed', 'decided']);
      expect(got?.history[1]).toEqual({
        at: 1_795_000_001_500,
        event: 'decided',
        side: 'initlive',
        fields: ['phone'],
        runId: 'run_1',
      });
      // Later changes overwrite what they set and keep the rest.
      await store.apply(org, [
        { key: { pairId: 'pair_1' }, set: { lastSyncedAt: 7, salesforceId: '003x' }, history: [] },
        {
          key: { pairId: 'pair_1' },
          set: { awaiting: { initlive: { cause: 'k:i0:5', at: 8 } } },
          history: [],
        },
      ]);
      const merged = await store.get(org, { pairId: 'pair_1' });
      expect(merged?.fields).toMatchObject({
        salesforceId: '003x',
        lastSyncedAt: 7,
        awaiting: {
          salesforce: { cause: 'r:i:stf_01HZX3K8M2', at: 1_795_000_001_500 },
          initlive: { cause: 'k:i0:5', at: 8 },
        },
      });
      expect(merged?.history).toHaveLength(2);
    });

    it('keeps a record without a pair apart, and organizations apart', async () => {
      const store = fx.open();
      const change: StatusChange = {
        key: { side: 'initlive', recordId: 'stf_1' },
        set: { initliveId: 'stf_1' },
        history: [entry(1, 'failed')],
      };
      await store.apply(org, [change]);
      expect(await store.get(org, { side: 'initlive', recordId: 'stf_1' })).toEqual({
        fields: { initliveId: 'stf_1' },
        history: [entry(1, 'failed')],
      });
      expect(await store.get(org, { side: 'salesforce', recordId: 'stf_1' })).toBeNull();
      expect(await store.get(org, { pairId: 'stf_1' })).toBeNull();
      expect(await store.get(`${org}-x`, { side: 'initlive', recordId: 'stf_1' })).toBeNull();
    });

    it('caps the history of a record', async () => {
      const store = fx.open({ historyLimit: 5 });
      await store.apply(org, [
        { key: { pairId: 'p' }, set: {}, history: [entry(1), entry(2), entry(3)] },
        { key: { pairId: 'p' }, set: {}, history: [entry(4), entry(5), entry(6), entry(7)] },
      ]);
      const got = await store.get(org, { pairId: 'p' });
      expect(got?.history.map((h) => h.at)).toEqual([7, 6, 5, 4, 3]);
    });

    it("forgets a record's status and history once its TTL has passed without a change", async () => {
      const store = fx.open({ ttlMs: 300 });
      await store.apply(org, [
        { key: { pairId: 'p' }, set: { lastSyncedAt: 1 }, history: [entry(1)] },
      ]);
      expect(await store.get(org, { pairId: 'p' })).not.toBeNull();
      const deadline = Date.now() + 5_000;
      while ((await store.get(org, { pairId: 'p' })) !== null) {
        if (Date.now() > deadline) throw new Error('record status did not expire');
        await new Promise((r) => setTimeout(r, 50));
      }
    });
  });
}
