import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import type Redis from 'ioredis';
import { emptyPair, type PairState } from '../../src/core/pair-state';
import { encodePairState, linkedState, updatePair } from '../../src/core/version-store';
import { closeRedis, createRedis } from '../../src/infra/redis/connect';
import { keyCountOf, readLua } from '../../src/infra/redis/lua-scripts';
import { RedisPositionStore } from '../../src/infra/redis/redis-position-store';
import { RedisVersionStore } from '../../src/infra/redis/redis-version-store';
import { describePositionStoreConformance } from '../conformance/position-store.conformance';
import { describeVersionStoreConformance } from '../conformance/version-store.conformance';
import { redisScope } from '../fixtures/redis-scope';

describeVersionStoreConformance('redis', async () => {
  const scope = redisScope('vs');
  const make = (): RedisVersionStore =>
    new RedisVersionStore({ redis: scope.open(), keyPrefix: scope.prefix });
  return { store: make(), openAnother: async () => make(), cleanup: scope.cleanup };
});

describePositionStoreConformance('redis', async () => {
  const scope = redisScope('vs');
  const make = (): RedisPositionStore =>
    new RedisPositionStore({ redis: scope.open(), keyPrefix: scope.prefix });
  return { store: make(), openAnother: async () => make(), cleanup: scope.cleanup };
});

describe('RedisVersionStore specifics', () => {
  let scope: ReturnType<typeof redisScope>;
  let admin: Redis;
  let store: RedisVersionStore;
  const org = 'org-1';

  beforeEach(() => {
    scope = redisScope('vs');
    admin = scope.open();
    store = new RedisVersionStore({ redis: scope.open(), keyPrefix: scope.prefix });
  });

  afterEach(async () => {
    await scope.cleanup();
  });

  const allKeys = async (): Promise<string[]> => (await admin.keys(`${scope.prefix}*`)).sort();

  it('keeps the documented key layout under its prefix, and nothing else', async () => {
    const state = { ...emptyPair(org, 'p1', 1), initliveId: 'il-7', salesforceId: 'sf-9' };
    await store.compareAndApply(state, 0);
    const p = scope.prefix;
    expect(await allKeys()).toEqual(
      [
        `${p}link:{org-1}:il:il-7`,
        `${p}link:{org-1}:sf:sf-9`,
        `${p}pair:{org-1}:p1`,
        `${p}pairs:{org-1}`,
      ].sort(),
    );
    expect(await admin.hgetall(`${p}pair:{org-1}:p1`)).toEqual({
      rev: '1',
      state: encodePairState(state).text,
      il: 'il-7',
      sf: 'sf-9',
      st: 'unlinked',
      ex: '',
      seen: '0,0',
    });
    expect(await admin.get(`${p}link:{org-1}:sf:sf-9`)).toBe('p1');

    await store.compareAndApply({ ...state, salesforceId: null }, 1);
    expect(await allKeys()).toEqual(
      [`${p}link:{org-1}:il:il-7`, `${p}pair:{org-1}:p1`, `${p}pairs:{org-1}`].sort(),
    );
    await store.delete(org, 'p1', 2);
    expect(await allKeys()).toEqual([]);
  });

  it('answers getLinks for a pair stored before versions were kept beside it: ids, versions unknown', async () => {
    const state = { ...emptyPair(org, 'old', 1), initliveId: 'il-1', salesforceId: 'sf-1' };
    await store.compareAndApply(state, 0);
    await admin.hdel(`${scope.prefix}pair:{org-1}:old`, 'seen');
    expect(await store.getLinks(org, ['old'])).toEqual([
      { initliveId: 'il-1', salesforceId: 'sf-1', seen: null },
    ]);
  });

  it('links a pair stored before status and flags were fields beside its state (as JSON) through its state', async () => {
    const state: PairState = {
      ...emptyPair(org, 'old', 1),
      initliveId: 'il-1',
      merge: {
        current: { initlive: { firstName: 'Ada' }, salesforce: null },
        pending: { initlive: [], salesforce: [] },
        position: { initlive: null, salesforce: null },
        exists: { initlive: true, salesforce: false },
      },
    };
    // As the connector stored pairs before: the state's own JSON; no st or ex fields.
    const key = `${scope.prefix}pair:{org-1}:old`;
    await admin.hset(key, { rev: 3, state: JSON.stringify(state), il: 'il-1', sf: '' });
    await admin.set(`${scope.prefix}link:{org-1}:il:il-1`, 'old');
    await admin.zadd(`${scope.prefix}pairs:{org-1}`, 0, 'old');
    expect(await store.get(org, 'old')).toEqual({ rev: 3, state });

    expect(await store.link(org, 'old', 'salesforce', 'sf-1')).toEqual({
      outcome: 'linked',
      rev: 4,
    });
    expect(await store.get(org, 'old')).toEqual({
      rev: 4,
      state: linkedState(state, 'salesforce', 'sf-1'),
    });
    // Rewritten in the current layout, so the next link needs no state.
    expect(await admin.hmget(key, 'st', 'ex')).toEqual(['linked', '11']);
    expect(await store.link(org, 'old', 'salesforce', 'sf-2')).toEqual({
      outcome: 'held',
      rev: 4,
    });
  });

  it('keeps working after SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
    const positions = new RedisPositionStore({ redis: scope.open(), keyPrefix: scope.prefix });
    const shaOf = (file: string): string => createHash('sha1').update(readLua(file)).digest('hex');
    const shas = ['compare-and-apply-6.lua', 'delete-pair-4.lua', 'compare-and-set-1.lua'].map(
      shaOf,
    );

    await store.compareAndApply({ ...emptyPair(org, 'p1', 1), initliveId: 'A' }, 0);
    expect(await positions.compareAndSet('cursor', null, '1')).toBe(true);
    await admin.script('FLUSH');
    expect((await admin.script('EXISTS', ...shas)) as number[]).toEqual([0, 0, 0]);

    const bumped = await updatePair(store, org, 'p1', (current) => ({
      next: { ...current!.state, initliveId: 'B', seen: { initlive: 5, salesforce: 0 } },
      result: 'ok',
    }));
    expect(bumped).toEqual({ result: 'ok', rev: 2, attempts: 1 });
    expect(await store.findPairId(org, 'initlive', 'B')).toBe('p1');
    expect(await store.findPairId(org, 'initlive', 'A')).toBeNull();
    expect(await positions.compareAndSet('cursor', '1', '2')).toBe(true);

    await admin.script('FLUSH');
    expect(await store.compareAndApply(emptyPair(org, 'p2', 1), 0)).toEqual({
      applied: true,
      rev: 1,
    });
    expect(await store.delete(org, 'p1', 2)).toBe(true);
    expect(await positions.compareAndSet('cursor', '2', '3')).toBe(true);
    expect(await positions.get('cursor')).toBe('3');
    expect((await admin.script('EXISTS', ...shas)) as number[]).toEqual([1, 1, 1]);
  });

  it('keeps revisions exact up to 2^53 - 1 and refuses to pass it', async () => {
    const state = emptyPair(org, 'p1', 1);
    await store.compareAndApply(state, 0);
    const key = `${scope.prefix}pair:{org-1}:p1`;
    await admin.hset(key, 'rev', String(Number.MAX_SAFE_INTEGER - 1));
    expect(await store.compareAndApply(state, Number.MAX_SAFE_INTEGER - 1)).toEqual({
      applied: true,
      rev: Number.MAX_SAFE_INTEGER,
    });
    expect(await admin.hget(key, 'rev')).toBe(String(Number.MAX_SAFE_INTEGER));
    expect((await store.get(org, 'p1'))!.rev).toBe(Number.MAX_SAFE_INTEGER);
    await expect(store.compareAndApply(state, Number.MAX_SAFE_INTEGER)).rejects.toMatchObject({
      code: 'INTERNAL',
      retriable: false,
    });
    expect((await store.get(org, 'p1'))!.rev).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('fails with retriable STORE_UNAVAILABLE when Redis cannot be reached', async () => {
    // A port that was free a moment ago: connecting is refused at once.
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const down = createRedis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1 });
    try {
      const unreachable = new RedisVersionStore({
        redis: down,
        keyPrefix: scope.prefix,
        ownsClient: true,
      });
      await expect(unreachable.get(org, 'p1')).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        retriable: true,
        context: { op: 'get', orgId: org, pairId: 'p1' },
      });
      await expect(unreachable.compareAndApply(emptyPair(org, 'p1', 1), 0)).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        retriable: true,
      });
      const positions = new RedisPositionStore({ redis: down, keyPrefix: scope.prefix });
      await expect(positions.compareAndSet('c', null, '1')).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        retriable: true,
      });
      await unreachable.close();
    } finally {
      await closeRedis(down);
    }
  });
});

