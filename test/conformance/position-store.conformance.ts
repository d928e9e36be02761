import { randomUUID } from 'node:crypto';
import type { PositionStore } from '../../src/core/position-store';

export interface PositionStoreFixture {
  store: PositionStore;
  /** Another handle on the same data, as a second process would have one. */
  openAnother: () => Promise<PositionStore>;
  /** Removes everything the fixture created and closes what it opened. */
  cleanup: () => Promise<void>;
}

/** The contract every PositionStore adapter keeps. Tests use their own random names. */
export function describePositionStoreConformance(
  name: string,
  factory: () => Promise<PositionStoreFixture>,
): void {
  describe(`PositionStore conformance: ${name}`, () => {
    let fx: PositionStoreFixture;
    let store: PositionStore;
    let pos: string;

    beforeEach(async () => {
      fx = await factory();
      store = fx.store;
      pos = `initlive:feed:${randomUUID()}`;
    });

    afterEach(async () => {
      await fx.cleanup();
    });

    it('answers null for a position never set, then the last value set', async () => {
      expect(await store.get(pos)).toBeNull();
      await store.set(pos, '100');
      expect(await store.get(pos)).toBe('100');
      await store.set(pos, '99');
      expect(await store.get(pos)).toBe('99');
      expect(await store.get(`${pos}:other`)).toBeNull();
    });

    it('compareAndSet sets only over the expected value (null: nothing stored)', async () => {
      expect(await store.compareAndSet(pos, 'x', '1')).toBe(false);
      expect(await store.get(pos)).toBeNull();
      expect(await store.compareAndSet(pos, null, '1')).toBe(true);
      expect(await store.compareAndSet(pos, null, '2')).toBe(false);
      expect(await store.get(pos)).toBe('1');
      expect(await store.compareAndSet(pos, '0', '2')).toBe(false);
      expect(await store.compareAndSet(pos, '1', '2')).toBe(true);
      expect(await store.get(pos)).toBe('2');
      // The empty string is a value, not "nothing stored".
      await store.set(pos, '');
      expect(await store.get(pos)).toBe('');
      expect(await store.compareAndSet(pos, null, '3')).toBe(false);
      expect(await store.compareAndSet(pos, '', '3')).toBe(true);
      expect(await store.get(pos)).toBe('3');
    });

    it('round-trips opaque values exactly', async () => {
      const replayId = 'AAAAAAAAAAEAAA==';
      const json = JSON.stringify({ seq: 9007199254740991, at: 'Zoë 🧭', nested: [1, null] });
      await store.set(pos, replayId);
      expect(await store.get(pos)).toBe(replayId);
      expect(await store.compareAndSet(pos, replayId, json)).toBe(true);
      expect(await store.get(pos)).toBe(json);
    });

    it('lets exactly one of many racing processes move a position', async () => {
      await store.set(pos, 'v0');
      const handles = await Promise.all(Array.from({ length: 4 }, () => fx.openAnother()));
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          handles[i % handles.length]!.compareAndSet(pos, 'v0', `v${i + 1}`),
        ),
      );
      const winners = results.flatMap((ok, i) => (ok ? [`v${i + 1}`] : []));
      expect(winners).toHaveLength(1);
      expect(await store.get(pos)).toBe(winners[0]);
    });

    it('rejects an empty name with INVALID_INPUT and calls after close with STORE_UNAVAILABLE', async () => {
      await expect(store.get('')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      const handle = await fx.openAnother();
      await handle.close();
      await expect(handle.set(pos, '1')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(await store.get(pos)).toBeNull();
    });
  });
}
