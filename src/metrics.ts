import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { NO_ORG } from './admin/dead-letter-store';
import type { PipelineStatus, RunHistory, RunRecord, SourceStatusView } from './admin/ports';
import type { Schedule } from './core/settings';
import type { ConnectionState } from './orgs/connection-store';
import { connectionStates } from './orgs/connection-store';
import type { SyncEventMap, SyncEvents } from './pipeline/events';
import type { PendingChangesView } from './pipeline/pending-changes';
import type { SourceLeaseState } from './pipeline/source-lease';

/**
 * Every Prometheus metric of the connector, named `initlive_sync_<thing>_<unit>`, defined here
 * and nowhere else. Values come from the typed SyncEvents the long-running parts emit; gauges
 * that describe current state (lag, positions, connection state) are read when scraped.
 * Labels carry organization ids, sides and codes, never record data or secrets.
 */
export const metricNames = {
  recordsRead: 'initlive_sync_records_read_total',
  recordsWritten: 'initlive_sync_records_written_total',
  recordsCreated: 'initlive_sync_records_created_total',
  recordsFailed: 'initlive_sync_records_failed_total',
  reconcileOutcomes: 'initlive_sync_reconcile_outcomes_total',
  conflicts: 'initlive_sync_conflicts_total',
  echoesSuppressed: 'initlive_sync_echoes_suppressed_total',
  deadLetters: 'initlive_sync_dead_letters_total',
  resyncRequests: 'initlive_sync_resync_requests_total',
  sinkPaused: 'initlive_sync_sink_paused_state',
  consumerLag: 'initlive_sync_consumer_lag_records',
  sourcePosition: 'initlive_sync_source_position_sequence',
  apiCallsUsed: 'initlive_sync_salesforce_api_used_calls',
  apiCallsRemaining: 'initlive_sync_salesforce_api_remaining_calls',
  apiCallsMax: 'initlive_sync_salesforce_api_max_calls',
  runs: 'initlive_sync_runs_total',
  runDuration: 'initlive_sync_run_duration_seconds',
  latency: 'initlive_sync_latency_seconds',
  connectionState: 'initlive_sync_connection_state',
  sourceLease: 'initlive_sync_source_lease_state',
  sourceRunning: 'initlive_sync_source_running_state',
  apiCallsReserve: 'initlive_sync_salesforce_api_reserve_calls',
  deadLetterBacklog: 'initlive_sync_dead_letter_backlog_records',
  runLastFinished: 'initlive_sync_run_last_finished_timestamp_seconds',
  scheduleInterval: 'initlive_sync_schedule_interval_seconds',
  connectedSince: 'initlive_sync_connected_timestamp_seconds',
  oldestUnapplied: 'initlive_sync_oldest_unapplied_change_timestamp_seconds',
  mappingProblems: 'initlive_sync_mapping_problem_state',
} as const;

/**
 * prom-client's default gauges whose names end in `_total`, which Prometheus keeps for
 * counters (`promtool check metrics` flags them). The same counts stay exported by type as
 * `nodejs_active_handles`, `nodejs_active_requests` and `nodejs_active_resources`.
 */
const misnamedDefaults = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Runs read per organization at each scrape for the last-finished timestamps. */
const RUNS_READ = 20;

export interface RunObservation {
  orgId: string;
  trigger: 'manual' | 'scheduled' | 'recovery';
  outcome: 'succeeded' | 'partially_succeeded' | 'failed';
  durationMs: number;
}

export interface MetricsOptions {
  /** Default: a new registry. */
  registry?: Registry;
  /** Source state and consumer lag, read at scrape time. */
  status?: PipelineStatus;
  /**
   * Organizations and their connection states, read at scrape time; with `view`, also each
   * one's schedule, streaming switch and connection time (ManagedOrgDirectory has both).
   */
  connections?: {
    states(): Array<{ orgId: string; state: ConnectionState }>;
    view?(orgId: string): {
      settings: { schedule: Schedule; streaming: boolean };
      connectedAt: number | null;
    };
  };
  /** Run history (the RunStore), read at scrape time for each organization's last runs. */
  runs?: Pick<RunHistory, 'list'>;
  /** The dead-letter store, read at scrape time for each organization's backlog. */
  deadLetters?: { list(orgId: string, query?: { limit?: number }): Promise<{ total: number }> };
  /** Changes each stage holds and has not finished (the runtime's transport). */
  pendingChanges?: PendingChangesView;
  /** Per-organization source leases of this process, read at scrape time. */
  sourceLeases?: { states(): Array<{ orgId: string; state: SourceLeaseState }> };
  /**
   * Label per-organization series with `org` (default true). Off (METRICS_ORG_LABELS=false,
   * for deployments with more organizations than a Prometheus should hold series for), no
   * series carries an organization: counters and histograms count every organization
   * together, and each per-organization gauge becomes one series per remaining label set,
   * folded as its `fold` says (how many organizations are in a state, the sum of a budget, the
   * latest or oldest time). docs/monitoring: the dashboard and alerts work either way.
   */
  orgLabels?: boolean;
  /**
   * Collect prom-client's default metrics (`process_*`, `nodejs_*`: memory, CPU, event-loop
   * lag, GC) under their standard names, which dashboards expect. Default true.
   */
  defaultMetrics?: boolean;
}

