import { MemoryConnectionStore } from '../../src/infra/memory/memory-connection-store';
import { createSecretBox, generateEncryptionKey } from '../../src/infra/secrets';
import { silentLogger } from '../../src/logger';
import type { OrgConnection } from '../../src/orgs/connection-store';
import { ManagedOrgDirectory } from '../../src/orgs/managed-org-directory';
import { connectionRecord } from '../conformance/connection-store.conformance';

/**
 * Found by `npm run bench -- --only=orgs` with 1,000 organizations: the poll's read of every
 * record takes long enough that an organization connected meanwhile by this process came back
 * missing (or in its older state) and was dropped, so its Sync now answered "disconnected".
 */
describe('ManagedOrgDirectory: a reload that started before a local change', () => {
  class HeldListStore extends MemoryConnectionStore {
    private gate: Promise<void> | null = null;
    private opened: (() => void) | null = null;
    /** Resolves once the held read has taken its snapshot. */
    listed: Promise<void> = Promise.resolve();
    private onListed: (() => void) | null = null;
    holdNextList(): void {
      this.gate = new Promise((resolve) => (this.opened = resolve));
      this.listed = new Promise((resolve) => (this.onListed = resolve));
    }
    release(): void {
      this.opened?.();
    }
    override async list(): Promise<OrgConnection[]> {
      const snapshot = await super.list();
      const gate = this.gate;
      this.gate = null;
      this.onListed?.();
      if (gate) await gate;
      return snapshot;
    }
  }

  async function setUp() {
    const store = new HeldListStore({ secrets: createSecretBox(generateEncryptionKey()) });
    const directory = new ManagedOrgDirectory({
      store,
      logger: silentLogger,
      oauth: { loginUrl: 'https://login.example.invalid', clientId: 'client' },
      apiVersion: '62.0',
      salesforceClientTag: 'InitLiveSync',
      initliveOrigin: 'salesforce-sync',
      pollIntervalMs: 0,
    });
    await directory.start();
    return { store, directory };
  }

  const tokens = {
    accessToken: '00D000000000001!access',
    refreshToken: 'refresh',
    instanceUrl: 'https://example.my.salesforce.com',
    userId: '005000000000001',
    organizationId: '00D000000000001',
  };
  const connectOptions = {
    tokens,
    flow: 'web_server' as const,
    loginUrl: 'https://login.example.invalid',
    initlive: { baseUrl: 'https://api.initlive.example', apiKey: 'key' },
  };

  it('keeps an organization connected during the read', async () => {
    const { store, directory } = await setUp();
    store.holdNextList();
    const reload = directory.reload();
    await store.listed;
    await directory.connect('org_new', connectOptions);
    expect(directory.state('org_new')).toBe('connected');
    store.release();
    await reload;
    expect(directory.state('org_new')).toBe('connected');
    expect(directory.connectedOrgIds()).toEqual(['org_new']);
  });

  it('keeps a state changed during the read rather than the older one read', async () => {
    const { store, directory } = await setUp();
    const record = connectionRecord('org_a');
    // Revocation fails fast (nothing listens there); the state changes all the same.
    record.salesforce!.loginUrl = 'http://127.0.0.1:9';
    await store.update('org_a', () => record);
    await directory.reload();
    store.holdNextList();
    const reload = directory.reload();
    await store.listed;
    await directory.disconnect('org_a');
    store.release();
    await reload;
    expect(directory.state('org_a')).toBe('disconnected');
  });

  it('still applies what other processes changed, and drops what they removed', async () => {
    const { store, directory } = await setUp();
    await store.update('org_a', () => connectionRecord('org_a'));
    await store.update('org_b', () => connectionRecord('org_b'));
    await directory.reload();
    await store.update('org_a', (c) => c && { ...c, state: 'needs_reauth', reason: 'refused' });
    await store.delete('org_b');
    await directory.reload();
    expect(directory.state('org_a')).toBe('needs_reauth');
    expect(directory.state('org_b')).toBe('disconnected');
    expect(directory.states().map((s) => s.orgId)).toEqual(['org_a']);
  });
});
