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
    const rec = (offset: number, partition = 0): ParkedRecord => ({
      key: `${org}/pair-${offset}`,
      value: Buffer.from([0, 1, offset % 256]).toString('base64'),
      topic: 't',
      partition,
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
      expect((await fx.store.park(org, [rec(1), rec(2)])).count).toBe(2);
      const other = await fx.openAnother();
      expect((await other.park(org, [rec(3)])).count).toBe(3);
      expect((await fx.store.park(`${org}-b`, [rec(9)])).count).toBe(1);
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

    it('keeps one generation per list and, per partition, the first offset parked: its mark', async () => {
      expect(await fx.store.marks(org)).toEqual({ generation: null, marks: [] });
      const first = await fx.store.park(org, [rec(5), rec(7, 1)]);
      expect(first.marks).toEqual([
        [0, '5'],
        [1, '7'],
      ]);
      const other = await fx.openAnother();
      const second = await other.park(org, [rec(6), rec(8, 2)]);
      expect(second).toEqual({
        count: 4,
        generation: first.generation,
        marks: [
          [0, '5'],
          [2, '8'],
        ],
      });
      expect(await fx.store.marks(org)).toEqual({
        generation: first.generation,
        marks: [
          [0, '5'],
          [1, '7'],
          [2, '8'],
        ],
      });
      // Another organization's list has its own generation.
      expect((await fx.store.park(`${org}-b`, [rec(1)])).generation).not.toBe(first.generation);
      await fx.store.drop(`${org}-b`, 1, rec(1));
    });

    it('settles the marks only once the list is empty, keeping a mark set since', async () => {
      const parked = await fx.store.park(org, [rec(5), rec(7, 1)]);
      expect(await fx.store.settle(org, parked.marks)).toBe(false);
      expect((await fx.store.marks(org)).marks).toHaveLength(2);
      await fx.store.drop(org, 2, rec(5));
      // The caller read these marks; then another process settled partition 1 and parked
      // (and wrote) a record of it again: that newer mark stays.
      const copied: Array<[number, string]> = [
        [0, '5'],
        [1, '7'],
      ];
      const other = await fx.openAnother();
      expect(await other.settle(org, [[1, '7']])).toBe(true);
      await other.park(org, [rec(9, 1)]);
      await other.drop(org, 1, rec(9, 1));
      expect(await fx.store.settle(org, copied)).toBe(true);
      expect(await fx.store.marks(org)).toEqual({
        generation: parked.generation,
        marks: [[1, '9']],
      });
      expect(await fx.store.settle(org, [[1, '9']])).toBe(true);
      expect((await fx.store.marks(org)).marks).toEqual([]);
      // The next park marks afresh, in the same generation.
      expect(await fx.store.park(org, [rec(12)])).toMatchObject({
        generation: parked.generation,
        marks: [[0, '12']],
      });
      await fx.store.drop(org, 1, rec(12));
    });

    it('restores records read again ahead of the list, dropping those it holds already, idempotently', async () => {
      // After a loss: the list holds what was parked since (offsets 8, 9 of partition 0, 4 of
      // partition 1); the topic is read again for partition 0 from 5 through 8.
      await fx.store.park(org, [rec(8), rec(4, 1), rec(9)]);
      const read = [rec(5), rec(6), rec(8)];
      const restored = await fx.store.restore(org, read, [[0, '5', '8']]);
      expect(restored.count).toBe(5);
      expect(restored.marks).toEqual([[0, '5']]);
      expect(await fx.store.peek(org, 10)).toEqual([rec(5), rec(6), rec(8), rec(4, 1), rec(9)]);
      // The same reading again (another process) leaves the same list.
      await (await fx.openAnother()).restore(org, read, [[0, '5', '8']]);
      expect(await fx.store.peek(org, 10)).toEqual([rec(5), rec(6), rec(8), rec(4, 1), rec(9)]);
      // A record read through, delivered again, is not parked twice; a newer one is.
      expect((await fx.store.park(org, [rec(6), rec(10)])).count).toBe(6);
      expect(await fx.store.peek(org, 10)).toEqual([
        rec(5),
        rec(6),
        rec(8),
        rec(4, 1),
        rec(9),
        rec(10),
      ]);
      expect((await fx.store.marks(org)).marks).toEqual([
        [0, '5'],
        [1, '4'],
      ]);
      // A reading that ended earlier (a slower process) keeps the later records behind it.
      await fx.store.restore(org, [rec(5)], [[0, '5', '5']]);
      expect(await fx.store.peek(org, 10)).toEqual([
        rec(5),
        rec(6),
        rec(8),
        rec(4, 1),
        rec(9),
        rec(10),
      ]);
      await fx.store.drop(org, 6, rec(5));
    });

    it('restores only within the ranges read: a record the list holds from before the range stays', async () => {
      // Delivered again after the loss from before the first mark (a lost commit).
      await fx.store.park(org, [rec(3), rec(6)]);
      await fx.store.restore(org, [rec(5), rec(6)], [[0, '5', '6']]);
      expect(await fx.store.peek(org, 10)).toEqual([rec(5), rec(6), rec(3)]);
      await fx.store.drop(org, 3, rec(5));
    });
  });
}
