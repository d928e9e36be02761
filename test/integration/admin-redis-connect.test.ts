import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { closeRedis, createRedis } from '../../src/infra/redis/connect';
import { RedisConnectionStore } from '../../src/infra/redis/redis-connection-store';
import { createLogger } from '../../src/logger';
import { ManagedOrgDirectory } from '../../src/orgs/managed-org-directory';
import type { AdminFixture } from '../unit/admin-fixture';
import { INITLIVE, oauthConnect, startAdmin } from '../unit/admin-fixture';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ORG = 'org_redis';

describe('admin API over Redis: connect, a second process, disconnect', () => {
  let fx: AdminFixture;
  let prefix: string;
  const clients: Redis[] = [];
  const open = (): Redis => {
    const c = createRedis(redisUrl, { connectionName: 'admin-redis-connect-test' });
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    prefix = `test:admin-http:${randomUUID()}:`;
    fx = await startAdmin({
      store: ({ secrets, now }) =>
        new RedisConnectionStore({ redis: open(), keyPrefix: prefix, secrets, now }),
    });
  });
  afterEach(async () => {
    await fx.close();
    const admin = open();
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.unlink(...keys);
    await Promise.all(clients.splice(0).map((c) => closeRedis(c)));
  });

  test('tokens are sealed in Redis; another process sees the org connected and can call Salesforce', async () => {
    const done = await oauthConnect(fx, ORG, { initlive: INITLIVE });
    expect(done.body.connection).toBe('connected');
    const conn = fx.directory.connection(ORG)!;
    const raw = (await open().get(`${prefix}conn:${ORG}`))!;
    expect(raw).not.toContain(conn.salesforce!.accessToken!);
    expect(raw).not.toContain(conn.salesforce!.refreshToken!);
    expect(raw).not.toContain(INITLIVE.apiKey);

    // A reused state is refused across the shared store too.
    expect((await fetch(done.callbackUrl)).status).toBe(400);

    const logs: string[] = [];
    const second = new ManagedOrgDirectory({
      store: new RedisConnectionStore({ redis: open(), keyPrefix: prefix, secrets: fx.secrets }),
      logger: createLogger({ level: 'debug', write: (l) => logs.push(l) }),
      oauth: {
        loginUrl: fx.sb.loginUrl,
        clientId: fx.sb.clientId,
        clientSecret: fx.sb.clientSecret,
      },
      apiVersion: '62.0',
      salesforceClientTag: 'InitLiveSync',
      initliveOrigin: 'salesforce-sync',
      pollIntervalMs: 0,
    });
    await second.start();
    const changed: string[] = [];
    second.on('changed', (orgId, change) => changed.push(`${orgId}:${change.state}`));
    expect(second.connectedOrgIds()).toEqual([ORG]);
    await second.get(ORG)!.salesforce!.sobject('Contact').create({ LastName: 'From process two' });
    expect(fx.sb.control.listContacts().map((c) => c.LastName)).toContain('From process two');

    // Disconnect in process one; process two sees it on its next poll.
    expect((await fx.api('POST', `/api/orgs/${ORG}/salesforce/disconnect`)).body.revoked).toBe(
      true,
    );
    await second.reload();
    expect(changed).toEqual([`${ORG}:disconnected`]);
    expect(second.get(ORG)!.salesforce).toBeNull();
    expect(second.get(ORG)!.streaming).toBe(false);
    await second.stop();
    for (const line of logs) expect(line).not.toContain(conn.salesforce!.accessToken!);
  });
});
