import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import type { Dashboard, DataSourceRef } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { metricNames as m } from '../../src/metrics';

/**
 * The connector's Grafana dashboard, built with the Grafana Foundation SDK. Metric names come
 * from src/metrics.ts, so a renamed metric cannot leave a query behind. `npm run dashboards`
 * writes it to initlive-salesforce-sync.json beside this file (what Grafana provisions);
 * test/unit/grafana-dashboard.test.ts fails when the two differ.
 *
 * Every query filters on the dashboard's variables: `$org` and `$instance` (regexes, "All" is
 * `.*`). Gauges read from shared state (connection, runs, dead letters, lag) are reported by
 * every connector process alike, so they are taken with max; counters are summed.
 *
 * With METRICS_ORG_LABELS=false no series has an `org` label, which `org=~".*"` still matches:
 * every panel then shows the deployment as a whole (a state as how many organizations are in
 * it), so no query may compare a state gauge with `== 1`.
 */

export const DASHBOARD_UID = 'initlive-salesforce-sync';

const datasource: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
const sel = (extra = ''): string => `{org=~"$org", instance=~"$instance"${extra}}`;
const inst = (extra = ''): string => `{instance=~"$instance"${extra}}`;
const rate = (name: string, labels: string): string => `rate(${name}${labels}[$__rate_interval])`;

function query(expr: string, legend: string): DataqueryBuilder {
  return new DataqueryBuilder().expr(expr).legendFormat(legend).range();
}

interface PanelSpec {
  title: string;
  /** What the panel shows and what "bad" looks like. */
  description: string;
  queries: DataqueryBuilder[];
  unit?: string;
  width?: number;
}

function timeseries(p: PanelSpec): TimeseriesBuilder {
  const b = new TimeseriesBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(datasource)
    .height(8)
    .span(p.width ?? 8)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom)
        .showLegend(true),
    )
    .fillOpacity(10);
  if (p.unit) b.unit(p.unit);
  for (const q of p.queries) b.withTarget(q);
  return b;
}

function stat(p: PanelSpec & { textMode?: common.BigValueTextMode }): StatBuilder {
  const b = new StatBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(datasource)
    .height(8)
    .span(p.width ?? 8)
    .textMode(p.textMode ?? common.BigValueTextMode.ValueAndName)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  if (p.unit) b.unit(p.unit);
  for (const q of p.queries) b.withTarget(q);
  return b;
}

type Panel = cog.Builder<Dashboard['panels'] extends Array<infer P> | undefined ? P : never>;

