import { randomUUID } from 'node:crypto';
import type { ParkedRecord, ParkedWriteStore } from '../../src/sink/parked-writes';

export interface ParkedWriteStoreFixture {
  store: ParkedWriteStore;
  /** Another handle on the same data (a second process). */
  openAnother: () => Promise<ParkedWriteStore>;
  cleanup: () => Promise<void>;
}

/** The contract every ParkedWriteStore adapter keeps. */
export function describeParkedWriteStoreConformance(
  name: string,
  factory: () => Promise<ParkedWriteStoreFixture>,
): void {
  describe(`ParkedWriteStore conformance: ${name}`, () => {
    let fx: ParkedWriteStoreFixture;
    let org: string;
    const rec = (offset: number): ParkedRecord => ({
      key: `${org}/pair-${offset}`,
      value: Buffer.from([0, 1, offset % 256]).toString('base64'),
      topic: 't',
      partition: 0,
      offset: String(offset),
      timestamp: 1_000 + offset,
      headers: { h: 'v' },
    });

    beforeEach(async () => {
      fx = await factory();
      org = `org-${randomUUID()}`;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('keeps records in arrival order, per organization, for every handle', async () => {
      expect(await fx.store.count(org)).toBe(0);
      expect(await fx.store.park(org, [rec(1), rec(2)])).toBe(2);
      const other = await fx.openAnother();
      expect(await other.park(org, [rec(3)])).toBe(3);
      expect(await fx.store.park(`${org}-b`, [rec(9)])).toBe(1);
      expect(await fx.store.peek(org, 10)).toEqual([rec(1), rec(2), rec(3)]);
      expect(await other.peek(org, 2)).toEqual([rec(1), rec(2)]);
      expect(await fx.store.count(`${org}-b`)).toBe(1);
      await fx.store.drop(`${org}-b`, 1, rec(9));
    });

    it('drops only from the head, keeping what was parked meanwhile', async () => {
      await fx.store.park(org, [rec(1), rec(2), rec(3)]);
      const head = await fx.store.peek(org, 2);
      await fx.store.park(org, [rec(4)]);
      expect(await fx.store.drop(org, head.length, head[0]!)).toBe(2);
      expect(await fx.store.peek(org, 10)).toEqual([rec(3), rec(4)]);
      // A second drain that wrote the same head drops nothing more.
      expect(await (await fx.openAnother()).drop(org, head.length, head[0]!)).toBe(2);
      expect(await fx.store.peek(org, 10)).toEqual([rec(3), rec(4)]);
      expect(await fx.store.drop(org, 5, rec(3))).toBe(0);
      expect(await fx.store.peek(org, 10)).toEqual([]);
      expect(await fx.store.count(org)).toBe(0);
    });
  });
}
