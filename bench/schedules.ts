import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { configShape } from '../src/config';
import { nextFireAt, wallTime, type SyncSchedule } from '../src/core/schedule';
import { sleep, type ConnectorMain } from './org-processes';
import {
  ADMIN_TOKEN,
  awaitInitialSyncs,
  connectThroughAdmin,
  coresSince,
  cpuSnapshot,
  createBenchOrg,
  loadAverage,
  openBenchWorld,
  mapLimit,
  range,
  reporter,
  startConnectors,
  type BenchOrg,
  type ConnectorSettings,
} from './orgs';
import { percentiles } from './streaming';

/**
 * `npm run bench -- --only=schedules`: issue 20's schedules target. N organizations with K
 * staff each are connected through the admin API (as the orgs bench does) over P connector
 * processes running as deployed with `SCHEDULED_RUN_CONCURRENCY` = `concurrency`; once their
 * first syncs have ended, every organization's schedule is set to "daily" at the same minute
 * (the next whole minute at least `leadSeconds` ahead, as wall time in `timezone`), through
 * `PUT .../settings` as an administrator would. Then the bench watches until every
 * organization has a finished run for that instant, and checks:
 *
 * 1. never more full syncs at once than the limit: P × concurrency overall, `concurrency` in
 *    each process, counted from the run records' own start and end instants;
 * 2. every organization's scheduled run ran and completed, none skipped or run twice;
 * 3. the order is fair: runs start in the queue's order (first due first, ties by
 *    organization id), each within `limit` places of its place in that order.
 *
 * Which process ran a run: the run record does not say, so it is read from each process's
 * /metrics, where `initlive_sync_runs_total{org,trigger="scheduled"}` is counted by the
 * process whose job ran it (run.finished is a process-local event). That needs the per-org
 * labels, which this bench keeps on.
 */
export interface SchedulesBenchOptions extends ConnectorSettings {
  orgs: number;
  staff: number;
  /** SCHEDULED_RUN_CONCURRENCY of each process; undefined: the product's default. */
  concurrency?: number;
  /** The schedule's IANA zone. Default America/Vancouver (the docs' example). */
  timezone?: string;
  /** The scheduled minute is at least this far ahead when the settings start. Default 60 + N/10. */
  leadSeconds?: number;
  /** Give up on runs not ended this long after the scheduled minute. Default 30. */
  timeoutMinutes?: number;
}

/** A finished (or unfinished) scheduled run, as the admin API shows it, and who ran it. */
export interface ScheduledRunSeen {
  orgId: string;
  runId: string;
  status: string;
  startedAt: number | null;
  endedAt: number | null;
  /** Index of the process whose metrics counted it; null when none (or more than one) did. */
  process: number | null;
}

interface RunView {
  runId: string;
  status: string;
  trigger: string;
  reason: string | null;
  startedAt: number | string | null;
  endedAt: number | string | null;
}

const FINISHED = new Set(['succeeded', 'partially_succeeded', 'failed']);
const COMPLETED = new Set(['succeeded', 'partially_succeeded']);
/**
 * With nothing queued and nothing running, the longest a run can still be coming: a run taken
 * by a starter that died goes back after two minutes (the take claim), and is looked at again
 * by the next poll, up to a minute later.
 */
const STALL_MS = 200_000;

