import { Registry } from 'prom-client';
import { MemoryPipelineStatus } from '../../src/admin/memory-pipeline-status';
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
