import { Registry } from 'prom-client';
import { NO_ORG } from '../../src/admin/dead-letter-store';
import { MemoryPipelineStatus } from '../../src/admin/memory-pipeline-status';
import type { RunRecord } from '../../src/admin/ports';
import { emptyCounts } from '../../src/batch/run-types';
import type { Schedule } from '../../src/core/settings';
import { createMetrics, metricNames } from '../../src/metrics';
import type { ConnectionState } from '../../src/orgs/connection-store';
import { SyncEvents } from '../../src/pipeline/events';

async function valueOf(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const data = await metric.get();
  const hit = data.values.find(
    (v) =>
      Object.entries(labels).every(
        ([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want,
      ) &&
      (!('metricName' in v) ||
        v.metricName === name ||
        v.metricName === `${name}_count` ||
        v.metricName === undefined),
  );
  return hit?.value;
}

describe('metrics', () => {
  let events: SyncEvents;
  let registry: Registry;
  let status: MemoryPipelineStatus;
  let states: Array<{ orgId: string; state: ConnectionState }>;

  beforeEach(() => {
    events = new SyncEvents();
    registry = new Registry();
    status = new MemoryPipelineStatus();
    states = [{ orgId: 'o1', state: 'connected' }];
  });

  test('every name follows initlive_sync_<thing>_<unit> and is exposed', async () => {
    createMetrics(events, { registry, status, connections: { states: () => states } });
    const text = await registry.metrics();
    for (const name of Object.values(metricNames)) {
      expect(name).toMatch(/^initlive_sync_[a-z_]+_(total|records|sequence|calls|seconds|state)$/);
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  test("prom-client's default process metrics are exposed under their standard names", async () => {
    createMetrics(events, { registry, status, connections: { states: () => states } });
    const text = await registry.metrics();
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
    // Gauges named like counters are left out (promtool flags them); the per-type ones stay.
    expect(text).not.toMatch(/^# TYPE \w+_total gauge/m);
    expect(text).toContain('# TYPE nodejs_active_handles gauge');
  });

  test('store-backed gauges: runs, dead letters, schedule, connection, sources, pending changes', async () => {
    const run = (status: RunRecord['status'], endedAt: number | null): RunRecord => ({
      runId: `r${endedAt}`,
      orgId: 'o1',
      status,
      trigger: 'scheduled',
      reason: null,
      startedAt: endedAt === null ? null : endedAt - 1_000,
      endedAt,
      progress: { phase: 'done', read: { initlive: 0, salesforce: 0 }, done: 0, total: null },
      counts: emptyCounts(),
    });
    let history: RunRecord[] = [
      run('running', null),
      run('failed', 9_000_000),
      run('succeeded', 8_000_000),
      run('succeeded', 5_000_000),
      run('partially_succeeded', 7_000_000),
    ];
    const backlog: Record<string, number> = { o1: 3, [NO_ORG]: 1 };
    let failStore = false;
    let schedule: Schedule = { mode: 'interval', everyMinutes: 60 };
    let streaming = true;
    states = [
      { orgId: 'o1', state: 'connected' },
      { orgId: 'o2', state: 'disconnected' },
    ];
    status.setSource('o1', {
      source: 'initlive',
      state: 'retrying',
      position: null,
      lastEventAt: null,
      lastError: null,
      lag: 0,
    });
    status.setSource('o1', {
      source: 'salesforce',
      state: 'streaming',
      position: null,
      lastEventAt: null,
      lastError: null,
      lag: 0,
    });
    const pending = [
      { orgId: 'o1', topic: 'sf.writes', timestamp: 4_000_000 },
      { orgId: 'stranger', topic: 'sf.writes', timestamp: 1 },
    ];
    createMetrics(events, {
      registry,
      status,
      connections: {
        states: () => states,
        view: (orgId) => ({
          settings: { schedule, streaming },
          connectedAt: orgId === 'o1' ? 2_000_000 : null,
        }),
      },
      runs: { list: async (orgId) => (orgId === 'o1' ? history : []) },
      deadLetters: {
        list: async (orgId) => {
          if (failStore) throw new Error('redis down');
          return { total: backlog[orgId] ?? 0 };
        },
      },
      pendingChanges: { oldest: () => pending },
    });
    events.emit('salesforce.api-usage', { orgId: 'o1', used: 10, max: 1_000, reserve: 50 });

    const text = await registry.metrics();
    const line = (name: string, labels: string, value: string): string =>
      `${name}{${labels}} ${value}\n`;
    expect(text).toContain(line(metricNames.runLastFinished, 'org="o1",outcome="failed"', '9000'));
    expect(text).toContain(
      line(metricNames.runLastFinished, 'org="o1",outcome="succeeded"', '8000'),
    );
    expect(text).toContain(
      line(metricNames.runLastFinished, 'org="o1",outcome="partially_succeeded"', '7000'),
    );
    expect(text).toContain(line(metricNames.deadLetterBacklog, 'org="o1"', '3'));
    expect(text).toContain(line(metricNames.deadLetterBacklog, 'org="unknown"', '1'));
    expect(text).toContain(line(metricNames.deadLetterBacklog, 'org="o2"', '0'));
    expect(text).toContain(line(metricNames.scheduleInterval, 'org="o1"', '3600'));
    expect(text).not.toContain(`${metricNames.scheduleInterval}{org="o2"}`);
    expect(text).toContain(line(metricNames.connectedSince, 'org="o1"', '2000'));
    expect(text).toContain(line(metricNames.sourceRunning, 'org="o1",source="initlive"', '0'));
    expect(text).toContain(line(metricNames.sourceRunning, 'org="o1",source="salesforce"', '1'));
    expect(text).not.toContain(`${metricNames.sourceRunning}{org="o2"`);
    expect(text).toContain(line(metricNames.oldestUnapplied, 'org="o1",topic="sf.writes"', '4000'));
    expect(text).not.toContain('stranger');
    expect(text).toContain(line(metricNames.apiCallsReserve, 'org="o1"', '50'));
    expect(text).toContain(line(metricNames.resyncRequests, 'source="salesforce",org="o1"', '0'));
    expect(text).toContain(
      `${metricNames.runDuration}_count{trigger="recovery",outcome="failed"} 0\n`,
    );
    // Run counters of a known organization start at 0 for every trigger and outcome.
    expect(text).toContain(
      line(metricNames.runs, 'org="o1",trigger="scheduled",outcome="failed"', '0'),
    );

    // The success stays known once it has left the runs read at each scrape; a store that
    // does not answer leaves the last backlog; a manual schedule and streaming off drop theirs.
    history = [run('failed', 9_500_000)];
    failStore = true;
    schedule = { mode: 'manual' };
    streaming = false;
    const later = await registry.metrics();
    expect(later).toContain(line(metricNames.runLastFinished, 'org="o1",outcome="failed"', '9500'));
    expect(later).toContain(
      line(metricNames.runLastFinished, 'org="o1",outcome="succeeded"', '8000'),
    );
    expect(later).toContain(line(metricNames.deadLetterBacklog, 'org="o1"', '3'));
    expect(later).not.toContain(`${metricNames.scheduleInterval}{`);
    expect(later).not.toContain(`${metricNames.sourceRunning}{`);

    schedule = { mode: 'daily', at: '02:00', timezone: 'UTC' };
    expect(await registry.metrics()).toContain(
      line(metricNames.scheduleInterval, 'org="o1"', '86400'),
    );
  });

  test('with org labels off no series names an organization, and each gauge folds them', async () => {
    const run = (orgId: string, status: RunRecord['status'], endedAt: number): RunRecord => ({
      runId: `r${orgId}${endedAt}`,
      orgId,
      status,
      trigger: 'scheduled',
      reason: null,
      startedAt: endedAt - 1_000,
      endedAt,
      progress: { phase: 'done', read: { initlive: 0, salesforce: 0 }, done: 0, total: null },
      counts: emptyCounts(),
    });
    states = [
      { orgId: 'o1', state: 'connected' },
      { orgId: 'o2', state: 'connected' },
      { orgId: 'o3', state: 'needs_reauth' },
    ];
    for (const orgId of ['o1', 'o2']) {
      status.setSource(orgId, {
        source: 'salesforce',
        state: 'streaming',
        position: orgId === 'o1' ? '100' : '20',
        lastEventAt: null,
        lastError: null,
        lag: 0,
      });
    }
    const metrics = createMetrics(events, {
      registry,
      status,
      orgLabels: false,
      connections: {
        states: () => states,
        view: (orgId) => ({
          settings: {
            schedule:
              orgId === 'o1'
                ? { mode: 'interval', everyMinutes: 60 }
                : { mode: 'daily', at: '02:00', timezone: 'UTC' },
            streaming: true,
          },
          connectedAt: orgId === 'o1' ? 2_000_000 : 3_000_000,
        }),
      },
      runs: {
        list: async (orgId) =>
          orgId === 'o1' ? [run('o1', 'succeeded', 8_000_000)] : [run(orgId, 'failed', 6_000_000)],
      },
      deadLetters: { list: async (orgId) => ({ total: orgId === NO_ORG ? 1 : 2 }) },
      pendingChanges: {
        oldest: () => [
          { orgId: 'o1', topic: 'sf.writes', timestamp: 4_000_000 },
          { orgId: 'o2', topic: 'sf.writes', timestamp: 3_000_000 },
        ],
      },
      sourceLeases: {
        states: () => [
          { orgId: 'o1', state: 'held' },
          { orgId: 'o2', state: 'held' },
          { orgId: 'o3', state: 'standby' },
        ],
      },
    });
    for (const orgId of ['o1', 'o2', 'o3']) {
      events.emit('source.records', { source: 'initlive', orgId, count: 2 });
      events.emit('sync.latency', { orgId, from: 'initlive', ms: 300 });
      events.emit('salesforce.api-usage', { orgId, used: 10, max: 1_000, reserve: 50 });
      metrics.observeRun({ orgId, trigger: 'manual', outcome: 'succeeded', durationMs: 1_000 });
    }
    events.emit('sink.paused', {
      sink: 'salesforce',
      orgId: 'o1',
      reason: 'api_limit',
      untilMs: null,
    });
    events.emit('sink.paused', {
      sink: 'salesforce',
      orgId: 'o2',
      reason: 'api_limit',
      untilMs: null,
    });
    events.emit('sink.resumed', { sink: 'salesforce', orgId: 'o2' });
    events.emit('mapping.problems', {
      orgId: 'o3',
      problems: [{ salesforceField: 'Shirt__c', reason: 'missing' }],
    });

    const text = await registry.metrics();
    expect(text).not.toMatch(/[{,]org="/);
    const line = (name: string, labels: string, value: string): string =>
      `${name}${labels ? `{${labels}}` : ''} ${value}\n`;
    const m = metricNames;
    // Counters and histograms: every organization together.
    expect(text).toContain(line(m.recordsRead, 'source="initlive"', '6'));
    expect(text).toContain(line(`${m.latency}_count`, 'from="initlive"', '3'));
    expect(text).toContain(line(m.runs, 'trigger="manual",outcome="succeeded"', '3'));
    expect(text).toContain(line(m.runs, 'trigger="scheduled",outcome="failed"', '0'));
    // States: how many organizations are in each.
    expect(text).toContain(line(m.connectionState, 'state="connected"', '2'));
    expect(text).toContain(line(m.connectionState, 'state="needs_reauth"', '1'));
    expect(text).toContain(line(m.connectionState, 'state="package_missing"', '0'));
    expect(text).toContain(line(m.sinkPaused, 'sink="salesforce",reason="api_limit"', '1'));
    expect(text).toContain(line(m.mappingProblems, 'field="Shirt__c",reason="missing"', '1'));
    expect(text).toContain(line(m.sourceLease, '', '2'));
    expect(text).toContain(line(m.sourceRunning, 'source="salesforce"', '2'));
    // Amounts: summed.
    expect(text).toContain(line(m.apiCallsUsed, '', '30'));
    expect(text).toContain(line(m.apiCallsRemaining, '', '2970'));
    expect(text).toContain(line(m.apiCallsReserve, '', '150'));
    expect(text).toContain(line(m.deadLetterBacklog, '', '7'));
    expect(text).toContain(line(m.sourcePosition, 'source="salesforce"', '120'));
    // Times: the latest, or for what waits the oldest.
    expect(text).toContain(line(m.runLastFinished, 'outcome="succeeded"', '8000'));
    expect(text).toContain(line(m.runLastFinished, 'outcome="failed"', '6000'));
    expect(text).toContain(line(m.connectedSince, '', '3000'));
    expect(text).toContain(line(m.scheduleInterval, '', '86400'));
    expect(text).toContain(line(m.oldestUnapplied, 'topic="sf.writes"', '3000'));
    metrics.close();
  });

  test('events move counters, gauges and histograms', async () => {
    const metrics = createMetrics(events, {
      registry,
      status,
      connections: { states: () => states },
    });
    events.emit('source.records', { source: 'initlive', orgId: 'o1', count: 5 });
    events.emit('source.records', { source: 'initlive', orgId: 'o1', count: 2 });
    events.emit('sink.records', { sink: 'salesforce', orgId: 'o1', count: 4, created: 1 });
    events.emit('sink.failed', {
      sink: 'salesforce',
      orgId: 'o1',
      count: 1,
      code: 'SALESFORCE_REJECTED',
    });
    events.emit('reconcile.outcome', {
      orgId: 'o1',
      side: 'salesforce',
      outcome: 'echo',
      runId: null,
      writes: [],
    });
    events.emit('reconcile.outcome', {
      orgId: 'o1',
      side: 'initlive',
      outcome: 'applied',
      runId: null,
      writes: ['salesforce'],
    });
    events.emit('reconcile.conflict', {
      orgId: 'o1',
      pairId: 'p',
      field: 'email',
      winner: 'salesforce',
      initlive: 'a',
      salesforce: 'b',
    });
    events.emit('dead-letter', { orgId: 'o1', code: 'SALESFORCE_REJECTED', topic: 't' });
    events.emit('salesforce.api-usage', { orgId: 'o1', used: 100, max: 15_000 });
    events.emit('sync.latency', { orgId: 'o1', from: 'initlive', ms: 1500 });
    events.emit('source.position', { source: 'salesforce', orgId: 'o1', position: '777' });
    events.emit('sink.paused', {
      sink: 'salesforce',
      orgId: 'o1',
      reason: 'api_limit',
      untilMs: null,
    });
    metrics.observeRun({ orgId: 'o1', trigger: 'manual', outcome: 'succeeded', durationMs: 2_500 });
    status.setConsumerLag([{ group: 'g.reconciler', topic: 'staff', lag: 9 }]);
    status.setSource('o1', {
      source: 'initlive',
      state: 'running',
      position: '42',
      lastEventAt: 1,
      lastError: null,
      lag: 0,
    });

    expect(
      await valueOf(registry, metricNames.recordsRead, { source: 'initlive', org: 'o1' }),
    ).toBe(7);
    expect(
      await valueOf(registry, metricNames.recordsWritten, { sink: 'salesforce', org: 'o1' }),
    ).toBe(4);
    expect(
      await valueOf(registry, metricNames.recordsCreated, { sink: 'salesforce', org: 'o1' }),
    ).toBe(1);
    expect(
      await valueOf(registry, metricNames.recordsFailed, { code: 'SALESFORCE_REJECTED' }),
    ).toBe(1);
    expect(
      await valueOf(registry, metricNames.echoesSuppressed, { org: 'o1', side: 'salesforce' }),
    ).toBe(1);
    expect(await valueOf(registry, metricNames.conflicts, { winner: 'salesforce' })).toBe(1);
    expect(await valueOf(registry, metricNames.deadLetters, { code: 'SALESFORCE_REJECTED' })).toBe(
      1,
    );
    expect(await valueOf(registry, metricNames.apiCallsUsed, { org: 'o1' })).toBe(100);
    expect(await valueOf(registry, metricNames.apiCallsRemaining, { org: 'o1' })).toBe(14_900);
    expect(await valueOf(registry, metricNames.sinkPaused, { reason: 'api_limit' })).toBe(1);
    expect(
      await valueOf(registry, metricNames.consumerLag, { group: 'g.reconciler', topic: 'staff' }),
    ).toBe(9);
    expect(
      await valueOf(registry, metricNames.sourcePosition, { source: 'salesforce', org: 'o1' }),
    ).toBe(777);
    expect(
      await valueOf(registry, metricNames.sourcePosition, { source: 'initlive', org: 'o1' }),
    ).toBe(42);
    expect(
      await valueOf(registry, metricNames.runs, { trigger: 'manual', outcome: 'succeeded' }),
    ).toBe(1);

    const text = await registry.metrics();
    expect(text).toContain(
      `${metricNames.runDuration}_sum{trigger="manual",outcome="succeeded"} 2.5`,
    );
    expect(text).toContain(`${metricNames.latency}_count{org="o1",from="initlive"} 1`);
    expect(text).toContain(`${metricNames.latency}_bucket{le="2",org="o1",from="initlive"} 1`);
    expect(text).toContain(`${metricNames.connectionState}{org="o1",state="connected"} 1`);
    expect(text).toContain(`${metricNames.connectionState}{org="o1",state="needs_reauth"} 0`);

    states = [{ orgId: 'o1', state: 'needs_reauth' }];
    events.emit('sink.resumed', { sink: 'salesforce', orgId: 'o1' });
    const after = await registry.metrics();
    expect(after).toContain(`${metricNames.connectionState}{org="o1",state="needs_reauth"} 1`);
    expect(await valueOf(registry, metricNames.sinkPaused, { reason: 'api_limit' })).toBe(0);

    metrics.close();
    events.emit('source.records', { source: 'initlive', orgId: 'o1', count: 100 });
    expect(
      await valueOf(registry, metricNames.recordsRead, { source: 'initlive', org: 'o1' }),
    ).toBe(7);
  });
});