export async function benchSchedules(
  options: SchedulesBenchOptions,
): Promise<Record<string, unknown>> {
  const n = options.orgs;
  const p = options.processes;
  const concurrency = options.concurrency ?? configShape.SCHEDULED_RUN_CONCURRENCY.parse(undefined);
  const limit = p * concurrency;
  const timezone = options.timezone ?? 'America/Vancouver';
  const prefix = `bs${randomUUID().slice(0, 8)}`;
  const out: Record<string, unknown> = {
    orgs: n,
    staffPerOrg: options.staff,
    processes: p,
    concurrencyPerProcess: concurrency,
    concurrencyFromDefault: options.concurrency === undefined,
    limitOverall: limit,
    timezone,
    idlePollMaxMs: options.idlePollMaxMs ?? null,
    loadAverageAtStart: loadAverage(),
  };
  const report = reporter('schedules', out);

  let t = Date.now();
  const world = await openBenchWorld(options.redisUrl, prefix, 1_000_000);
  const { sf, il, redis, procs } = world;
  try {
    const orgs = await mapLimit(range(n), 8, (i) =>
      createBenchOrg(sf, il, i % p, { staffCount: options.staff, seed: i + 1 }),
    );
    report('sandboxOrgsCreatedMs', Date.now() - t);

    t = Date.now();
    const settings: ConnectorSettings = {
      ...options,
      // Which process ran a run is read from its per-organization run counter.
      metricsOrgLabels: true,
      extraEnv: {
        ...(options.concurrency !== undefined
          ? { SCHEDULED_RUN_CONCURRENCY: String(options.concurrency) }
          : {}),
        ...options.extraEnv,
      },
    };
    procs.push(...(await startConnectors(settings, prefix, sf, `bench-schedules-${prefix}`)));
    out.logs = procs.map((c) => c.logFile);
    report('processesStartedMs', Date.now() - t);

    // --- every organization connected, and its first sync ended ---------------------------
    t = Date.now();
    await mapLimit(orgs, 8, (org) => connectThroughAdmin(procs[org.via]!.url, org, il.url, {}));
    const initial = await awaitInitialSyncs(procs, orgs, t);
    report('initialSyncs', initial);
    if (!initial.allSucceeded) throw new Error('an initial sync failed: no schedule set');

    // --- every schedule set to the same minute, through the admin API ---------------------
    const leadMs = (options.leadSeconds ?? 60 + Math.ceil(n / 10)) * 1000;
    const dueAt = Math.ceil((Date.now() + leadMs) / 60_000) * 60_000;
    const wall = new Date(wallTime(dueAt, timezone));
    const schedule: SyncSchedule = {
      mode: 'daily',
      at: `${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}`,
      timezone,
    };
    // The product's own reading of that schedule must be the minute chosen (a DST gap would not).
    if (nextFireAt(schedule, Date.now()) !== dueAt) {
      throw new Error(`${JSON.stringify(schedule)} does not fire at ${iso(dueAt)}`);
    }
    t = Date.now();
    await mapLimit(orgs, 8, (org) => putSchedule(procs[org.via]!.url, org, schedule));
    const settingsMs = Date.now() - t;
    const armed = await awaitArmed(procs, orgs, dueAt);
    report('schedulesSet', {
      schedule,
      dueAt: iso(dueAt),
      settingsWallMs: settingsMs,
      // Every process fires every slot (the first to claim it queues the run): how many of
      // them had each organization's timer armed for the minute before it came.
      armedBeforeDue: armed,
      msLeftBeforeDue: dueAt - Date.now(),
    });
    if (Date.now() >= dueAt) {
      throw new Error('the schedules were not all set before their minute: raise --lead-seconds');
    }

    // --- the scheduled minute, until every run has ended ----------------------------------
    await sleep(Math.max(0, dueAt - Date.now()));
    const cpu = await cpuSnapshot(procs);
    const watched = await watchRuns(
      procs,
      orgs,
      redis,
      prefix,
      dueAt,
      (options.timeoutMinutes ?? 30) * 60_000,
    );
    const coresUsed = await coresSince(cpu, procs);
    const byProcess = await runCountsByProcess(procs);
    const runs: ScheduledRunSeen[] = [...watched.runs.values()].map((r) => ({
      ...r,
      process: attribute(r.orgId, byProcess),
    }));
    const analysis = analyseScheduledRuns({
      orgIds: orgs.map((o) => o.orgId),
      runs,
      dueAt,
      filledAt: watched.queue.filledSeenAtMs === null ? null : dueAt + watched.queue.filledSeenAtMs,
    });
    const concurrencySeen = concurrencyOf(runs, p);
    // Every run's start, end and process, to look at afterwards.
    out.runsFile = join(tmpdir(), `bench-schedules-${prefix}-runs.json`);
    await writeFile(out.runsFile as string, JSON.stringify({ dueAt, runs }, null, 1));
    const logLines = await schedulerLogLines(procs);

    report('runs', {
      ...analysis.counts,
      duplicated: watched.duplicated,
      stoppedWatching: watched.stoppedBecause,
      fromDueToLastEndMs: analysis.fromDueToLastEndMs,
      runMs: analysis.runMs,
      waitMs: analysis.waitMs,
      perProcess: procs.map((c) => ({
        index: c.index,
        ran: runs.filter((r) => r.process === c.index).length,
      })),
      unattributed: runs.filter((r) => r.process === null).length,
      coresUsed,
      schedulerWarnings: logLines,
    });
    report('queue', {
      ...watched.queue,
      statusPositions: watched.statusPositions,
      timeline: watched.queueTimeline,
    });
    report('concurrency', {
      limitOverall: limit,
      limitPerProcess: concurrency,
      maxOverall: concurrencySeen.overall,
      maxPerProcess: concurrencySeen.perProcess,
      // Runs of other triggers (a recovery, say) in the same window share the machine but
      // not the scheduled-run slots.
      otherRunsOverlapping: watched.otherRuns,
    });
    report('order', analysis.order);

    const missing = analysis.counts.skipped + analysis.counts.unfinished;
    const checks = {
      neverAboveLimit:
        concurrencySeen.overall <= limit &&
        concurrencySeen.perProcess.every((x) => x.max <= concurrency) &&
        // A run's process is known once it ended (its counter); one not known is not passed.
        runs.every((r) => r.process !== null || !FINISHED.has(r.status)),
      allCompletedNoneSkipped:
        analysis.counts.completed === n && missing === 0 && watched.duplicated === 0,
      // As docs/scaling.md promises: first due first, ties by organization id, each run
      // within the number of slots of its place.
      fairOrder:
        analysis.order.maxDisplacement !== null &&
        analysis.order.maxDisplacement <= limit &&
        watched.queue.inPromisedOrder,
      // The same, for the runs that started once every fire had landed.
      fairOrderOnceQueued:
        analysis.order.onceQueued.maxDisplacement !== null &&
        analysis.order.onceQueued.maxDisplacement <= limit &&
        watched.queue.inPromisedOrder,
    };
    report('target', { ...checks, allPass: Object.values(checks).every(Boolean) });
  } finally {
    out.loadAverageAtEnd = loadAverage();
    await world.close();
  }
  return out;
}