describe('Lua script files', () => {
  const dir = path.join(__dirname, '..', '..', 'src', 'infra', 'redis', 'lua');
  const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));

  it('are the ones the stores load', () => {
    expect(files.sort()).toEqual([
      'compare-and-apply-6.lua',
      'compare-and-set-1.lua',
      'delete-pair-4.lua',
      'drop-parked-1.lua',
      'email-claim-1.lua',
      'hash-put-unique-1.lua',
      'heartbeat-member-1.lua',
      'link-2.lua',
      'live-members-1.lua',
      'park-writes-2.lua',
      'queue-fire-2.lua',
      'record-status-1.lua',
      'release-lock-1.lua',
      'renew-lock-1.lua',
      'restore-parked-2.lua',
      'settle-parked-2.lua',
      'settle-run-1.lua',
      'take-run-2.lua',
      'tally-outcomes-2.lua',
    ]);
  });

  it.each(files)(
    '%s opens with a header listing every KEY, the ARGV it reads and the return value',
    (file) => {
      const text = readFileSync(path.join(dir, file), 'utf8');
      const header = /^--\[\[([\s\S]*?)\]\]/.exec(text)?.[1] ?? '';
      const keyCount = keyCountOf(file);
      for (let i = 1; i <= keyCount; i++) expect(header).toContain(`KEYS[${i}]`);
      expect(header).not.toContain(`KEYS[${keyCount + 1}]`);
      const body = text.slice(header.length);
      if (/ARGV\[/.test(body)) expect(header).toMatch(/ARGV\[1\]/);
      expect(header).toMatch(/Returns/);
      // Every KEYS index the code uses is declared by the file name.
      const used = [...body.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      expect(Math.max(...used)).toBe(keyCount);
    },
  );
});