const rows: Array<{ title: string; panels: Panel[] }> = [
  {
    title: 'Overview',
    panels: [
      stat({
        title: 'Connection state per organization',
        description:
          "The state of each organization's Salesforce connection (with METRICS_ORG_LABELS=false: how many organizations are in each state). Good: connected. Bad: needs_reauth (an admin must connect again; writes and the change stream wait), package_missing (the InitLive fields are missing on Contact), disconnected.",
        queries: [
          query(`max by (org, state) (${m.connectionState}${sel()}) > 0`, '{{org}}: {{state}}'),
        ],
      }),
      timeseries({
        title: 'Changes per second, each way',
        description:
          'Records read from each system and written to each system. Bad: reads without writes on the other side for minutes (a paused or failing sink), or both flat at zero while people are editing (a source is down).',
        unit: 'reqps',
        queries: [
          query(
            `sum by (org, source) (${rate(m.recordsRead, sel())})`,
            '{{org}} read from {{source}}',
          ),
          query(
            `sum by (org, sink) (${rate(m.recordsWritten, sel())})`,
            '{{org}} written to {{sink}}',
          ),
        ],
      }),
      timeseries({
        title: 'Write latency p50 / p99',
        description:
          "From the reconciler's decision to the other system's acknowledgement of the write. Good: p99 under 1 s for steady traffic, under 10 s for bursts that go by Bulk API. Bad: p99 over 10 s for long (SyncLatencyHigh).",
        unit: 's',
        queries: [0.5, 0.99].map((q) =>
          query(
            `histogram_quantile(${q}, sum by (le, org, from) (${rate(`${m.latency}_bucket`, sel())}))`,
            `{{org}} from {{from}} p${q * 100}`,
          ),
        ),
      }),
      timeseries({
        title: 'Consumer lag',
        description:
          'Records waiting on each topic for its consumer group. Good: back at zero within minutes, even after a full sync. Bad: a lag that stays or grows (SyncConsumerLagHigh).',
        unit: 'short',
        queries: [
          query(`max by (group, topic) (${m.consumerLag}${inst()})`, '{{group}} on {{topic}}'),
        ],
      }),
      timeseries({
        title: 'Oldest unapplied change',
        description:
          'How long the oldest change a stage holds (taken off a change or write topic, not yet finished) has waited, per topic. Nothing waiting shows no value. Bad: minutes and growing (a paused sink, a batch failing again and again; SyncChangesStuck at 15 minutes).',
        unit: 's',
        queries: [
          query(
            `time() - min by (org, topic) (${m.oldestUnapplied}${sel()})`,
            '{{org}} on {{topic}}',
          ),
        ],
      }),
      timeseries({
        title: 'Dead-letter backlog',
        description:
          'Records waiting in the dead letters (could not be written) until someone retries or dismisses them. Good: zero. Bad: growing (SyncDeadLettersGrowing); list them with GET /api/orgs/<org>/salesforce/errors.',
        unit: 'short',
        queries: [query(`max by (org) (${m.deadLetterBacklog}${sel()})`, '{{org}}')],
      }),
      timeseries({
        title: 'Salesforce API budget used',
        description:
          "Share of the org's daily API allocation used in the rolling 24 hours, and the line above which the sink pauses (the reserve left to everyone else). Bad: near the line (SyncApiBudgetLow); the connector's writes then wait.",
        unit: 'percentunit',
        queries: [
          query(
            `max by (org) (${m.apiCallsUsed}${sel()}) / max by (org) (${m.apiCallsMax}${sel()})`,
            '{{org}} used',
          ),
          query(
            `1 - max by (org) (${m.apiCallsReserve}${sel()}) / max by (org) (${m.apiCallsMax}${sel()})`,
            '{{org}} sink pauses above',
          ),
        ],
      }),
    ],
  },
  {
    title: 'Runs',
    panels: [
      stat({
        title: 'Full syncs by outcome',
        description:
          'Full syncs (manual, scheduled, recovery) that ended in the time range, by outcome. Bad: any failed (SyncRunFailed); partially_succeeded means some records went to the dead letters.',
        unit: 'short',
        queries: [
          query(
            `sum by (org, outcome) (increase(${m.runs}${sel()}[$__range]))`,
            '{{org}} {{outcome}}',
          ),
        ],
      }),
      timeseries({
        title: 'Full sync duration p50 / p95 (last hour)',
        description:
          'How long full syncs took over the last hour. Good: about a minute for 50,000 records per side. Bad: much longer than usual (a slow system, the API budget, a lock waiting for a stuck run).',
        unit: 's',
        queries: [0.5, 0.95].map((q) =>
          query(
            `histogram_quantile(${q}, sum by (le, trigger) (increase(${m.runDuration}_bucket${inst()}[1h])))`,
            `{{trigger}} p${q * 100}`,
          ),
        ),
      }),
      stat({
        title: 'Since the last completed full sync',
        description:
          'Time since each organization last completed a full sync (succeeded or partially_succeeded). Bad: more than twice its schedule interval (SyncNoSuccessfulRun).',
        unit: 's',
        queries: [
          query(
            `time() - max by (org) (${m.runLastFinished}${sel(', outcome=~"succeeded|partially_succeeded"')})`,
            '{{org}}',
          ),
        ],
      }),
    ],
  },
  {
    title: 'Sinks',
    panels: [
      timeseries({
        title: 'Writes per second',
        description:
          'Records each sink wrote, and of them those that created a record. Bad: zero while changes are read (see the pauses and failures beside).',
        unit: 'reqps',
        queries: [
          query(`sum by (org, sink) (${rate(m.recordsWritten, sel())})`, '{{org}} to {{sink}}'),
          query(
            `sum by (org, sink) (${rate(m.recordsCreated, sel())})`,
            '{{org}} to {{sink}} (created)',
          ),
        ],
      }),
      timeseries({
        title: 'Failures by code',
        description:
          "Records a sink could not write, by error code (Salesforce's own code where there is one). Each went to the dead letters. Good: none. Bad: a code that keeps coming (a validation rule, a duplicate rule, a mapping).",
        unit: 'reqps',
        queries: [
          query(
            `sum by (org, sink, code) (${rate(m.recordsFailed, sel())})`,
            '{{org}} {{sink}} {{code}}',
          ),
        ],
      }),
      timeseries({
        title: 'Pauses by reason',
        description:
          "1 while a sink holds an organization's writes, by reason: api_limit, package_missing, needs_reauth. Bad: a pause that lasts (SyncSinkPaused at 15 minutes).",
        unit: 'short',
        queries: [
          query(
            `max by (org, sink, reason) (${m.sinkPaused}${sel()})`,
            '{{org}} {{sink}} {{reason}}',
          ),
        ],
      }),
    ],
  },
  {
    title: 'Sources',
    panels: [
      timeseries({
        title: 'Source position',
        description:
          "Each source's stored position: the InitLive feed sequence, the Salesforce CDC replay id. Good: moves when people edit. Bad: flat while edits are made (the source is not reading; SyncSourceDown).",
        unit: 'none',
        queries: [
          query(`max by (org, source) (${m.sourcePosition}${sel()})`, '{{org}} {{source}}'),
        ],
      }),
      timeseries({
        title: 'Source lag',
        description:
          'Changes read from each system and waiting for the reconciler on their topic. Bad: growing for minutes (the reconciler is stopped or failing).',
        unit: 'short',
        queries: [
          query(
            `max by (topic) (${m.consumerLag}${inst(', group=~".*[.]reconciler"')})`,
            '{{topic}}',
          ),
        ],
      }),
      stat({
        title: 'Source lease holder',
        description:
          "Which process reads each organization's sources (it holds the lease; the others stand by; with METRICS_ORG_LABELS=false, which processes read any). Bad: no holder (the sources are not read; SyncSourceDown), or holders moving often (processes restarting).",
        queries: [
          query(`max by (org, instance) (${m.sourceLease}${sel()}) > 0`, '{{org}}: {{instance}}'),
        ],
        textMode: common.BigValueTextMode.Name,
      }),
      timeseries({
        title: 'Sources per process',
        description:
          "How many organizations' sources each process reads (holds the lease of). Good: about the same in every process (within 20% of an even share, docs/scaling.md), moving only when a process joins or leaves. Bad: one process reading most of them, or a running process reading none for minutes.",
        unit: 'short',
        queries: [query(`sum by (instance) (${m.sourceLease}${sel()})`, '{{instance}}')],
      }),
      timeseries({
        title: 'Sources reading',
        description:
          '1 while some process reads the source without errors. Bad: 0 for minutes (retrying, reconnecting, or no process holds the lease; SyncSourceDown at 10 minutes).',
        unit: 'short',
        queries: [query(`max by (org, source) (${m.sourceRunning}${sel()})`, '{{org}} {{source}}')],
      }),
      stat({
        title: 'Full syncs asked for by the sources',
        description:
          'Times a source lost its position (too old to replay) or saw an overflow, and asked for a full sync, in the time range. Good: none. Bad: often (the connector was stopped longer than the replay window, or bursts overflow CDC).',
        unit: 'short',
        queries: [
          query(
            `sum by (org, source) (increase(${m.resyncRequests}${sel()}[$__range]))`,
            '{{org}} {{source}}',
          ),
        ],
      }),
    ],
  },
  {
    title: 'Process',
    panels: [
      timeseries({
        title: 'Memory',
        description:
          'Resident memory, V8 heap used and memory outside the heap per process. Good: flat between full syncs, under 300 MB at a full sync with the deployed heap limit (README, Memory). Bad: growing without end (a leak).',
        unit: 'bytes',
        queries: [
          query(`process_resident_memory_bytes${inst()}`, '{{instance}} resident'),
          query(`nodejs_heap_size_used_bytes${inst()}`, '{{instance}} heap used'),
          query(`nodejs_external_memory_bytes${inst()}`, '{{instance}} external'),
        ],
      }),
      timeseries({
        title: 'CPU',
        description:
          'CPU time used per second, per process (1 = one core). Bad: pinned at 1 for long (a Node process uses one core for its JavaScript).',
        unit: 'percentunit',
        queries: [query(rate('process_cpu_seconds_total', inst()), '{{instance}}')],
      }),
      timeseries({
        title: 'Event-loop lag',
        description:
          'How late timers and I/O callbacks run. Good: milliseconds. Bad: p99 over 100 ms (long synchronous work; everything, health checks included, waits behind it).',
        unit: 's',
        queries: [
          query(`nodejs_eventloop_lag_p50_seconds${inst()}`, '{{instance}} p50'),
          query(`nodejs_eventloop_lag_p99_seconds${inst()}`, '{{instance}} p99'),
        ],
      }),
      timeseries({
        title: 'Garbage collection',
        description:
          'Share of time spent in garbage collection, by kind. Bad: a large share (over 10%) with memory near the heap limit.',
        unit: 'percentunit',
        queries: [
          query(
            `sum by (instance, kind) (${rate('nodejs_gc_duration_seconds_sum', inst())})`,
            '{{instance}} {{kind}}',
          ),
        ],
      }),
    ],
  },
];