function pad(x: number): string {
  return String(x).padStart(2, '0');
}

/** A run's instant as the API gives it (epoch ms; an ISO string is read too). */
function epochMs(v: number | string | null): number | null {
  if (v === null) return null;
  return typeof v === 'number' ? v : Date.parse(v);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

async function putSchedule(base: string, org: BenchOrg, schedule: SyncSchedule): Promise<void> {
  const res = await fetch(`${base}/api/orgs/${org.orgId}/salesforce/settings`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ schedule }),
  });
  if (res.status !== 200) {
    throw new Error(`settings ${org.orgId}: ${res.status} ${await res.text()}`);
  }
}

async function status(base: string, orgId: string): Promise<Record<string, unknown> | null> {
  const res = await fetch(`${base}/api/orgs/${orgId}/salesforce`, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  }).catch(() => null);
  return res?.status === 200 ? ((await res.json()) as Record<string, unknown>) : null;
}

/**
 * Reads every organization's `scheduledRun.nextAt` from every process until each shows the
 * minute (or it is 3 s away); answers how many organizations each process had armed.
 */
async function awaitArmed(procs: ConnectorMain[], orgs: BenchOrg[], dueAt: number) {
  const want = iso(dueAt);
  const armed = procs.map(() => new Set<string>());
  const other: Record<string, number> = {};
  while (Date.now() < dueAt - 3_000) {
    for (const c of procs) {
      const open = orgs.filter((o) => !armed[c.index]!.has(o.orgId));
      await mapLimit(open, 8, async (org) => {
        const s = await status(c.url, org.orgId);
        const nextAt = (s?.scheduledRun as { nextAt?: string | null } | undefined)?.nextAt;
        if (nextAt === want) armed[c.index]!.add(org.orgId);
        else other[String(nextAt)] = (other[String(nextAt)] ?? 0) + 1;
      });
    }
    if (armed.every((s) => s.size === orgs.length)) break;
    await sleep(1_000);
  }
  return {
    perProcess: armed.map((s) => s.size),
    byAllProcesses: orgs.filter((o) => armed.every((s) => s.has(o.orgId))).length,
    // What the others showed meanwhile (a settings change still on its way reads the old one).
    otherNextAtSeen: other,
  };
}

/**
 * From the scheduled minute: every 2 s the shared queue (the Redis sorted set the product
 * keeps, read as it is) and the runs of each organization no longer in it, until every
 * organization has an ended run for the minute, or nothing is left that could bring one.
 */
