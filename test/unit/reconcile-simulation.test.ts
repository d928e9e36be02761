import {
  defaultMapping,
  sameValue,
  type CanonicalField,
  type CanonicalValues,
} from '../../src/core/mapping';
import type { PairState, Side } from '../../src/core/pair-state';
import {
  decide,
  type ObservedChange,
  type ReconcileSettings,
  type WriteIntent,
} from '../../src/core/reconcile';

/**
 * Two simulated systems, a user editing each, and the reconciler between them, driven through
 * random interleavings: events of one record arrive in commit order (as CDC and the feed
 * guarantee), writes land some time after they are decided. Whatever the interleaving, both
 * sides must end equal and the writes must stop.
 */

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fields: CanonicalField[] = ['firstName', 'phone', 'email', 'city'];
const userEdit = (f: CanonicalField, v: string): CanonicalValues => ({
  [f]: f === 'email' ? `${v}@example.org` : v,
});

interface SystemSim {
  values: CanonicalValues;
  version: number;
  position: number;
  events: ObservedChange[];
}

function runScenario(
  seed: number,
  settings: ReconcileSettings,
): { il: SystemSim; sf: SystemSim; writes: number; settledWrites: number; initliveWrites: number } {
  const rand = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const start: CanonicalValues = {
    lastName: 'Lee',
    firstName: 'Dana',
    phone: 'p0',
    email: 'e0@example.org',
    city: 'c0',
    status: 'active',
  };
  const sys: Record<Side, SystemSim> = {
    initlive: { values: { ...start }, version: 1, position: 0, events: [] },
    salesforce: { values: { ...start }, version: 1_000, position: 0, events: [] },
  };
  // The pair starts linked and in sync.
  let state: PairState | null = null;
  const base = (
    side: Side,
    values: CanonicalValues,
    ours: boolean,
    full: boolean,
    changed?: CanonicalField[],
  ): ObservedChange => {
    const s = sys[side];
    s.position += 1;
    return {
      side,
      recordId: side === 'initlive' ? 'stf_1' : '003000000000001AAA',
      otherId: side === 'salesforce' ? 'stf_1' : null,
      op: 'upsert',
      full,
      values: side === 'initlive' ? { ...s.values } : values,
      version: s.version,
      position: String(s.position),
      ours,
      ...(side === 'initlive' && changed ? { changed } : {}),
    };
  };
  const commit = (side: Side, changes: CanonicalValues, ours: boolean): void => {
    const s = sys[side];
    const changed: CanonicalValues = {};
    for (const [f, v] of Object.entries(changes) as Array<
      [CanonicalField, CanonicalValues[CanonicalField]]
    >) {
      if (f === 'initliveId') continue;
      if (!sameValue(f, s.values[f] ?? null, v ?? null)) changed[f] = v ?? null;
    }
    if (Object.keys(changed).length === 0) return; // a no-op write emits nothing
    Object.assign(s.values, changed);
    s.version += side === 'initlive' ? 1 : 7;
    s.events.push(
      base(side, changed, ours, side === 'initlive', Object.keys(changed) as CanonicalField[]),
    );
  };
  const pendingWrites: WriteIntent[] = [];
  let writes = 0;
  let initliveWrites = 0;
  const deliver = (side: Side): void => {
    const event = sys[side].events.shift();
    if (!event) return;
    const d = decide(state, event, settings, { orgId: 'org', pairId: 'p', now: 1 });
    state = d.next;
    pendingWrites.push(...d.writes);
    writes += d.writes.length;
    initliveWrites += d.writes.filter((w) => w.side === 'initlive').length;
  };
  // Seed the pair: both sides seen once, in sync.
  sys.initlive.events.push(base('initlive', {}, false, true));
  deliver('initlive');
  for (const w of pendingWrites.splice(0)) commit(w.side, w.values, true);
  sys.salesforce.events.push({
    ...base('salesforce', { ...sys.salesforce.values, initliveId: 'stf_1' }, true, true),
  });
  while (sys.salesforce.events.length + sys.initlive.events.length > 0) {
    deliver('salesforce');
    deliver('initlive');
  }
  for (const w of pendingWrites.splice(0)) commit(w.side, w.values, true);

  for (let i = 0; i < 40; i++) {
    const r = rand();
    if (r < 0.2) commit('initlive', userEdit(pick(fields), `il-${i}`), false);
    else if (r < 0.4) commit('salesforce', userEdit(pick(fields), `sf-${i}`), false);
    else if (r < 0.6) deliver('initlive');
    else if (r < 0.8) deliver('salesforce');
    else {
      const w = pendingWrites.shift();
      if (w) commit(w.side, w.values, true);
    }
  }
  // Users stop; drain until quiet.
  const before = writes;
  for (let i = 0; i < 500; i++) {
    const busy = sys.initlive.events.length + sys.salesforce.events.length + pendingWrites.length;
    if (busy === 0) break;
    const w = pendingWrites.shift();
    if (w) commit(w.side, w.values, true);
    deliver(rand() < 0.5 ? 'initlive' : 'salesforce');
    deliver(rand() < 0.5 ? 'salesforce' : 'initlive');
  }
  if (sys.initlive.events.length + sys.salesforce.events.length + pendingWrites.length > 0) {
    throw new Error(`seed ${seed}: writes never stopped (${writes - before} after users stopped)`);
  }
  return {
    il: sys.initlive,
    sf: sys.salesforce,
    writes,
    settledWrites: writes - before,
    initliveWrites,
  };
}

describe('reconcile under random interleavings (seeded)', () => {
  const seeds = Array.from({ length: 300 }, (_, i) => i + 1);

  it.each(['initlive', 'salesforce'] as const)(
    'two-way, default %s: both sides converge and writes stop',
    (defaultSystem) => {
      const settings: ReconcileSettings = {
        direction: 'two_way',
        defaultSystem,
        deletePolicy: 'archive',
        mapping: defaultMapping,
      };
      for (const seed of seeds) {
        const { il, sf } = runScenario(seed, settings);
        for (const f of fields) {
          if (!sameValue(f, il.values[f] ?? null, sf.values[f] ?? null)) {
            throw new Error(
              `seed ${seed}: ${f} diverged: initlive=${String(il.values[f])} salesforce=${String(sf.values[f])}`,
            );
          }
        }
      }
    },
  );

  it('InitLive -> Salesforce: the connector never decides a write to InitLive', () => {
    const settings: ReconcileSettings = {
      direction: 'initlive_to_salesforce',
      defaultSystem: 'initlive',
      deletePolicy: 'archive',
      mapping: defaultMapping,
    };
    for (const seed of seeds.slice(0, 100)) {
      const { il, initliveWrites } = runScenario(seed, settings);
      // InitLive only ever holds values its own user wrote (or the start values).
      for (const f of fields) expect(String(il.values[f])).not.toMatch(/^sf-/);
      expect(initliveWrites).toBe(0);
    }
  });
});