/** The dashboard, as Grafana's JSON model. */
export function buildDashboard(): Dashboard {
  const builder = new DashboardBuilder('InitLive ↔ Salesforce sync')
    .uid(DASHBOARD_UID)
    .description(
      'initlive-salesforce-sync: connections, flow, latency, runs, sinks, sources and processes. Generated by monitoring/grafana/dashboard.ts; alerts and runbook in monitoring/prometheus and docs/runbook.md.',
    )
    .tags(['initlive-salesforce-sync'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-3h', to: 'now' })
    .timezone('browser')
    .withVariable(
      new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'),
    )
    .withVariable(
      new QueryVariableBuilder('instance')
        .label('Instance')
        .datasource(datasource)
        .query(`label_values(${m.consumerLag}, instance)`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .withVariable(
      new QueryVariableBuilder('org')
        .label('Organization')
        .datasource(datasource)
        .query(`label_values(${m.connectionState}{instance=~"$instance"}, org)`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    );
  for (const row of rows) {
    builder.withRow(new RowBuilder(row.title));
    for (const panel of row.panels) builder.withPanel(panel);
  }
  return builder.build();
}

/** The JSON text written to initlive-salesforce-sync.json. */
export function dashboardJson(): string {
  return JSON.stringify(buildDashboard(), null, 2) + '\n';
}
