import { defaultMapping } from '../src/core/mapping';
import { decide, type ObservedChange, type ReconcileSettings } from '../src/core/reconcile';
import type { PairState } from '../src/core/pair-state';

/**
 * What the full sync's drift comparison costs per record: `decide()` on a snapshot at the
 * version the pair knows (a quiet re-run's common case), with the comparison (a full sync's
 * snapshot) and without it (the same snapshot as streaming sees it: the version fast path).
 *
 *   npx ts-node --transpile-only bench/drift-compare.ts [records]
 */
const settings: ReconcileSettings = {
  direction: 'two_way',
  defaultSystem: 'initlive',
  deletePolicy: 'archive',
  mapping: defaultMapping,
};

function converged(i: number): { pair: PairState; values: Record<string, unknown> } {
  const values = {
    initliveId: `stf_${i}`,
    firstName: `First${i}`,
    lastName: `Last${i}`,
    email: `person${i}@example.org`,
    phone: `+1 604 555 ${String(i % 10_000).padStart(4, '0')}`,
    mobilePhone: null,
    birthdate: '1990-04-01',
    tags: ['Greeter'],
    status: 'active',
    hoursWorked: 12,
  };
  const first = decide(
    null,
    {
      side: 'initlive',
      recordId: `stf_${i}`,
      otherId: `003${i}`,
      op: 'upsert',
      full: true,
      values: values,
      version: 5,
      position: null,
      ours: false,
      runId: 'run_a',
    },
    settings,
    { orgId: 'o', pairId: `p${i}`, now: 1 },
  ).next;
  const pair = decide(
    first,
    {
      side: 'salesforce',
      recordId: `003${i}`,
      otherId: `stf_${i}`,
      op: 'upsert',
      full: true,
      values: values,
      version: 7_000,
      position: null,
      ours: false,
      runId: 'run_a',
    },
    settings,
    { orgId: 'o', pairId: `p${i}`, now: 2 },
  ).next;
  return { pair, values };
}

function time(records: number, runId: string | null): number {
  const cases = Array.from({ length: records }, (_, i) => converged(i));
  const started = process.hrtime.bigint();
  for (let i = 0; i < records; i++) {
    const { pair, values } = cases[i]!;
    decide(
      pair,
      {
        side: 'initlive',
        recordId: `stf_${i}`,
        otherId: null,
        op: 'upsert',
        full: true,
        values: values as ObservedChange['values'],
        version: 5,
        position: null,
        ours: false,
        runId,
      },
      settings,
      { orgId: 'o', pairId: `p${i}`, now: 3 },
    );
  }
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const records = Number(process.argv[2] ?? 100_000);
time(10_000, 'warm');
time(10_000, null);
const rounds = [1, 2, 3, 4, 5].map(() => ({
  compared: time(records, 'run_b'),
  fastPath: time(records, null),
}));
const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const compared = median(rounds.map((r) => r.compared));
const fastPath = median(rounds.map((r) => r.fastPath));
console.log(
  JSON.stringify(
    {
      records,
      medianMsWithComparison: Math.round(compared),
      medianMsFastPath: Math.round(fastPath),
      addedMicrosecondsPerRecord: Number((((compared - fastPath) * 1000) / records).toFixed(2)),
      rounds,
    },
    null,
    2,
  ),
);
