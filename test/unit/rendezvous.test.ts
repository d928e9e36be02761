import { rendezvousAssign, rendezvousRanking } from '../../src/core/rendezvous';

const orgs = (n: number): string[] => Array.from({ length: n }, (_, i) => `org_${i}`);
/** Names shaped like SourceLease owners: host, pid and a random tag. */
const members = (n: number, tag: string): string[] =>
  Array.from({ length: n }, (_, i) => `conn-${i}:${100 + i}:${tag}${i}`);

function counts(owners: Map<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of owners.values()) out.set(m, (out.get(m) ?? 0) + 1);
  return out;
}

function moved(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...before].filter(([k, m]) => after.get(k) !== m).map(([k]) => k);
}

describe('rendezvousAssign', () => {
  it.each(['a', 'b', 'c', 'd', 'e'])(
    'spreads 1,000 organizations over 3 members within ±20%% (names %s…)',
    (tag) => {
      const owners = rendezvousAssign(orgs(1000), members(3, tag));
      const share = counts(owners);
      expect(share.size).toBe(3);
      for (const n of share.values()) {
        expect(n).toBeGreaterThanOrEqual(1000 / 3 - 1000 / 3 / 5);
        expect(n).toBeLessThanOrEqual(1000 / 3 + 1000 / 3 / 5);
      }
    },
  );

  it('spreads 60 over 3 evenly too, where plain rendezvous hashing often misses ±20%', () => {
    for (const tag of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) {
      const share = counts(rendezvousAssign(orgs(60), members(3, tag)));
      expect([...share.values()]).toEqual([20, 20, 20]);
    }
  });

  it('moves about the minimum when a member joins: a quarter of the keys, nearly all to the joiner', () => {
    const ms = members(4, 'j');
    const before = rendezvousAssign(orgs(1000), ms.slice(0, 3));
    const after = rendezvousAssign(orgs(1000), ms);
    const changed = moved(before, after);
    // The minimum is the joiner's share, 250.
    expect(changed.length).toBeGreaterThanOrEqual(250);
    expect(changed.length).toBeLessThanOrEqual(250 * 1.2);
    const toJoiner = changed.filter((k) => after.get(k) === ms[3]).length;
    expect(toJoiner).toBeGreaterThanOrEqual(249);
  });

  it("moves about the minimum when a member leaves: its keys, and few of the others'", () => {
    const ms = members(3, 'l');
    const before = rendezvousAssign(orgs(1000), ms);
    const after = rendezvousAssign(orgs(1000), ms.slice(0, 2));
    const leaverKeys = [...before].filter(([, m]) => m === ms[2]).map(([k]) => k);
    const changed = moved(before, after);
    expect(changed).toEqual(expect.arrayContaining(leaverKeys));
    expect(changed.length).toBeLessThanOrEqual(leaverKeys.length * 1.2);
    expect([...after.values()].every((m) => m !== ms[2])).toBe(true);
  });

  it('is the same whatever the order of, or duplicates in, its inputs', () => {
    const ks = orgs(200);
    const ms = members(5, 'o');
    const a = rendezvousAssign(ks, ms);
    const b = rendezvousAssign([...ks].reverse().concat(ks.slice(0, 10)), [...ms].reverse());
    expect(new Map([...b].sort())).toEqual(new Map([...a].sort()));
  });

  it('gives one member everything, and no members nothing', () => {
    const owners = rendezvousAssign(orgs(50), ['only']);
    expect([...owners.values()].every((m) => m === 'only')).toBe(true);
    expect(owners.size).toBe(50);
    expect(rendezvousAssign(orgs(5), []).size).toBe(0);
  });
});

describe('rendezvousRanking', () => {
  it('orders every member once, the same from any input order', () => {
    const ms = members(6, 'r');
    const ranking = rendezvousRanking('org_1', ms);
    expect([...ranking].sort()).toEqual([...ms].sort());
    expect(rendezvousRanking('org_1', [...ms].reverse())).toEqual(ranking);
    // Different keys prefer different members.
    const firsts = new Set(orgs(100).map((k) => rendezvousRanking(k, ms)[0]));
    expect(firsts.size).toBe(6);
  });
});
