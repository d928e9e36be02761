import { randomUUID } from 'node:crypto';
import type { Lock } from '../../src/batch/lock';

export interface LockFixture {
  lock: Lock;
  /** Another handle on the same locks, as a second process would have one. */
  openAnother: () => Promise<Lock>;
  /** Lets `ms` pass for leases (a fake clock, or real waiting). */
  pass: (ms: number) => Promise<void>;
  cleanup: () => Promise<void>;
}

/** The contract every Lock adapter keeps. Lease lengths are short; `pass` runs them out. */
export function describeLockConformance(name: string, factory: () => Promise<LockFixture>): void {
  describe(`Lock conformance: ${name}`, () => {
    let fx: LockFixture;
    let lock: Lock;
    let key: string;

    beforeEach(async () => {
      fx = await factory();
      lock = fx.lock;
      key = `sync:org-${randomUUID()}`;
    });

    afterEach(async () => {
      await fx.cleanup();
    });

    it('is held by one owner at a time until released', async () => {
      expect(await lock.holder(key)).toBeNull();
      expect(await lock.tryAcquire(key, 'a', 10_000)).toBe(true);
      expect(await lock.holder(key)).toBe('a');
      expect(await lock.tryAcquire(key, 'b', 10_000)).toBe(false);
      expect(await lock.tryAcquire(key, 'a', 10_000)).toBe(false);
      expect(await lock.release(key, 'b')).toBe(false);
      expect(await lock.holder(key)).toBe('a');
      expect(await lock.release(key, 'a')).toBe(true);
      expect(await lock.release(key, 'a')).toBe(false);
      expect(await lock.tryAcquire(key, 'b', 10_000)).toBe(true);
      expect(await lock.holder(key)).toBe('b');
    });

    it('renews only for its holder', async () => {
      expect(await lock.renew(key, 'a', 10_000)).toBe(false);
      await lock.tryAcquire(key, 'a', 10_000);
      expect(await lock.renew(key, 'a', 10_000)).toBe(true);
      expect(await lock.renew(key, 'b', 10_000)).toBe(false);
      expect(await lock.holder(key)).toBe('a');
    });

    it('frees a lock whose lease ran out, and the old holder can neither renew nor release it', async () => {
      expect(await lock.tryAcquire(key, 'crashed', 200)).toBe(true);
      await fx.pass(400);
      expect(await lock.holder(key)).toBeNull();
      const other = await fx.openAnother();
      expect(await other.tryAcquire(key, 'next', 10_000)).toBe(true);
      expect(await lock.renew(key, 'crashed', 10_000)).toBe(false);
      expect(await lock.release(key, 'crashed')).toBe(false);
      expect(await other.holder(key)).toBe('next');
    });

    it('a renewed lease outlives the original one', async () => {
      await lock.tryAcquire(key, 'a', 300);
      await fx.pass(150);
      expect(await lock.renew(key, 'a', 1_000)).toBe(true);
      await fx.pass(300);
      expect(await lock.holder(key)).toBe('a');
    });

    it('two processes racing for it never both hold it', async () => {
      const other = await fx.openAnother();
      for (let round = 0; round < 20; round++) {
        const name = `${key}:${round}`;
        const results = await Promise.all([
          ...Array.from({ length: 5 }, (_, i) => lock.tryAcquire(name, `p1-${i}`, 10_000)),
          ...Array.from({ length: 5 }, (_, i) => other.tryAcquire(name, `p2-${i}`, 10_000)),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const holder = await other.holder(name);
        expect(holder).toMatch(/^p[12]-\d$/);
        expect(await lock.holder(name)).toBe(holder);
      }
    });

    it('keeps locks of different names apart', async () => {
      expect(await lock.tryAcquire(`${key}:x`, 'a', 10_000)).toBe(true);
      expect(await lock.tryAcquire(`${key}:y`, 'b', 10_000)).toBe(true);
      expect(await lock.holder(`${key}:x`)).toBe('a');
      expect(await lock.holder(`${key}:y`)).toBe('b');
    });

    it('refuses empty names and owners and non-positive leases', async () => {
      await expect(lock.tryAcquire('', 'a', 1000)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(lock.tryAcquire(key, '', 1000)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(lock.tryAcquire(key, 'a', 0)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    });
  });
}
