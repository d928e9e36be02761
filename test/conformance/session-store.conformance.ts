import type { Session, SessionStore } from '../../src/admin/session-store';
import { hashSessionId, newSessionSecret } from '../../src/admin/session-store';

export interface SessionStoreFixture {
  store: SessionStore;
  /** Another handle on the same sessions, as a second process would have one. */
  openAnother: () => Promise<SessionStore>;
  /** Moves the store's clock. */
  advance: (ms: number) => void;
  now: () => number;
  cleanup: () => Promise<void>;
}

/** The contract every SessionStore adapter keeps. */
export function describeSessionStoreConformance(
  name: string,
  factory: () => Promise<SessionStoreFixture>,
): void {
  describe(`SessionStore conformance: ${name}`, () => {
    let fx: SessionStoreFixture;

    beforeEach(async () => {
      fx = await factory();
    });

    afterEach(async () => {
      await fx.cleanup();
    });

    const session = (ttlMs = 60_000): Session => ({
      idHash: hashSessionId(newSessionSecret()),
      principal: { kind: 'admin', credentialId: 'cred-1' },
      csrfToken: newSessionSecret(),
      createdAt: fx.now(),
      expiresAt: fx.now() + ttlMs,
    });

    it('keeps a session by its id hash and shows it to every handle until it is deleted', async () => {
      const s = session();
      await fx.store.put(s);
      expect(await fx.store.get(s.idHash)).toEqual(s);
      const other = await fx.openAnother();
      expect(await other.get(s.idHash)).toEqual(s);
      expect(await fx.store.get(hashSessionId(newSessionSecret()))).toBeNull();

      await other.delete(s.idHash);
      expect(await fx.store.get(s.idHash)).toBeNull();
      await fx.store.delete(s.idHash); // harmless when gone
    });

    it('forgets a session once it has expired, and never keeps one born expired', async () => {
      const s = session(1_000);
      const t = session(10_000);
      await fx.store.put(s);
      await fx.store.put(t);
      fx.advance(1_000);
      expect(await fx.store.get(s.idHash)).toBeNull();
      expect(await fx.store.get(t.idHash)).toEqual(t);

      const dead = { ...session(), expiresAt: fx.now() - 1 };
      await fx.store.put(dead);
      expect(await fx.store.get(dead.idHash)).toBeNull();
    });

    it('refuses work once closed', async () => {
      await fx.store.close();
      await expect(fx.store.get(session().idHash)).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
      });
    });
  });
}
