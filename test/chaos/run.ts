import { Kafka, logLevel } from 'kafkajs';
import { consumerLagWithAdmin } from '../../src/infra/kafka/kafka-admin';
import { sleep } from '../harness/log';
import { inject, planFaults, type FaultKind, type TimelineEntry } from './faults';
import { checkDeadLetters, checkPeople, type DeadLetterItem, type Findings } from './invariants';
import { Prng } from './prng';
import { ChaosStack } from './stack';
import { View, Workload, type LatencySample, type Person } from './workload';

export interface ChaosOptions {
  seed: number;
  /** Length of the fault phase. */
  minutes: number;
  runDir: string;
  entry: 'ts' | 'dist';
  /** Use this registry (behind the run's proxy) instead of starting Apicurio. */
  registryUrl?: string;
  /** Changes per second outside storms. Default 4. */
  changesPerSecond?: number;
  /** How long the system may take to converge after the last fault. Default 240 s. */
  settleTimeoutMs?: number;
  /** How long the API counters must stay flat once settled. Default 30 s. */
  idleMs?: number;
  log: (line: string) => void;
}

interface LatencyFigures {
  changes: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface ChaosReport {
  seed: number;
  minutes: number;
  command: string;
  faultsInjected: number;
  faultsByKind: Partial<Record<FaultKind, number>>;
  changesMade: number;
  changesByKind: Partial<Record<string, number>>;
  people: number;
  lost: number;
  duplicated: number;
  orphans: number;
  deadLetters: { expected: number; missing: string[]; unexpected: string[] };
  consumerLag: number | null;
  /** Runs still queued or running two minutes after convergence (null: the API never answered). */
  runsNotEnded: number | null;
  /** Writes still held (`paused` in the status) two minutes after the runs ended. */
  holdsNotEnded: number | null;
  idleSalesforceCalls: number | null;
  convergedAfterLastFaultSeconds: number | null;
  latency: { duringFaults: LatencyFigures; outsideFaults: LatencyFigures };
  salesforceCallsPer1000Changes: number;
  /** Where the Salesforce calls went (the ten busiest routes, since the last allocation reset). */
  salesforceCallsByRoute: Record<string, number>;
  peakRssMb: Record<string, number>;
  processesStarted: Record<string, number>;
  secretsInLogs: string[];
  findings: Findings;
  /** What the workload did to each person a finding names (seconds from the start), to replay it. */
  histories: Record<string, string[]>;
  timeline: Array<{ atSeconds: number; kind: FaultKind; detail: string; seconds: number | null }>;
  passed: boolean;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function figures(samples: LatencySample[]): LatencyFigures {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    changes: ms.length,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    maxMs: ms.length ? ms[ms.length - 1]! : null,
  };
}

async function until<T>(
  what: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 2_000,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const got = await what();
      if (got !== undefined) return got;
    } catch {
      // a process restarting, a service coming back: look again
    }
    if (Date.now() > deadline) return undefined;
    await sleep(everyMs);
  }
}

/** Reads a count until it is 0; after `timeoutMs`, its last read (null if none answered). */
async function zeroWithin(
  read: () => Promise<number | null>,
  timeoutMs: number,
): Promise<number | null> {
  let last: number | null = null;
  const zero = await until(async () => ((last = await read()) === 0 ? 0 : undefined), timeoutMs);
  return zero ?? last;
}