export interface Metrics {
  registry: Registry;
  /** A finished full sync (also observed from the 'run.finished' event). */
  observeRun(run: RunObservation): void;
  /** Stops listening to the events. */
  close(): void;
}

/**
 * Registers the metrics on `registry` and starts listening to `events`. Call once per
 * registry (prom-client refuses a name registered twice).
 */
export function createMetrics(events: SyncEvents, options: MetricsOptions = {}): Metrics {
  const registry = options.registry ?? new Registry();
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of misnamedDefaults) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const orgIds = (): string[] => options.connections?.states().map((s) => s.orgId) ?? [];
  const orgLabels = options.orgLabels ?? true;
  /** A metric's label names, without `org` when organizations are not labelled. */
  const names = (...labelNames: string[]): string[] =>
    orgLabels ? labelNames : labelNames.filter((l) => l !== 'org');
  /** Label values, without `org` when organizations are not labelled. */
  const of = <L extends { org: string }>(labels: L): Partial<L> => {
    if (orgLabels) return labels;
    const { org: _org, ...rest } = labels;
    return rest as Partial<L>;
  };
  /** The organizations to give zeroed series to: each one, or once for all of them. */
  const zeroedOrgs = (): string[] => (orgLabels ? orgIds() : ['']);
  /**
   * Sets a gauge from one row per organization and label set: as they are, or with org
   * labels off folded into one series per remaining label set.
   */
  const setRows = (gauge: Gauge, rows: Iterable<Row>, fold: Fold): void => {
    gauge.reset();
    if (orgLabels) {
      for (const r of rows) gauge.set(r.labels, r.value);
      return;
    }
    const folded = new Map<string, Row>();
    for (const r of rows) {
      const { org: _org, ...rest } = r.labels;
      const key = Object.values(rest).join('\u0000');
      const prev = folded.get(key);
      folded.set(key, {
        labels: rest,
        value: prev === undefined ? r.value : foldValues(fold, prev.value, r.value),
      });
    }
    for (const f of folded.values()) gauge.set(f.labels, f.value);
  };

  const recordsRead = new Counter({
    name: metricNames.recordsRead,
    help: 'Records a source read from its system and put on a change topic.',
    labelNames: names('source', 'org'),
    registers,
  });
  const recordsWritten = new Counter({
    name: metricNames.recordsWritten,
    help: 'Records a sink wrote successfully to its system.',
    labelNames: names('sink', 'org'),
    registers,
  });
  const recordsCreated = new Counter({
    name: metricNames.recordsCreated,
    help: 'Of the records written, those that created a new record.',
    labelNames: names('sink', 'org'),
    registers,
  });
  const recordsFailed = new Counter({
    name: metricNames.recordsFailed,
    help: 'Records a sink could not write (each also went to the dead letters), by error code.',
    labelNames: names('sink', 'org', 'code'),
    registers,
  });
  const outcomes = new Counter({
    name: metricNames.reconcileOutcomes,
    help: 'Reconciler decisions by the side the change came from and the outcome.',
    labelNames: names('org', 'side', 'outcome'),
    registers,
  });
  const conflicts = new Counter({
    name: metricNames.conflicts,
    help: 'Fields changed on both sides, by the side that won.',
    labelNames: names('org', 'winner'),
    registers,
  });
  const echoes = new Counter({
    name: metricNames.echoesSuppressed,
    help: "Changes recognised as the connector's own writes coming back, and not written again.",
    labelNames: names('org', 'side'),
    registers,
  });
  const deadLetters = new Counter({
    name: metricNames.deadLetters,
    help: 'Records sent to the dead-letter topic, by error code.',
    labelNames: names('org', 'code'),
    registers,
  });
  const resyncs = new Counter({
    name: metricNames.resyncRequests,
    help: 'Full syncs asked for by a source (expired position, overflow).',
    labelNames: names('source', 'org'),
    registers,
    collect() {
      for (const org of zeroedOrgs()) {
        for (const source of ['initlive', 'salesforce']) this.inc(of({ source, org }), 0);
      }
    },
  });
  // Per organization and label set, what the events last said; folded at each scrape.
  const paused = new Map<string, Row>();
  new Gauge({
    name: metricNames.sinkPaused,
    help: '1 while a sink holds its writes (API budget, missing package, authorization). Without org labels: how many organizations it holds.',
    labelNames: names('sink', 'org', 'reason'),
    registers,
    collect() {
      setRows(this, paused.values(), 'sum');
    },
  });
  const apiUsage = new Map<string, { used: number; max: number; reserve?: number }>();
  const apiGauge = (
    name: string,
    help: string,
    value: (u: { used: number; max: number; reserve?: number }) => number | undefined,
  ): void => {
    new Gauge({
      name,
      help: `${help} Without org labels: the sum over the organizations.`,
      labelNames: names('org'),
      registers,
      collect() {
        const rows: Row[] = [];
        for (const [org, usage] of apiUsage) {
          const v = value(usage);
          if (v !== undefined) rows.push({ labels: { org }, value: v });
        }
        setRows(this, rows, 'sum');
      },
    });
  };
  apiGauge(
    metricNames.apiCallsUsed,
    'Salesforce API calls used in the rolling 24 hours, as the org last reported.',
    (u) => u.used,
  );
  apiGauge(
    metricNames.apiCallsRemaining,
    'Salesforce API calls left in the rolling 24 hours, as the org last reported.',
    (u) => Math.max(0, u.max - u.used),
  );
  apiGauge(metricNames.apiCallsMax, 'Salesforce daily API allocation of the org.', (u) => u.max);
  const runs = new Counter({
    name: metricNames.runs,
    help: 'Full sync runs finished, by trigger and outcome.',
    labelNames: names('org', 'trigger', 'outcome'),
    registers,
    collect() {
      // Every outcome of a known organization starts at 0, so increase() sees its first run
      // (a series born at 1 looks unchanged to Prometheus).
      for (const org of zeroedOrgs()) {
        for (const trigger of runTriggers) {
          for (const outcome of runOutcomes) this.inc(of({ org, trigger, outcome }), 0);
        }
      }
    },
  });
  const runDuration = new Histogram({
    name: metricNames.runDuration,
    help: 'Wall time of full sync runs.',
    labelNames: ['trigger', 'outcome'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers,
  });
  // Every series at 0 from the start, so increase() sees the first run of each kind.
  for (const trigger of runTriggers) {
    for (const outcome of runOutcomes) runDuration.zero({ trigger, outcome });
  }
  const latency = new Histogram({
    name: metricNames.latency,
    help: "From the reconciler's decision to write a change to the write acknowledged by the other system (the time before the decision shows in initlive_sync_oldest_unapplied_change_timestamp_seconds).",
    labelNames: names('org', 'from'),
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers,
  });

  apiGauge(
    metricNames.apiCallsReserve,
    'Salesforce API calls the sink leaves to everyone else: below this many left, it pauses (API budget).',
    (u) => u.reserve,
  );

  // One read of the sources per organization serves every gauge of a scrape. Entries older
  // than a second go at most once a second: a sweep per read would cost N^2 per scrape.
  const sourcesRead = new Map<string, { at: number; views: Promise<SourceStatusView[]> }>();
  let sweptAt = 0;
  const sourcesOf = (orgId: string): Promise<SourceStatusView[]> => {
    const now = Date.now();
    if (now - sweptAt >= 1_000) {
      sweptAt = now;
      for (const [k, v] of sourcesRead) if (now - v.at >= 1_000) sourcesRead.delete(k);
    }
    const hit = sourcesRead.get(orgId);
    if (hit && now - hit.at < 1_000) return hit.views;
    const views = options.status ? options.status.sources(orgId) : Promise.resolve([]);
    sourcesRead.set(orgId, { at: now, views });
    return views;
  };
  /** Per org, each field and reason ever held, so a cleared problem goes back to 0. */
  const heldLabels = new Map<string, Map<string, Row>>();
  new Gauge({
    name: metricNames.mappingProblems,
    help: "1 while a mapped Salesforce field is held back because the org's Contact no longer fits it (reason: missing, type_mismatch, not_updateable), 0 once it syncs again. Without org labels: how many organizations hold it back.",
    labelNames: names('org', 'field', 'reason'),
    registers,
    collect() {
      setRows(
        this,
        [...heldLabels.values()].flatMap((m) => [...m.values()]),
        'sum',
      );
    },
  });

  // Positions seen in events, kept so a scrape also shows sources the status provider lacks.
  const positions = new Map<string, { source: string; org: string; value: number }>();
  const setPosition = (source: string, org: string, position: string | null): void => {
    const value = Number(position);
    if (position === null || position === '' || !Number.isFinite(value)) return;
    positions.set(`${source}/${org}`, { source, org, value });
  };

  new Gauge({
    name: metricNames.sourcePosition,
    help: 'Stored position of each streaming source (feed sequence, CDC replay id) when numeric. Without org labels: the sum over the organizations, which moves whenever one of them does.',
    labelNames: names('source', 'org'),
    registers,
    async collect() {
      if (options.status) {
        for (const orgId of orgIds()) {
          for (const s of await sourcesOf(orgId)) setPosition(s.source, orgId, s.position);
        }
      }
      setRows(
        this,
        [...positions.values()].map((p) => ({
          labels: { source: p.source, org: p.org },
          value: p.value,
        })),
        'sum',
      );
    },
  });
  new Gauge({
    name: metricNames.consumerLag,
    help: 'Records waiting for a consumer group on a topic.',
    labelNames: ['group', 'topic'],
    registers,
    async collect() {
      if (!options.status) return;
      const lag = await options.status.consumerLag();
      this.reset();
      for (const l of lag) this.set({ group: l.group, topic: l.topic }, l.lag);
    },
  });
  new Gauge({
    name: metricNames.connectionState,
    help: "1 for each organization's current connection state, 0 for the others. Without org labels: how many organizations are in each state.",
    labelNames: names('org', 'state'),
    registers,
    collect() {
      if (!options.connections) return;
      const rows: Row[] = [];
      for (const { orgId, state } of options.connections.states()) {
        for (const s of connectionStates) {
          rows.push({ labels: { org: orgId, state: s }, value: s === state ? 1 : 0 });
        }
      }
      setRows(this, rows, 'sum');
    },
  });

  new Gauge({
    name: metricNames.sourceLease,
    help: "1 while this process holds an organization's source lease (it reads that organization's sources), 0 while it stands by. Without org labels: how many organizations' sources this process reads.",
    labelNames: names('org'),
    registers,
    collect() {
      if (!options.sourceLeases) return;
      setRows(
        this,
        options.sourceLeases
          .states()
          .map(({ orgId, state }) => ({ labels: { org: orgId }, value: state === 'held' ? 1 : 0 })),
        'sum',
      );
    },
  });

  new Gauge({
    name: metricNames.sourceRunning,
    help: "1 while this process reads the organization's source without errors (InitLive feed running, Salesforce CDC streaming); 0 while it retries, reconnects, stands by for another process or is stopped. Only organizations with streaming on. Without org labels: how many organizations' sources this process reads without errors.",
    labelNames: names('org', 'source'),
    registers,
    async collect() {
      const view = options.connections?.view;
      if (!options.status || !options.connections || !view) return;
      const rows: Row[] = [];
      for (const { orgId, state } of options.connections.states()) {
        if (state === 'disconnected' || !view.call(options.connections, orgId).settings.streaming)
          continue;
        for (const s of await sourcesOf(orgId)) {
          const up = s.state === 'running' || s.state === 'streaming' ? 1 : 0;
          rows.push({ labels: { org: orgId, source: s.source }, value: up });
        }
      }
      setRows(this, rows, 'sum');
    },
  });

  new Gauge({
    name: metricNames.scheduleInterval,
    help: 'Time between scheduled full syncs of the organization (a daily schedule: 86400). Organizations on a manual schedule have none. Without org labels: the longest.',
    labelNames: names('org'),
    registers,
    collect() {
      const view = options.connections?.view;
      if (!options.connections || !view) return;
      const rows: Row[] = [];
      for (const { orgId, state } of options.connections.states()) {
        if (state === 'disconnected') continue;
        const seconds = scheduleSeconds(view.call(options.connections, orgId).settings.schedule);
        if (seconds !== null) rows.push({ labels: { org: orgId }, value: seconds });
      }
      setRows(this, rows, 'max');
    },
  });

  new Gauge({
    name: metricNames.connectedSince,
    help: "When the organization's current Salesforce connection was made (connect or reconnect), as a Unix time. Without org labels: the latest.",
    labelNames: names('org'),
    registers,
    collect() {
      const view = options.connections?.view;
      if (!options.connections || !view) return;
      const rows: Row[] = [];
      for (const { orgId } of options.connections.states()) {
        const at = view.call(options.connections, orgId).connectedAt;
        if (at !== null) rows.push({ labels: { org: orgId }, value: at / 1000 });
      }
      setRows(this, rows, 'max');
    },
  });

  // Latest end time per organization and outcome. Kept across scrapes, so a success older
  // than the runs read each time is still known.
  const lastFinished = new Map<string, number>();
  new Gauge({
    name: metricNames.runLastFinished,
    help: "When the organization's latest full sync with this outcome ended, as a Unix time (from the run history, which every process shares). Without org labels: the latest of any organization.",
    labelNames: names('org', 'outcome'),
    registers,
    async collect() {
      if (!options.runs) return;
      const orgs = orgIds();
      const histories = await Promise.all(
        orgs.map((orgId) => options.runs!.list(orgId, RUNS_READ).catch(() => null)),
      );
      for (const history of histories) {
        for (const run of history ?? []) noteFinished(lastFinished, run);
      }
      const known = new Set(orgs);
      const rows: Row[] = [];
      for (const [key, endedAt] of lastFinished) {
        const [org, outcome] = key.split('\u0000') as [string, string];
        if (known.has(org)) rows.push({ labels: { org, outcome }, value: endedAt / 1000 });
      }
      setRows(this, rows, 'max');
    },
  });

  // Kept across scrapes: a store that fails to answer leaves the last value, not a gap that
  // would reset alerts.
  const backlog = new Map<string, number>();
  new Gauge({
    name: metricNames.deadLetterBacklog,
    help: 'Dead letters waiting to be retried or dismissed, per organization (org="unknown": records too broken to name one). Without org labels: all of them.',
    labelNames: names('org'),
    registers,
    async collect() {
      const store = options.deadLetters;
      if (!store) return;
      const orgs = [...orgIds(), NO_ORG];
      const totals = await Promise.all(
        orgs.map((orgId) =>
          store.list(orgId, { limit: 1 }).then(
            (page) => page.total,
            () => null,
          ),
        ),
      );
      const seen = new Set<string>();
      orgs.forEach((orgId, i) => {
        const label = orgId === NO_ORG ? 'unknown' : orgId;
        seen.add(label);
        const total = totals[i];
        if (total !== null && total !== undefined) backlog.set(label, total);
      });
      for (const label of backlog.keys()) if (!seen.has(label)) backlog.delete(label);
      setRows(
        this,
        [...backlog].map(([org, total]) => ({ labels: { org }, value: total })),
        'sum',
      );
    },
  });

  new Gauge({
    name: metricNames.oldestUnapplied,
    help: 'When the oldest change this process has taken off a change or write topic and not yet finished was put on that topic, as a Unix time; none when nothing is waiting. Seconds since: time() minus this. Without org labels: the oldest of any organization.',
    labelNames: names('org', 'topic'),
    registers,
    collect() {
      if (!options.pendingChanges) return;
      const known = new Set(orgIds());
      const rows: Row[] = [];
      for (const p of options.pendingChanges.oldest()) {
        if (known.has(p.orgId)) {
          rows.push({ labels: { org: p.orgId, topic: p.topic }, value: p.timestamp / 1000 });
        }
      }
      setRows(this, rows, 'min');
    },
  });

  type Listener<K extends keyof SyncEventMap> = (...args: SyncEventMap[K]) => void;
  const listeners: Array<[keyof SyncEventMap, (...args: never[]) => void]> = [];
  const on = <K extends keyof SyncEventMap>(event: K, fn: Listener<K>): void => {
    events.on(event, fn as never);
    listeners.push([event, fn as never]);
  };

  on('source.records', (e) => recordsRead.inc(of({ source: e.source, org: e.orgId }), e.count));
  on('source.position', (e) => setPosition(e.source, e.orgId, e.position));
  on('source.resync', (e) => resyncs.inc(of({ source: e.source, org: e.orgId })));
  on('sink.records', (e) => {
    recordsWritten.inc(of({ sink: e.sink, org: e.orgId }), e.count);
    if (e.created > 0) recordsCreated.inc(of({ sink: e.sink, org: e.orgId }), e.created);
  });
  on('sink.failed', (e) =>
    recordsFailed.inc(of({ sink: e.sink, org: e.orgId, code: e.code }), e.count),
  );
  const setPaused = (sink: string, org: string, reason: string, value: number): void => {
    paused.set(`${sink}\u0000${org}\u0000${reason}`, { labels: { sink, org, reason }, value });
  };
  on('sink.paused', (e) => setPaused(e.sink, e.orgId, e.reason, 1));
  on('sink.resumed', (e) => {
    // Whatever the reason was, the sink is writing again.
    for (const reason of ['api_limit', 'package_missing', 'needs_reauth']) {
      setPaused(e.sink, e.orgId, reason, 0);
    }
  });
  on('reconcile.outcome', (e) => {
    outcomes.inc(of({ org: e.orgId, side: e.side, outcome: e.outcome }));
    if (e.outcome === 'echo') echoes.inc(of({ org: e.orgId, side: e.side }));
  });
  on('reconcile.conflict', (e) => conflicts.inc(of({ org: e.orgId, winner: e.winner })));
  on('dead-letter', (e) => deadLetters.inc(of({ org: e.orgId ?? 'unknown', code: e.code })));
  on('salesforce.api-usage', (e) => {
    const reserve = e.reserve ?? apiUsage.get(e.orgId)?.reserve;
    apiUsage.set(e.orgId, {
      used: e.used,
      max: e.max,
      ...(reserve === undefined ? {} : { reserve }),
    });
  });
  on('mapping.problems', (e) => {
    const seen = heldLabels.get(e.orgId) ?? new Map<string, Row>();
    heldLabels.set(e.orgId, seen);
    for (const row of seen.values()) row.value = 0;
    for (const p of e.problems) {
      const labels = { org: e.orgId, field: p.salesforceField, reason: p.reason };
      seen.set(`${labels.field}\u0000${labels.reason}`, { labels, value: 1 });
    }
  });
  on('sync.latency', (e) => latency.observe(of({ org: e.orgId, from: e.from }), e.ms / 1000));
  const observeRun = (run: RunObservation): void => {
    runs.inc(of({ org: run.orgId, trigger: run.trigger, outcome: run.outcome }));
    runDuration.observe(
      { trigger: run.trigger, outcome: run.outcome },
      Math.max(0, run.durationMs) / 1000,
    );
  };
  on('run.finished', (e) =>
    observeRun({
      orgId: e.orgId,
      trigger: e.trigger,
      outcome: e.status,
      durationMs: e.durationMs,
    }),
  );

  return {
    registry,
    observeRun,
    close() {
      for (const [event, fn] of listeners) events.off(event, fn as never);
      listeners.length = 0;
    },
  };
}

