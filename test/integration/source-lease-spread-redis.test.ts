import type Redis from 'ioredis';
import { sourceLockName } from '../../src/batch/lock';
import type { InitLiveApi } from '../../src/infra/initlive';
import { RedisLock } from '../../src/infra/redis/redis-lock';
import { RedisMembership } from '../../src/infra/redis/redis-membership';
import { silentLogger } from '../../src/logger';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import { SOURCE_MEMBERS_GROUP } from '../../src/pipeline/membership';
import { SourceLease } from '../../src/pipeline/source-lease';
import { redisScope, type RedisScope } from '../fixtures/redis-scope';
import { eventually, orgRuntime } from '../unit/source-initlive-helpers';

/**
 * Source leases of three "processes" on real Redis (RedisLock and RedisMembership, each on
 * its own client as a process would have): 60 organizations spread within ±20%; one process
 * killed (its client cut: no release, no leave, its leases and heartbeat run out), its
 * organizations taken by the others within the lease plus 10 s; a joiner receiving a share.
 */

jest.setTimeout(60_000);

const LEASE_MS = 1_500;
const ORG_COUNT = 60;
const ORGS = Array.from({ length: ORG_COUNT }, (_, i) => `org_${i}`);

interface Member {
  owner: string;
  lease: SourceLease;
  redis: Redis;
}

describe('source leases spread over processes on Redis', () => {
  let scope: RedisScope;
  const members: Member[] = [];
  /** orgId -> owner running its readers; starts while another ran them are overlaps. */
  const running = new Map<string, string>();
  const starts: Array<{ orgId: string; owner: string; at: number }> = [];
  const overlaps: string[] = [];
  const orgs = new StaticOrgDirectory(ORGS.map((id) => orgRuntime({} as InitLiveApi, id)));

  const start = async (owner: string): Promise<Member> => {
    const redis = scope.open();
    const lease = new SourceLease(
      { orgs, logger: silentLogger },
      {
        lock: new RedisLock({ redis, keyPrefix: scope.prefix }),
        membership: new RedisMembership({ redis, keyPrefix: scope.prefix }),
        leaseMs: LEASE_MS,
        owner,
      },
      {
        start: async (orgId) => {
          const other = running.get(orgId);
          if (other !== undefined && other !== owner) {
            overlaps.push(`${orgId}: ${owner} started while ${other} ran it`);
          }
          running.set(orgId, owner);
          starts.push({ orgId, owner, at: Date.now() });
        },
        stop: async (orgId) => {
          if (running.get(orgId) === owner) running.delete(orgId);
        },
      },
    );
    const member = { owner, lease, redis };
    members.push(member);
    await lease.start();
    return member;
  };

  const share = (owner: string): number => [...running.values()].filter((o) => o === owner).length;
  const spread = (owners: string[]): boolean =>
    running.size === ORG_COUNT &&
    owners.every(
      (o) => Math.abs(share(o) - ORG_COUNT / owners.length) <= ORG_COUNT / owners.length / 5,
    );

  beforeAll(() => {
    scope = redisScope('source-spread');
  });

  afterAll(async () => {
    await Promise.all(members.map((m) => m.lease.stop()));
    await scope.cleanup();
  });

  it('spreads 60 organizations over three, moves a killed one’s to the others within the lease plus 10 s, and gives a joiner its share', async () => {
    const a = await start('proc-a');
    expect(share('proc-a')).toBe(ORG_COUNT);
    await start('proc-b');
    const c = await start('proc-c');
    await eventually(
      () => spread(['proc-a', 'proc-b', 'proc-c']),
      'an even spread over three processes',
      20_000,
    );
    // Redis agrees: each lease names the process running that organization.
    for (const orgId of ORGS) {
      expect(await a.redis.get(`${scope.prefix}lock:${sourceLockName(orgId)}`)).toBe(
        running.get(orgId),
      );
    }
    expect(
      await new RedisMembership({ redis: a.redis, keyPrefix: scope.prefix }).members(
        SOURCE_MEMBERS_GROUP,
      ),
    ).toEqual(['proc-a', 'proc-b', 'proc-c']);

    // kill -9 of proc-c, as Redis sees it: no release, no leave; its client just goes.
    const cOrgs = ORGS.filter((o) => running.get(o) === 'proc-c');
    const killedAt = Date.now();
    c.redis.disconnect();
    await eventually(() => spread(['proc-a', 'proc-b']), "proc-c's organizations taken", 20_000);
    const takenAt = Math.max(...cOrgs.map((o) => starts.filter((s) => s.orgId === o).pop()!.at));
    // The requirement is the lease plus 10 s; by design it is at most the lease and two
    // of its thirds (10 s at the default 15 s), plus timer slack.
    expect(takenAt - killedAt).toBeLessThanOrEqual(LEASE_MS + 10_000);
    expect(takenAt - killedAt).toBeLessThanOrEqual(LEASE_MS + (2 * LEASE_MS) / 3 + 1_000);

    // A joiner receives a share, handed over by the others.
    await start('proc-d');
    await eventually(
      () => spread(['proc-a', 'proc-b', 'proc-d']),
      'an even spread with the joiner',
      20_000,
    );
    expect(overlaps).toEqual([]);
  });
});