/** Lag of every consumer group of the run, summed (null when Kafka does not answer). */
async function totalLag(stack: ChaosStack): Promise<number | null> {
  const kafka = new Kafka({
    clientId: `${stack.name}-lag`,
    brokers: [stack.kafka.address],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const { groups } = await admin.listGroups();
    let lag = 0;
    for (const { groupId } of groups.filter((g) => g.groupId.startsWith(stack.name))) {
      const committed = await admin.fetchOffsets({ groupId });
      const topics = committed.map((t) => t.topic);
      if (topics.length === 0) continue;
      for (const p of await consumerLagWithAdmin(admin, groupId, topics)) lag += p.lag;
    }
    return lag;
  } catch {
    return null;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * One chaos run: the stack, a seeded workload on both sides, a seeded fault plan, then the
 * invariants once it settles. Never throws for a failed invariant: the report says.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { seed, log } = options;
  const faultMs = Math.round(options.minutes * 60_000);
  const stack = await ChaosStack.start({
    runDir: options.runDir,
    entry: options.entry,
    ...(options.registryUrl ? { registryUrl: options.registryUrl } : {}),
    log,
  });
  const { sf, il } = stack;
  const workload = new Workload(new Prng(seed), il, sf, `s${seed}`);
  const timeline: TimelineEntry[] = [];
  const faultWindows: Array<[number, number]> = [];
  let apiCallsForgotten = 0;
  let pace = 1;
  try {
    workload.seed(40, 10);
    await Promise.all(stack.slots.map((s) => stack.startConnector(s)));
    await stack.connect();
    // The first sync links the people both systems hold, with streaming off (docs/reliability.md).
    const settings = (await stack.api('/settings')).body;
    const put = await stack.api('/settings', {
      method: 'PUT',
      body: { ...settings, direction: 'two_way', defaultSystem: 'initlive', streaming: false },
    });
    if (put.status !== 200) throw new Error(`settings: ${put.status}`);
    await sleep(3_000);
    const first = await stack.api('/sync', { method: 'POST' });
    if (first.status !== 202) throw new Error(`first sync: ${first.status}`);
    await until(async () => {
      const run = (await stack.api(`/runs/${String(first.body.runId)}`)).body;
      return ['succeeded', 'partially_succeeded', 'failed'].includes(String(run.status))
        ? run
        : undefined;
    }, 120_000);
    await stack.api('/settings', { method: 'PUT', body: { streaming: true } });
    await sleep(3_000);
    log('connected, first sync done, streaming on');

    const callsAtStart = sf.control.counters().apiCallsUsed;
    const changesAtStart = workload.changes;
    const started = Date.now();
    const plan = planFaults(seed, faultMs);
    const record = (kind: FaultKind, run: () => Promise<string>) => async () => {
      const entry: TimelineEntry = { kind, detail: '', startMs: Date.now() - started, endMs: null };
      timeline.push(entry);
      try {
        entry.detail = await run();
      } catch (err) {
        entry.detail = `failed: ${String(err)}`;
      }
      entry.endMs = Date.now() - started;
      faultWindows.push([started + entry.startMs, started + entry.endMs]);
      log(`fault ${kind} at ${(entry.startMs / 1000).toFixed(0)} s: ${entry.detail}`);
    };
    const ctx = {
      stack,
      log,
      onApiUsageReset: (used: number) => (apiCallsForgotten += used),
      setPace: (factor: number) => (pace = factor),
    };
    // Majors one after another (each waits for the last to end); kills on their own chain.
    const chain = async (faults: typeof plan): Promise<void> => {
      for (const f of faults) {
        const wait = started + f.atMs - Date.now();
        if (wait > 0) await sleep(wait);
        await record(f.kind, () => inject(f, ctx))();
      }
    };
    const chains = Promise.all([
      chain(plan.filter((f) => f.kind !== 'kill-9')),
      chain(plan.filter((f) => f.kind === 'kill-9')),
    ]);

    const perSecond = options.changesPerSecond ?? 4;
    let view = View.of(il, sf);
    while (Date.now() - started < faultMs) {
      const ops = Math.max(1, Math.round((perSecond * pace) / 4));
      for (let i = 0; i < ops; i++) workload.step(view);
      await sleep(250);
      view = View.of(il, sf);
      workload.observe(view);
      stack.sampleRss();
    }
    log(
      `changes stopped after ${workload.changes - changesAtStart}; waiting for the faults to end`,
    );
    await chains;
    await Promise.all(
      stack.slots.map((slot) => (slot.proc ? Promise.resolve() : stack.startConnector(slot))),
    );
    const lastFault = Date.now();

    // Settle: the two systems agree with the model. Each finding says when its person last
    // changed, and the major fault that began within the minute before, to tell causes apart.
    const when = (p: Person): string => {
      const at = p.lastChangeAt - started;
      const near = timeline
        .filter((t) => t.kind !== 'kill-9' && t.startMs <= at && at - t.startMs <= 60_000)
        .map((t) => `${Math.round((at - t.startMs) / 1000)} s after ${t.kind}`);
      return `; last change at ${Math.round(at / 1000)} s${near.length ? `, ${near.join(', ')}` : ''}`;
    };
    let findings = checkPeople(View.of(il, sf), workload.people, when);
    const converged = await until(
      async () => {
        const v = View.of(il, sf);
        workload.observe(v);
        stack.sampleRss();
        findings = checkPeople(v, workload.people, when);
        const clean =
          findings.lost.length + findings.duplicated.length + findings.orphans.length === 0;
        return clean ? Date.now() : undefined;
      },
      options.settleTimeoutMs ?? 240_000,
      1_000,
    );
    if (converged) log(`converged ${(converged - lastFault) / 1000} s after the last fault`);
    else {
      const all = [...findings.lost, ...findings.duplicated, ...findings.orphans];
      log(`did not converge: ${all.length} findings, first ${all.slice(0, 10).join('; ')}`);
    }

    const lag = await zeroWithin(() => totalLag(stack), 60_000);
    const openRuns = async () => {
      const runs = (await stack.api('/runs?limit=200')).body.runs as Array<{ status: string }>;
      return runs.filter((r) => r.status === 'queued' || r.status === 'running').length;
    };
    const runsNotEnded = await zeroWithin(openRuns, 120_000);
    // A hold checks now and then whether its cause has gone (a limits call for an allocation),
    // so the idle window starts once nothing is held: a hold that outlives its fault is work.
    const held = async () => ((await stack.api('')).body.paused as unknown[]).length;
    const holdsNotEnded = await zeroWithin(held, 120_000);
    const errors = (await stack.api('/errors?limit=500')).body.items as DeadLetterItem[];
    const letters = checkDeadLetters(errors, workload.people);

    // Quiet when idle: no Salesforce call at all for the idle window.
    const idleMs = options.idleMs ?? 30_000;
    const before = sf.control.counters().apiCallsUsed;
    await sleep(idleMs);
    stack.sampleRss();
    const idleCalls = sf.control.counters().apiCallsUsed - before;

    const logs = stack.logs();
    const secrets: Array<[string, string | RegExp]> = [
      ['admin token', stack.adminToken],
      ['encryption key', stack.encryptionKey],
      ['InitLive key', 'sandbox-key'],
      ["connected app's secret", sf.clientSecret],
      ['Salesforce access token', /00D[A-Za-z0-9]{12}![A-Za-z0-9._-]{20,}/],
      ['Salesforce refresh token', /5Aep861[A-Za-z0-9._-]{20,}/],
    ];
    const secretsInLogs = secrets
      .filter(([, s]) => (typeof s === 'string' ? logs.includes(s) : s.test(logs)))
      .map(([what]) => what);

    const calls = sf.control.counters().apiCallsUsed + apiCallsForgotten - callsAtStart - idleCalls;
    const changes = workload.changes - changesAtStart;
    const inFault = (s: LatencySample) =>
      faultWindows.some(([a, b]) => s.t0 <= b && s.t0 + s.ms >= a);
    const faultsByKind: Partial<Record<FaultKind, number>> = {};
    for (const t of timeline) faultsByKind[t.kind] = (faultsByKind[t.kind] ?? 0) + 1;
    const report: ChaosReport = {
      seed,
      minutes: options.minutes,
      command: `npm run chaos -- --seed ${seed} --minutes ${options.minutes}`,
      faultsInjected: timeline.length,
      faultsByKind,
      changesMade: changes,
      changesByKind: workload.opsByKind,
      people: workload.people.length,
      lost: findings.lost.length,
      duplicated: findings.duplicated.length,
      orphans: findings.orphans.length,
      deadLetters: {
        expected: workload.people.filter((p) => p.bad).length,
        ...letters,
      },
      consumerLag: lag ?? null,
      runsNotEnded,
      holdsNotEnded,
      idleSalesforceCalls: idleCalls,
      convergedAfterLastFaultSeconds: converged ? (converged - lastFault) / 1000 : null,
      latency: {
        duringFaults: figures(workload.latencies.filter(inFault)),
        outsideFaults: figures(workload.latencies.filter((s) => !inFault(s))),
      },
      salesforceCallsPer1000Changes: changes ? Math.round((calls / changes) * 10_000) / 10 : 0,
      salesforceCallsByRoute: Object.fromEntries(
        Object.entries(sf.control.counters().endpoints)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 10),
      ),
      peakRssMb: Object.fromEntries(stack.slots.map((s) => [s.label, s.peakRssMb])),
      processesStarted: Object.fromEntries(stack.slots.map((s) => [s.label, s.pids.length])),
      secretsInLogs,
      findings,
      histories: historiesOf(findings, workload.people, started),
      timeline: timeline.map((t) => ({
        atSeconds: Math.round(t.startMs / 100) / 10,
        kind: t.kind,
        detail: t.detail,
        seconds: t.endMs === null ? null : Math.round((t.endMs - t.startMs) / 100) / 10,
      })),
      passed: false,
    };
    report.passed =
      converged !== undefined &&
      report.lost === 0 &&
      report.duplicated === 0 &&
      report.orphans === 0 &&
      letters.missing.length === 0 &&
      letters.unexpected.length === 0 &&
      lag === 0 &&
      runsNotEnded === 0 &&
      holdsNotEnded === 0 &&
      idleCalls === 0 &&
      secretsInLogs.length === 0;
    return report;
  } finally {
    await stack.close();
  }
}

function historiesOf(
  findings: Findings,
  people: readonly Person[],
  started: number,
): Record<string, string[]> {
  const named = new Set(
    [...findings.lost, ...findings.duplicated, ...findings.orphans].flatMap((f) =>
      [...f.matchAll(/person (\d+)/g)].map((m) => Number(m[1])),
    ),
  );
  return Object.fromEntries(
    people
      .filter((p) => named.has(p.key))
      .map((p) => [
        String(p.key),
        p.history.map((h) => {
          const [at, ...rest] = h.split(' ');
          return `${((Number(at) - started) / 1000).toFixed(1)} s ${rest.join(' ')}`;
        }),
      ]),
  );
}