/** One series of a per-organization gauge, before org labels are kept or folded away. */
interface Row {
  labels: Record<string, string> & { org?: string };
  value: number;
}

/** How a per-organization gauge's series fold into one when org labels are off. */
type Fold = 'sum' | 'max' | 'min';

function foldValues(fold: Fold, a: number, b: number): number {
  switch (fold) {
    case 'sum':
      return a + b;
    case 'max':
      return Math.max(a, b);
    case 'min':
      return Math.min(a, b);
  }
}

/** Seconds between scheduled runs, or null for a manual schedule. */
function scheduleSeconds(schedule: Schedule): number | null {
  switch (schedule.mode) {
    case 'manual':
      return null;
    case 'interval':
      return schedule.everyMinutes * 60;
    case 'daily':
      return 86_400;
  }
}

const runTriggers: ReadonlyArray<RunObservation['trigger']> = ['manual', 'scheduled', 'recovery'];
const runOutcomes: ReadonlyArray<RunObservation['outcome']> = [
  'succeeded',
  'partially_succeeded',
  'failed',
];
const finished = new Set<string>(runOutcomes);

function noteFinished(last: Map<string, number>, run: RunRecord): void {
  if (!finished.has(run.status) || run.endedAt === null) return;
  const key = `${run.orgId}\u0000${run.status}`;
  if ((last.get(key) ?? 0) < run.endedAt) last.set(key, run.endedAt);
}
