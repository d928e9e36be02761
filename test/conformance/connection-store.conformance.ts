import { randomUUID } from 'node:crypto';
import { defaultSyncSettings } from '../../src/core/settings';
import type {
  ConnectionStore,
  OrgConnection,
  PendingAuthorization,
} from '../../src/orgs/connection-store';

export interface ConnectionStoreFixture {
  store: ConnectionStore;
  /** Another handle on the same data, as a second process would have one. */
  openAnother: () => Promise<ConnectionStore>;
  /** Moves the store's clock (pending authorization expiry). */
  advance: (ms: number) => void;
  now: () => number;
  cleanup: () => Promise<void>;
}

/** A connected organization's record, with fresh tokens and key. */
export function connectionRecord(orgId: string, extra: Partial<OrgConnection> = {}): OrgConnection {
  return {
    orgId,
    state: 'connected',
    reason: null,
    salesforce: {
      instanceUrl: 'https://example.my.salesforce.com',
      loginUrl: 'https://login.salesforce.com',
      userId: '005000000000001',
      organizationId: '00D000000000001',
      flow: 'web_server',
      username: null,
      accessToken: `00D!access-${randomUUID()}`,
      refreshToken: `5Aep-refresh-${randomUUID()}`,
      privateKeyPem: null,
      connectedAt: 1,
    },
    initlive: { baseUrl: 'https://api.initlive.example', apiKey: `il-key-${randomUUID()}` },
    settings: defaultSyncSettings,
    updatedAt: 1,
    ...extra,
  };
}

/** The contract every ConnectionStore adapter keeps. */
export function describeConnectionStoreConformance(
  name: string,
  factory: () => Promise<ConnectionStoreFixture>,
): void {
  describe(`ConnectionStore conformance: ${name}`, () => {
    let fx: ConnectionStoreFixture;
    let org: string;

    beforeEach(async () => {
      fx = await factory();
      org = `org_${randomUUID().slice(0, 8)}`;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('stores and returns a record; secrets are sealed at rest', async () => {
      expect(await fx.store.get(org)).toBeNull();
      const r = connectionRecord(org);
      expect(await fx.store.update(org, () => r)).toEqual(r);
      expect(await fx.store.get(org)).toEqual(r);
      const raw = (await fx.store.raw(org))!;
      expect(raw).not.toContain(r.salesforce!.accessToken!);
      expect(raw).not.toContain(r.salesforce!.refreshToken!);
      expect(raw).not.toContain(r.initlive!.apiKey);
      expect(raw).toContain(r.salesforce!.instanceUrl);
      const other = await fx.openAnother();
      expect(await other.get(org)).toEqual(r);
    });

    it('lists every record and forgets deleted ones', async () => {
      const a = connectionRecord(`${org}_a`);
      const b = connectionRecord(`${org}_b`, {
        state: 'disconnected',
        salesforce: null,
        initlive: null,
      });
      await fx.store.update(a.orgId, () => a);
      await fx.store.update(b.orgId, () => b);
      const mine = (await fx.store.list()).filter((r) => r.orgId.startsWith(org));
      expect(mine).toEqual([a, b]);
      expect(await fx.store.delete(a.orgId)).toBe(true);
      expect(await fx.store.delete(a.orgId)).toBe(false);
      expect((await fx.store.list()).filter((r) => r.orgId.startsWith(org))).toEqual([b]);
    });

    it('update passes the current record; returning null changes nothing', async () => {
      await fx.store.update(org, () => connectionRecord(org));
      const seen: Array<OrgConnection | null> = [];
      const kept = await fx.store.update(org, (current) => {
        seen.push(current);
        return null;
      });
      expect(seen[0]?.orgId).toBe(org);
      expect(kept).toEqual(seen[0]);
      const next = await fx.store.update(org, (c) => ({
        ...c!,
        state: 'needs_reauth',
        reason: 'revoked',
      }));
      expect((await fx.store.get(org))!).toEqual(next);
      expect(next!.state).toBe('needs_reauth');
    });

    it('concurrent updates from two handles lose nothing', async () => {
      await fx.store.update(org, () => connectionRecord(org, { updatedAt: 0 }));
      const other = await fx.openAnother();
      const bump = (s: ConnectionStore) =>
        s.update(org, (c) => ({ ...c!, updatedAt: c!.updatedAt + 1 }));
      await Promise.all([
        ...Array.from({ length: 10 }, () => bump(fx.store)),
        ...Array.from({ length: 10 }, () => bump(other)),
      ]);
      expect((await fx.store.get(org))!.updatedAt).toBe(20);
    });

    it('restore puts a sealed record back only where none is, and refuses one of another organization or key', async () => {
      const r = connectionRecord(org);
      await fx.store.update(org, () => r);
      const sealed = (await fx.store.raw(org))!;
      expect(await fx.store.restore(org, sealed)).toBe(false);
      expect(await fx.store.delete(org)).toBe(true);
      expect(await fx.store.restore(org, sealed)).toBe(true);
      expect(await fx.store.get(org)).toEqual(r);
      expect(await fx.store.raw(org)).toBe(sealed);
      expect((await fx.store.list()).map((c) => c.orgId)).toContain(org);
      // The record stays the newer one when someone wrote it again first.
      const newer = await fx.store.update(org, (c) => ({ ...c!, updatedAt: 2 }));
      expect(await fx.store.restore(org, sealed)).toBe(false);
      expect(await fx.store.get(org)).toEqual(newer);
      await expect(fx.store.restore(`${org}_x`, sealed)).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      await expect(fx.store.restore(`${org}_y`, '{"orgId":')).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      expect(await fx.store.get(`${org}_x`)).toBeNull();
    });

    it('refuses org ids that are not safe key parts', async () => {
      await expect(fx.store.get('a b')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(fx.store.update('x:y', () => null)).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
    });

    it('a pending authorization is taken once, with its verifier; unknown states give null', async () => {
      const pending: PendingAuthorization = {
        state: randomUUID().replace(/-/g, ''),
        orgId: org,
        codeVerifier: `verifier-${randomUUID()}`,
        redirectUri: 'http://localhost/cb',
        loginUrl: 'https://login.salesforce.com',
        initlive: { baseUrl: 'https://api.initlive.example', apiKey: 'il-pending-key' },
        createdAt: fx.now(),
        expiresAt: fx.now() + 600_000,
      };
      await fx.store.putPending(pending);
      const other = await fx.openAnother();
      const [x, y] = await Promise.all([
        fx.store.takePending(pending.state),
        other.takePending(pending.state),
      ]);
      expect([x, y].filter((v) => v !== null)).toEqual([pending]);
      expect(await fx.store.takePending(pending.state)).toBeNull();
      expect(await fx.store.takePending('never-issued')).toBeNull();
      expect(await fx.store.takePending('bad state!')).toBeNull();
    });

    it('an expired pending authorization is still returned for a while, so the callback can answer "expired"', async () => {
      const base = {
        orgId: org,
        codeVerifier: 'v',
        redirectUri: 'http://localhost/cb',
        loginUrl: 'https://l',
        initlive: null,
        createdAt: fx.now(),
      };
      const a = { ...base, state: `a${randomUUID().slice(0, 8)}`, expiresAt: fx.now() + 1_000 };
      await fx.store.putPending(a);
      fx.advance(5_000);
      expect(await fx.store.takePending(a.state)).toEqual(a);
    });
  });
}