async function watchRuns(
  procs: ConnectorMain[],
  orgs: BenchOrg[],
  redis: Redis,
  prefix: string,
  dueAt: number,
  timeoutMs: number,
) {
  const reason = `schedule@${iso(dueAt)}`;
  const runs = new Map<string, Omit<ScheduledRunSeen, 'process'>>();
  const otherRuns = new Map<string, { trigger: string; startedAt: number | null }>();
  let duplicated = 0;
  const queueKey = `${prefix}:run-queue`;
  let longest: Array<{ orgId: string; score: number }> = [];
  const queueTimeline: Array<{ atS: number; queued: number; ended: number }> = [];
  let statusPositions: unknown[] | null = null;
  let lastLength = -1;
  let lastReadAt = Date.now();
  // When the queue stopped growing: after its last growing read, by the first one that was not.
  let filledAt: { afterMs: number; seenAtMs: number } | null = null;
  let lastProgress = Date.now();
  let stoppedBecause = 'all ended';
  for (;;) {
    const flat = await redis.zrange(queueKey, 0, -1, 'WITHSCORES');
    const queue: Array<{ orgId: string; score: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      queue.push({ orgId: flat[i]!, score: Number(flat[i + 1]) });
    }
    if (queue.length > longest.length) longest = queue;
    const queued = new Set(queue.map((q) => q.orgId));
    if (filledAt === null) {
      // Every process fires every organization's timer at the minute; until the queue stops
      // growing the fires are still landing. Only the queue is read meanwhile (runs are timed
      // from their records, so reading them later loses nothing, and the connectors are not
      // asked hundreds of questions while they fire).
      const late = Date.now() - dueAt > 5_000; // nothing queued then: none to wait for
      if (queue.length <= lastLength && (queue.length > 0 || late)) {
        filledAt = { afterMs: lastReadAt - dueAt, seenAtMs: Date.now() - dueAt };
        if (queue.length >= 3) {
          statusPositions = await samplePositions(procs, orgs, queue, redis, queueKey);
        }
      } else {
        lastLength = queue.length;
        lastReadAt = Date.now();
        await sleep(250);
        continue;
      }
    }
    const open = orgs.filter(
      (o) => !queued.has(o.orgId) && !FINISHED.has(runs.get(o.orgId)?.status ?? ''),
    );
    let going = 0;
    await mapLimit(open, 8, async (org) => {
      const res = await fetch(
        `${procs[org.via]!.url}/api/orgs/${org.orgId}/salesforce/runs?limit=10`,
        { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } },
      ).catch(() => null); // a busy process may drop a poll: ask again next round
      if (res?.status !== 200) return;
      const list = ((await res.json()) as { runs: RunView[] }).runs;
      const mine = list.filter((r) => r.trigger === 'scheduled' && r.reason === reason);
      for (const r of list) {
        const startedAt = epochMs(r.startedAt);
        if (r.trigger !== 'scheduled' && startedAt !== null && startedAt >= dueAt) {
          otherRuns.set(r.runId, { trigger: r.trigger, startedAt });
        }
      }
      if (mine.length > 1) duplicated += mine.length - 1;
      const run = mine[mine.length - 1]; // the first one, newest first
      if (!run) return;
      const before = runs.get(org.orgId)?.status;
      runs.set(org.orgId, {
        orgId: org.orgId,
        runId: run.runId,
        status: run.status,
        startedAt: epochMs(run.startedAt),
        endedAt: epochMs(run.endedAt),
      });
      if (before !== run.status) lastProgress = Date.now();
      if (!FINISHED.has(run.status)) going += 1;
    });
    const ended = [...runs.values()].filter((r) => FINISHED.has(r.status)).length;
    queueTimeline.push({
      atS: Math.round((Date.now() - dueAt) / 1000),
      queued: queue.length,
      ended,
    });
    if (queue.length > 0 || going > 0) lastProgress = Date.now();
    if (ended === orgs.length) break;
    if (Date.now() - dueAt > timeoutMs) {
      stoppedBecause = `timeout after ${Math.round(timeoutMs / 1000)} s`;
      break;
    }
    if (queue.length === 0 && going === 0 && Date.now() - lastProgress > STALL_MS) {
      stoppedBecause = `nothing queued or running for ${STALL_MS / 1000} s`;
      break;
    }
    await sleep(2_000);
  }
  const sorted = [...longest].sort((a, b) => a.score - b.score || compare(a.orgId, b.orgId));
  return {
    runs,
    duplicated,
    otherRuns: otherRuns.size,
    stoppedBecause,
    queue: {
      longestSeen: longest.length,
      dueAtsInLongest: [...new Set(longest.map((q) => iso(q.score)))],
      // The queue as kept: due instant, then organization id.
      inPromisedOrder: longest.every((q, i) => q.orgId === sorted[i]!.orgId),
      // From the minute until the queue stopped growing (every fire landed), in ms.
      filledAfterMs: filledAt?.afterMs ?? null,
      filledSeenAtMs: filledAt?.seenAtMs ?? null,
    },
    statusPositions,
    // Thinned to about 40 points.
    queueTimeline: queueTimeline.filter(
      (_, i) => i % Math.max(1, Math.ceil(queueTimeline.length / 40)) === 0,
    ),
  };
}

