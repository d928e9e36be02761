import { newApiToken, parseApiToken, secretMatches } from '../../src/admin/token-store';
import type { ApiTokenStore } from '../../src/admin/token-store';

export interface ApiTokenStoreFixture {
  store: ApiTokenStore;
  /** Another handle on the same tokens, as a second process would have one. */
  openAnother: () => Promise<ApiTokenStore>;
  /** Every stored value, as text (what a dump of the store would show). */
  dump: () => Promise<string>;
  cleanup: () => Promise<void>;
}

/** The contract every ApiTokenStore adapter keeps. */
export function describeApiTokenStoreConformance(
  name: string,
  factory: () => Promise<ApiTokenStoreFixture>,
): void {
  describe(`ApiTokenStore conformance: ${name}`, () => {
    let fx: ApiTokenStoreFixture;

    beforeEach(async () => {
      fx = await factory();
    });

    afterEach(async () => {
      await fx.cleanup();
    });

    it('keeps a token by id for every handle, listed per organization, and never its secret', async () => {
      const a = newApiToken('org_a', 'reporting', 'viewer', 1_000);
      const b = newApiToken('org_a', 'ops', 'admin', 2_000);
      const c = newApiToken('org_b', 'ops', 'admin', 1_500);
      for (const t of [b, a, c]) await fx.store.create(t.token);
      const other = await fx.openAnother();
      expect(await other.get(a.token.id)).toEqual(a.token);
      expect((await other.list('org_a')).map((t) => t.name)).toEqual(['reporting', 'ops']);
      expect((await other.list('org_b')).map((t) => t.id)).toEqual([c.token.id]);
      expect(await other.list('org_none')).toEqual([]);
      expect(await other.get('0000000000000000')).toBeNull();

      const parsed = parseApiToken(a.secret)!;
      expect(secretMatches((await other.get(parsed.id))!, parsed.secret)).toBe(true);
      expect(secretMatches((await other.get(parsed.id))!, parsed.secret.replace(/.$/, 'x'))).toBe(
        false,
      );
      // What is at rest cannot be replayed: neither secret appears in it.
      const dump = await fx.dump();
      for (const t of [a, b, c]) expect(dump).not.toContain(parseApiToken(t.secret)!.secret);
    });

    it('records uses, and revokes at once for every handle, only within the token organization', async () => {
      const a = newApiToken('org_a', 'ops', 'admin', 1_000);
      await fx.store.create(a.token);
      const other = await fx.openAnother();
      await other.touch('org_a', a.token.id, 5_000);
      expect((await fx.store.get(a.token.id))?.lastUsedAt).toBe(5_000);

      expect(await other.revoke('org_b', a.token.id)).toBe(false);
      expect(await fx.store.get(a.token.id)).not.toBeNull();
      expect(await other.revoke('org_a', a.token.id)).toBe(true);
      expect(await fx.store.get(a.token.id)).toBeNull();
      expect(await fx.store.list('org_a')).toEqual([]);
      expect(await other.revoke('org_a', a.token.id)).toBe(false);
    });
  });
}
