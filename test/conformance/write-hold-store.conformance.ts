import { randomUUID } from 'node:crypto';
import type { WriteHold, WriteHoldStore } from '../../src/sink/write-holds';

export interface WriteHoldStoreFixture {
  store: WriteHoldStore;
  openAnother: () => Promise<WriteHoldStore>;
  cleanup: () => Promise<void>;
}

/** The contract every WriteHoldStore adapter keeps. */
export function describeWriteHoldStoreConformance(
  name: string,
  factory: () => Promise<WriteHoldStoreFixture>,
): void {
  describe(`WriteHoldStore conformance: ${name}`, () => {
    let fx: WriteHoldStoreFixture;
    let org: string;
    const hold = (over: Partial<WriteHold> = {}): WriteHold => ({
      orgId: org,
      side: 'salesforce',
      reason: 'package_missing',
      code: 'PACKAGE_MISSING',
      since: 1_000,
      heldWrites: 3,
      process: 'a',
      ...over,
    });

    beforeEach(async () => {
      fx = await factory();
      org = `org-${randomUUID()}`;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('keeps one hold per side and process, shared by every handle, oldest first', async () => {
      expect(await fx.store.list(org)).toEqual([]);
      await fx.store.put(hold(), 60_000);
      await fx.store.put(hold({ heldWrites: 5 }), 60_000);
      const other = await fx.openAnother();
      await other.put(hold({ process: 'b', since: 500, heldWrites: 1 }), 60_000);
      await other.put(
        hold({ side: 'initlive', reason: 'RATE_LIMITED', code: 'RATE_LIMITED', since: 2_000 }),
        60_000,
      );
      // Holds of one moment are listed alike by every store (Redis hashes have no order).
      await other.put(hold({ side: 'initlive', process: 'c', since: 2_000 }), 60_000);
      const all = await fx.store.list(org);
      expect(all).toEqual([
        hold({ process: 'b', since: 500, heldWrites: 1 }),
        expect.objectContaining({ side: 'salesforce', process: 'a', heldWrites: 5 }),
        expect.objectContaining({ side: 'initlive', process: 'a' }),
        expect.objectContaining({ side: 'initlive', process: 'c' }),
      ]);
      expect(await other.list(`${org}-x`)).toEqual([]);
      await other.end(org, 'salesforce', 'a', 5_000, 60_000);
      expect((await fx.store.list(org)).map((h) => `${h.side}:${h.process}`)).toEqual([
        'salesforce:b',
        'initlive:a',
        'initlive:c',
      ]);
    });

    it("keeps when a side's hold last ended, for every handle, for as long as asked", async () => {
      expect(await fx.store.lastEnded(org, 'salesforce')).toBeNull();
      await fx.store.put(hold(), 60_000);
      await fx.store.put(hold({ process: 'b' }), 60_000);
      await fx.store.end(org, 'salesforce', 'a', 7_000, 60_000);
      const other = await fx.openAnother();
      expect(await other.lastEnded(org, 'salesforce')).toBe(7_000);
      expect(await other.lastEnded(org, 'initlive')).toBeNull();
      expect(await other.lastEnded(`${org}-x`, 'salesforce')).toBeNull();
      // b's hold is still listed: an end elsewhere does not end it.
      expect((await other.list(org)).map((h) => h.process)).toEqual(['b']);
      await other.end(org, 'salesforce', 'b', 9_000, 200);
      expect(await fx.store.lastEnded(org, 'salesforce')).toBe(9_000);
      expect(await fx.store.list(org)).toEqual([]);
      const deadline = Date.now() + 5_000;
      while ((await fx.store.lastEnded(org, 'salesforce')) !== null) {
        if (Date.now() > deadline) throw new Error('the end was kept past its time');
        await new Promise((r) => setTimeout(r, 50));
      }
    });

    it('forgets a hold its process stopped refreshing', async () => {
      await fx.store.put(hold(), 200);
      await fx.store.put(hold({ process: 'b' }), 60_000);
      expect(await fx.store.list(org)).toHaveLength(2);
      const deadline = Date.now() + 5_000;
      while ((await fx.store.list(org)).length !== 1) {
        if (Date.now() > deadline) throw new Error('the hold did not expire');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await fx.store.list(org))[0]!.process).toBe('b');
    });
  });
}
