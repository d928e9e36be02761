import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PipelineStatus } from './admin/ports';
import type { ConnectionState } from './orgs/connection-store';
import { connectionStates } from './orgs/connection-store';
import type { SyncEventMap, SyncEvents } from './pipeline/events';
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
  mappingProblems: 'initlive_sync_mapping_problem_state',
} as const;

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
  /** Organizations and their connection states, read at scrape time. */
  connections?: { states(): Array<{ orgId: string; state: ConnectionState }> };
  /** Per-organization source leases of this process, read at scrape time. */
  sourceLeases?: { states(): Array<{ orgId: string; state: SourceLeaseState }> };
  /**
   * Collect prom-client's default metrics (`process_*`, `nodejs_*`: memory, CPU, event-loop
   * lag, GC) under their standard names, which dashboards expect. Default true.
   */
  defaultMetrics?: boolean;
}

export interface Metrics {
  registry: Registry;
  /** A finished full sync (the batch side calls this when a run ends). */
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
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const recordsRead = new Counter({
    name: metricNames.recordsRead,
    help: 'Records a source read from its system and put on a change topic.',
    labelNames: ['source', 'org'],
    registers,
  });
  const recordsWritten = new Counter({
    name: metricNames.recordsWritten,
    help: 'Records a sink wrote successfully to its system.',
    labelNames: ['sink', 'org'],
    registers,
  });
  const recordsCreated = new Counter({
    name: metricNames.recordsCreated,
    help: 'Of the records written, those that created a new record.',
    labelNames: ['sink', 'org'],
    registers,
  });
  const recordsFailed = new Counter({
    name: metricNames.recordsFailed,
    help: 'Records a sink could not write (each also went to the dead letters), by error code.',
    labelNames: ['sink', 'org', 'code'],
    registers,
  });
  const outcomes = new Counter({
    name: metricNames.reconcileOutcomes,
    help: 'Reconciler decisions by the side the change came from and the outcome.',
    labelNames: ['org', 'side', 'outcome'],
    registers,
  });
  const conflicts = new Counter({
    name: metricNames.conflicts,
    help: 'Fields changed on both sides, by the side that won.',
    labelNames: ['org', 'winner'],
    registers,
  });
  const echoes = new Counter({
    name: metricNames.echoesSuppressed,
    help: "Changes recognised as the connector's own writes coming back, and not written again.",
    labelNames: ['org', 'side'],
    registers,
  });
  const deadLetters = new Counter({
    name: metricNames.deadLetters,
    help: 'Records sent to the dead-letter topic, by error code.',
    labelNames: ['org', 'code'],
    registers,
  });
  const resyncs = new Counter({
    name: metricNames.resyncRequests,
    help: 'Full syncs asked for by a source (expired position, overflow).',
    labelNames: ['source', 'org'],
    registers,
  });
  const sinkPaused = new Gauge({
    name: metricNames.sinkPaused,
    help: '1 while a sink holds its writes (API budget, missing package, authorization).',
    labelNames: ['sink', 'org', 'reason'],
    registers,
  });
  const apiUsed = new Gauge({
    name: metricNames.apiCallsUsed,
    help: 'Salesforce API calls used in the rolling 24 hours, as the org last reported.',
    labelNames: ['org'],
    registers,
  });
  const apiRemaining = new Gauge({
    name: metricNames.apiCallsRemaining,
    help: 'Salesforce API calls left in the rolling 24 hours, as the org last reported.',
    labelNames: ['org'],
    registers,
  });
  const apiMax = new Gauge({
    name: metricNames.apiCallsMax,
    help: 'Salesforce daily API allocation of the org.',
    labelNames: ['org'],
    registers,
  });
  const runs = new Counter({
    name: metricNames.runs,
    help: 'Full sync runs finished, by trigger and outcome.',
    labelNames: ['org', 'trigger', 'outcome'],
    registers,
  });
  const runDuration = new Histogram({
    name: metricNames.runDuration,
    help: 'Wall time of full sync runs.',
    labelNames: ['trigger', 'outcome'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers,
  });
  const latency = new Histogram({
    name: metricNames.latency,
    help: 'From a change observed in one system to its write acknowledged in the other.',
    labelNames: ['org', 'from'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers,
  });

  const mappingProblems = new Gauge({
    name: metricNames.mappingProblems,
    help: "1 while a mapped Salesforce field is held back because the org's Contact no longer fits it (reason: missing, type_mismatch, not_updateable), 0 once it syncs again.",
    labelNames: ['org', 'field', 'reason'],
    registers,
  });
  /** Per org, the label sets ever set, so a cleared problem goes back to 0. */
  const heldLabels = new Map<string, Map<string, { org: string; field: string; reason: string }>>();

  // Positions seen in events, kept so a scrape also shows sources the status provider lacks.
  const positions = new Map<string, { source: string; org: string; value: number }>();
  const setPosition = (source: string, org: string, position: string | null): void => {
    const value = Number(position);
    if (position === null || position === '' || !Number.isFinite(value)) return;
    positions.set(`${source}/${org}`, { source, org, value });
  };

  new Gauge({
    name: metricNames.sourcePosition,
    help: 'Stored position of each streaming source (feed sequence, CDC replay id) when numeric.',
    labelNames: ['source', 'org'],
    registers,
    async collect() {
      if (options.status && options.connections) {
        for (const { orgId } of options.connections.states()) {
          for (const s of await options.status.sources(orgId))
            setPosition(s.source, orgId, s.position);
        }
      }
      this.reset();
      for (const p of positions.values()) this.set({ source: p.source, org: p.org }, p.value);
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
    help: "1 for each organization's current connection state, 0 for the others.",
    labelNames: ['org', 'state'],
    registers,
    collect() {
      if (!options.connections) return;
      this.reset();
      for (const { orgId, state } of options.connections.states()) {
        for (const s of connectionStates) this.set({ org: orgId, state: s }, s === state ? 1 : 0);
      }
    },
  });

  new Gauge({
    name: metricNames.sourceLease,
    help: "1 while this process holds an organization's source lease (it reads that organization's sources), 0 while it stands by.",
    labelNames: ['org'],
    registers,
    collect() {
      if (!options.sourceLeases) return;
      this.reset();
      for (const { orgId, state } of options.sourceLeases.states()) {
        this.set({ org: orgId }, state === 'held' ? 1 : 0);
      }
    },
  });

  type Listener<K extends keyof SyncEventMap> = (...args: SyncEventMap[K]) => void;
  const listeners: Array<[keyof SyncEventMap, (...args: never[]) => void]> = [];
  const on = <K extends keyof SyncEventMap>(event: K, fn: Listener<K>): void => {
    events.on(event, fn as never);
    listeners.push([event, fn as never]);
  };

  on('source.records', (e) => recordsRead.inc({ source: e.source, org: e.orgId }, e.count));
  on('source.position', (e) => setPosition(e.source, e.orgId, e.position));
  on('source.resync', (e) => resyncs.inc({ source: e.source, org: e.orgId }));
  on('sink.records', (e) => {
    recordsWritten.inc({ sink: e.sink, org: e.orgId }, e.count);
    if (e.created > 0) recordsCreated.inc({ sink: e.sink, org: e.orgId }, e.created);
  });
  on('sink.failed', (e) =>
    recordsFailed.inc({ sink: e.sink, org: e.orgId, code: e.code }, e.count),
  );
  on('sink.paused', (e) => sinkPaused.set({ sink: e.sink, org: e.orgId, reason: e.reason }, 1));
  on('sink.resumed', (e) => {
    // Whatever the reason was, the sink is writing again.
    for (const reason of ['api_limit', 'package_missing', 'needs_reauth']) {
      sinkPaused.set({ sink: e.sink, org: e.orgId, reason }, 0);
    }
  });
  on('reconcile.outcome', (e) => {
    outcomes.inc({ org: e.orgId, side: e.side, outcome: e.outcome });
    if (e.outcome === 'echo') echoes.inc({ org: e.orgId, side: e.side });
  });
  on('reconcile.conflict', (e) => conflicts.inc({ org: e.orgId, winner: e.winner }));
  on('dead-letter', (e) => deadLetters.inc({ org: e.orgId ?? 'unknown', code: e.code }));
  on('salesforce.api-usage', (e) => {
    apiUsed.set({ org: e.orgId }, e.used);
    apiMax.set({ org: e.orgId }, e.max);
    apiRemaining.set({ org: e.orgId }, Math.max(0, e.max - e.used));
  });
  on('mapping.problems', (e) => {
    const seen = heldLabels.get(e.orgId) ?? new Map();
    heldLabels.set(e.orgId, seen);
    for (const labels of seen.values()) mappingProblems.set(labels, 0);
    for (const p of e.problems) {
      const labels = { org: e.orgId, field: p.salesforceField, reason: p.reason };
      seen.set(`${labels.field}\u0000${labels.reason}`, labels);
      mappingProblems.set(labels, 1);
    }
  });
  on('sync.latency', (e) => latency.observe({ org: e.orgId, from: e.from }, e.ms / 1000));

  return {
    registry,
    observeRun(run) {
      runs.inc({ org: run.orgId, trigger: run.trigger, outcome: run.outcome });
      runDuration.observe(
        { trigger: run.trigger, outcome: run.outcome },
        Math.max(0, run.durationMs) / 1000,
      );
    },
    close() {
      for (const [event, fn] of listeners) events.off(event, fn as never);
      listeners.length = 0;
    },
  };
}