/**
 * What the status says of the place of three waiting organizations (the first, middle and
 * last queued), between two reads of the queue: a place may only shrink as runs start.
 */
async function samplePositions(
  procs: ConnectorMain[],
  orgs: BenchOrg[],
  queue: Array<{ orgId: string }>,
  redis: Redis,
  queueKey: string,
) {
  const picks = [0, Math.floor(queue.length / 2), queue.length - 1].map((i) => queue[i]!.orgId);
  return Promise.all(
    picks.map(async (orgId) => {
      const before = queue.findIndex((q) => q.orgId === orgId) + 1;
      const via = orgs.find((o) => o.orgId === orgId)!.via;
      const s = await status(procs[(via + 1) % procs.length]!.url, orgId);
      const queued = (s?.scheduledRun as { queued?: { position: number } | null } | undefined)
        ?.queued;
      const rankAfter = await redis.zrank(queueKey, orgId);
      const after = rankAfter === null ? null : rankAfter + 1;
      const position = queued?.position ?? null;
      return {
        orgId,
        placeBefore: before,
        statusPosition: position,
        placeAfter: after,
        consistent:
          position === null
            ? after === null
            : position <= before && (after === null || position >= after),
      };
    }),
  );
}

/** Each process's count of scheduled runs per organization, from its /metrics. */
async function runCountsByProcess(procs: ConnectorMain[]): Promise<Array<Map<string, number>>> {
  return Promise.all(
    procs.map(async (c) => {
      const counts = new Map<string, number>();
      const text = await (await fetch(`${c.url}/metrics`)).text();
      for (const line of text.split('\n')) {
        if (!line.startsWith('initlive_sync_runs_total{')) continue;
        const labels = Object.fromEntries(
          [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
        );
        const value = Number(line.slice(line.lastIndexOf(' ') + 1));
        if (labels.trigger !== 'scheduled' || !labels.org || !(value > 0)) continue;
        counts.set(labels.org, (counts.get(labels.org) ?? 0) + value);
      }
      return counts;
    }),
  );
}

/** The one process that counted a scheduled run of `orgId`, or null. */
function attribute(orgId: string, byProcess: Array<Map<string, number>>): number | null {
  const ran = byProcess.flatMap((m, i) => (m.has(orgId) ? [i] : []));
  return ran.length === 1 ? ran[0]! : null;
}

/** The connectors' log lines about scheduled runs that could not start or were dropped. */
async function schedulerLogLines(procs: ConnectorMain[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const c of procs) {
    const text = await readFile(c.logFile, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const m = /"msg":"(scheduled run[^"]*|run queue not read[^"]*)"/.exec(line);
      if (m) counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
    }
  }
  return counts;
}

/** Code-unit order, which for these ids is the byte order Redis keeps equal scores in. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The most intervals open at one instant. An end and a start at the same millisecond do not
 * overlap: a slot is given back (the run's end recorded) before the next run can take it.
 */
export function maxOverlap(intervals: Array<{ start: number; end: number }>): number {
  const edges: Array<[number, number]> = [];
  for (const i of intervals) edges.push([i.start, 1], [i.end, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let max = 0;
  for (const [, d] of edges) {
    open += d;
    max = Math.max(max, open);
  }
  return max;
}

/** Runs going at once, overall and in each process, from their recorded start and end. */
export function concurrencyOf(runs: ScheduledRunSeen[], processes: number) {
  const span = (r: ScheduledRunSeen) => ({ start: r.startedAt!, end: r.endedAt ?? Infinity });
  const started = runs.filter((r) => r.startedAt !== null);
  return {
    overall: maxOverlap(started.map(span)),
    perProcess: range(processes).map((index) => ({
      index,
      max: maxOverlap(started.filter((r) => r.process === index).map(span)),
    })),
  };
}

/**
 * Counts, waits and order of the scheduled runs of one instant. The queue's order is first due
 * first, ties by organization id; all are due at `dueAt` here, so it is the ids' order. A
 * run's displacement is how many places its start (by recorded start time) is from its place
 * in that order. Runs are taken strictly in that order, so a later one can only start before
 * an earlier one while that one is still being started: within the number of slots.
 */
export function analyseScheduledRuns(input: {
  orgIds: string[];
  runs: ScheduledRunSeen[];
  dueAt: number;
  /** When the queue was seen complete (every fire landed), or null. */
  filledAt?: number | null;
}) {
  const { runs, dueAt } = input;
  const byOrg = new Map(runs.map((r) => [r.orgId, r]));
  const started = runs.filter((r) => r.startedAt !== null);
  const ended = runs.filter((r) => FINISHED.has(r.status) && r.endedAt !== null);
  const expected = [...input.orgIds].sort(compare).filter((id) => byOrg.get(id)?.startedAt != null);
  const actual = [...started]
    .sort((a, b) => a.startedAt! - b.startedAt! || compare(a.orgId, b.orgId))
    .map((r) => r.orgId);
  const displacement = displacementOf(expected, actual);
  // The same among the runs that started once every fire had landed: before, a free slot
  // takes the first of those queued so far, which need not be the first of all.
  const filledAt = input.filledAt ?? null;
  const late = new Set(
    filledAt === null ? [] : started.filter((r) => r.startedAt! >= filledAt).map((r) => r.orgId),
  );
  const lateDisplacement = displacementOf(
    expected.filter((id) => late.has(id)),
    actual.filter((id) => late.has(id)),
  );
  const waits = started.map((r) => r.startedAt! - dueAt);
  const firstTen = actual.slice(0, 10);
  return {
    counts: {
      organizations: input.orgIds.length,
      started: started.length,
      completed: runs.filter((r) => COMPLETED.has(r.status)).length,
      failed: runs.filter((r) => r.status === 'failed').length,
      // Started or recorded, not ended when the watch stopped.
      unfinished: runs.filter((r) => !FINISHED.has(r.status)).length,
      // No run for the instant at all.
      skipped: input.orgIds.filter((id) => !byOrg.has(id)).length,
      // The first run started this long after the minute (the timer and the queue's take).
      firstStartAfterDueMs: waits.length > 0 ? Math.min(...waits) : null,
    },
    fromDueToLastEndMs: ended.length > 0 ? Math.max(...ended.map((r) => r.endedAt!)) - dueAt : null,
    runMs: percentiles(
      ended.filter((r) => r.startedAt !== null).map((r) => r.endedAt! - r.startedAt!),
    ),
    waitMs: percentiles(waits),
    order: {
      maxDisplacement: displacement.length > 0 ? Math.max(...displacement) : null,
      displacement: percentiles(displacement),
      displacedRuns: displacement.filter((d) => d > 0).length,
      onceQueued: {
        runs: late.size,
        maxDisplacement: lateDisplacement.length > 0 ? Math.max(...lateDisplacement) : null,
        displacedRuns: lateDisplacement.filter((d) => d > 0).length,
      },
      // Wait grows with the place in the queue: the median wait of its first and last tenth.
      waitMsFirstTenth: percentiles(tenth(expected, byOrg, dueAt, 'first')).p50,
      waitMsLastTenth: percentiles(tenth(expected, byOrg, dueAt, 'last')).p50,
      startedFirst: firstTen,
      queuedFirst: expected.slice(0, 10),
    },
  };
}

/** How many places each id of `actual` is from its place in `expected` (the same ids). */
function displacementOf(expected: string[], actual: string[]): number[] {
  const place = new Map(expected.map((id, i) => [id, i]));
  return actual.map((id, i) => Math.abs(i - place.get(id)!));
}

function tenth(
  order: string[],
  byOrg: Map<string, ScheduledRunSeen>,
  dueAt: number,
  which: 'first' | 'last',
): number[] {
  const k = Math.max(1, Math.floor(order.length / 10));
  const ids = which === 'first' ? order.slice(0, k) : order.slice(-k);
  return ids.map((id) => byOrg.get(id)!.startedAt! - dueAt);
}
