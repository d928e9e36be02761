import { MemoryAuditLog } from '../../src/infra/memory/memory-audit-log';
import { describeAuditLogConformance } from '../conformance/audit-log.conformance';
import { MemoryApiTokenStore } from '../../src/infra/memory/memory-api-token-store';
import { describeApiTokenStoreConformance } from '../conformance/api-token-store.conformance';
import { MemoryConnectionStore } from '../../src/infra/memory/memory-connection-store';
import { MemoryDeadLetterStore } from '../../src/infra/memory/memory-dead-letter-store';
import { MemorySessionStore } from '../../src/infra/memory/memory-session-store';
import { createSecretBox, generateEncryptionKey } from '../../src/infra/secrets';
import { describeConnectionStoreConformance } from '../conformance/connection-store.conformance';
import { describeDeadLetterStoreConformance } from '../conformance/dead-letter-store.conformance';
import { describeSessionStoreConformance } from '../conformance/session-store.conformance';

describeConnectionStoreConformance('memory', async () => {
  const clock = { now: Date.now() };
  const secrets = createSecretBox(generateEncryptionKey());
  const store = new MemoryConnectionStore({ secrets, now: () => clock.now });
  return {
    store,
    openAnother: async () =>
      new MemoryConnectionStore({ secrets, sharedWith: store, now: () => clock.now }),
    advance: (ms) => {
      clock.now += ms;
    },
    now: () => clock.now,
    cleanup: () => store.close(),
  };
});

describeAuditLogConformance('memory', async ({ maxEntries }) => {
  const log = new MemoryAuditLog({ maxEntries });
  return {
    log,
    reopen: async () => new MemoryAuditLog({ maxEntries, sharedWith: log }),
    cleanup: () => log.close(),
  };
});

describeApiTokenStoreConformance('memory', async () => {
  const store = new MemoryApiTokenStore();
  return {
    store,
    openAnother: async () => new MemoryApiTokenStore({ sharedWith: store }),
    dump: async () =>
      JSON.stringify(await store.list('org_a')) + JSON.stringify(await store.list('org_b')),
    cleanup: () => store.close(),
  };
});

describeDeadLetterStoreConformance('memory', async () => {
  const store = new MemoryDeadLetterStore();
  return {
    store,
    openAnother: async () => new MemoryDeadLetterStore({ sharedWith: store }),
    cleanup: () => store.close(),
  };
});

describe('MemoryConnectionStore specifics', () => {
  it('drops pending authorizations an hour after they expire', async () => {
    const clock = { now: 0 };
    const store = new MemoryConnectionStore({
      secrets: createSecretBox(generateEncryptionKey()),
      now: () => clock.now,
    });
    await store.putPending({
      state: 'abc',
      orgId: 'o',
      codeVerifier: 'v',
      redirectUri: 'r',
      loginUrl: 'l',
      initlive: null,
      createdAt: 0,
      expiresAt: 600_000,
    });
    clock.now = 600_000 + 3_600_000;
    expect(await store.takePending('abc')).toBeNull();
  });
});

describeSessionStoreConformance('memory', async () => {
  const clock = { now: Date.now() };
  const store = new MemorySessionStore({ now: () => clock.now });
  return {
    store,
    openAnother: async () => new MemorySessionStore({ sharedWith: store, now: () => clock.now }),
    advance: (ms) => {
      clock.now += ms;
    },
    now: () => clock.now,
    cleanup: () => store.close(),
  };
});
