import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startConnector } from '../../src/app';
import type { Connector } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { eventually } from '../fixtures/e2e';
import {
  DASHBOARD_FILE,
  PROMETHEUS_DIR,
  debianBinary,
  metricNamesIn,
  shippedRules,
} from '../fixtures/monitoring';
import { freePort } from '../harness/ports';

/**
 * Debian's real Prometheus, started with the shipped prometheus.yml and rules, scrapes a
 * running connector (the embedded default, in this process) while it syncs: changes both
 * ways, a manual full sync, a record Salesforce rejects, a sink paused by the API budget, a CDC
 * overflow. Then every query of the shipped Grafana dashboard is evaluated through
 * Prometheus's HTTP API, as Grafana would: each must parse and return data, or be listed
 * below as empty in this scenario with the reason. A query naming a metric the connector does
 * not export fails. The shipped rules must load and evaluate without error.
 *
 * Changes to the shipped prometheus.yml for the test, and only these: scrape and evaluate
 * every second instead of every 15 s (so the run takes a minute, not ten), and
 * targets/connector.json names this test's connector.
 *
 * All of it twice: with per-organization labels, and with METRICS_ORG_LABELS=false, where no
 * scraped series may carry an `org` label and the same queries and rules must still have data.
 */

jest.setTimeout(240_000);

const ORG = 'org_demo';
/** What Grafana's $__rate_interval would be at a 1 s scrape interval (4 scrapes), with margin. */
const RATE_INTERVAL = '10s';

/**
 * Dashboard panels allowed to return no data in this scenario, each with the reason. None
 * today: the scenario produces every kind of data a panel shows. A panel added for something
 * it does not produce must either get a step above that produces it or an entry here.
 */
const legitimatelyEmpty: Record<string, string> = {};

interface PromResponse<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
  errorType?: string;
}

interface Series {
  metric: Record<string, string>;
  values?: Array<[number, string]>;
  value?: [number, string];
}

describe.each([
  { orgLabels: true, mode: 'with org labels' },
  { orgLabels: false, mode: 'with METRICS_ORG_LABELS=false' },
])('the shipped monitoring against a real Prometheus, $mode', ({ orgLabels }) => {
  /** The organization's matcher, as a selector's first labels: none without org labels. */
  const org = orgLabels ? `org="${ORG}", ` : '';
  let connector: Connector | null = null;
  let prometheus: ChildProcess | null = null;
  let promUrl = '';
  let dir = '';
  let promLog = '';
  const started = Math.floor(Date.now() / 1000);

  async function api<T>(path: string, params: Record<string, string>): Promise<PromResponse<T>> {
    const res = await fetch(`${promUrl}/api/v1/${path}?${new URLSearchParams(params)}`);
    return (await res.json()) as PromResponse<T>;
  }

  async function instant(query: string): Promise<Series[]> {
    const r = await api<{ result: Series[] }>('query', { query });
    if (r.status !== 'success') throw new Error(`${query}: ${r.errorType}: ${r.error}`);
    return r.data.result;
  }

  /** Resolves once Prometheus has scraped a value matching `query` (an instant vector). */
  async function scraped(query: string, timeoutMs = 60_000): Promise<void> {
    await eventually(
      async () => expect((await instant(query)).length).toBeGreaterThan(0),
      timeoutMs,
    );
  }

  beforeAll(async () => {
    const prometheusBin = debianBinary('prometheus');
    const config = loadConfig({
      PORT: '0',
      SANDBOX_SALESFORCE_PORT: '0',
      SANDBOX_INITLIVE_PORT: '0',
      LOG_LEVEL: 'silent',
      METRICS_ORG_LABELS: String(orgLabels),
    });
    connector = await startConnector(config, createLogger({ level: 'silent' }), {
      print: () => undefined,
      pipeline: {
        initliveSource: { pollIntervalMs: 300 },
        salesforceSink: { lingerMs: 30, pauseCheckMs: 500 },
      },
    });

    dir = mkdtempSync(join(tmpdir(), 'ils-prometheus-'));
    cpSync(join(PROMETHEUS_DIR, 'rules'), join(dir, 'rules'), { recursive: true });
    const shipped = parse(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as {
      global: Record<string, string>;
    };
    shipped.global.scrape_interval = '1s';
    shipped.global.evaluation_interval = '1s';
    writeFileSync(join(dir, 'prometheus.yml'), stringify(shipped));
    cpSync(join(PROMETHEUS_DIR, 'targets'), join(dir, 'targets'), { recursive: true });
    writeFileSync(
      join(dir, 'targets', 'connector.json'),
      JSON.stringify([{ targets: [new URL(connector.url).host], labels: {} }]),
    );

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      prometheusBin,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (b: Buffer) => (promLog += b.toString()));
    prometheus.stderr!.on('data', (b: Buffer) => (promLog += b.toString()));
    await eventually(async () => {
      expect(prometheus!.exitCode).toBeNull();
      const ready = await fetch(`${promUrl}/-/ready`).catch(() => null);
      expect(ready?.status).toBe(200);
    }, 60_000).catch((err: unknown) => {
      throw new Error(`prometheus did not start: ${String(err)}\n${promLog}`);
    });
    await scraped('up{job="initlive-salesforce-sync"} == 1');
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await connector?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every dashboard query returns data from the connector through Prometheus', async () => {
    const c = connector!;
    const il = c.sandboxes!.initlive.control;
    const sf = c.sandboxes!.salesforce.control;
    const token = { Authorization: `Bearer ${c.token}`, 'Content-Type': 'application/json' };

    // Both ways: two-way sync, then an edit on each side.
    const put = await fetch(`${c.url}/api/orgs/${ORG}/salesforce/settings`, {
      method: 'PUT',
      headers: token,
      body: JSON.stringify({ direction: 'two_way', defaultSystem: 'initlive' }),
    });
    expect(put.status).toBe(200);
    const staff = il.listStaff()[3]!;
    il.updateStaff(staff.id, { phone: '+1 604 555 0101' });
    await eventually(() => {
      const contact = sf.listContacts().find((x) => x.InitLive_Staff_Id__c === staff.id);
      expect(contact?.Phone).toBe('+1 604 555 0101');
    });
    const contact = sf.listContacts().find((x) => x.InitLive_Staff_Id__c === staff.id)!;
    // The Salesforce source, restarted with the new settings, replays from its stored position.
    sf.updateContact(String(contact.Id), { MobilePhone: '+1 778 555 0102' });
    await eventually(() => expect(il.getStaff(staff.id).mobilePhone).toBe('+1 778 555 0102'));

    // A record the reconciler knows Salesforce would refuse (FirstName holds 40 characters;
    // InitLive takes 100), and one InitLive refuses (a phone without digits): dead letters, and
    // a failure of the InitLive sink.
    il.createStaff({
      firstName: 'X'.repeat(60),
      lastName: 'Toolong',
      email: 'long.name@example.org',
    });
    sf.updateContact(String(contact.Id), { MobilePhone: 'call me' });
    await scraped(`initlive_sync_records_failed_total{${org}sink="initlive"} > 0`);
    await scraped(`initlive_sync_dead_letter_backlog_records{${org}job!=""} > 1`);

    // A manual full sync.
    const sync = await fetch(`${c.url}/api/orgs/${ORG}/salesforce/sync`, {
      method: 'POST',
      headers: token,
    });
    expect(sync.status).toBe(202);
    await scraped(`sum(initlive_sync_runs_total{${org}trigger="manual"}) > 1`);

    // The API budget runs out: the Salesforce sink pauses, its write waits, then resumes.
    sf.exhaustApiLimit();
    il.updateStaff(staff.id, { phone: '+1 604 555 0103' });
    await scraped(`initlive_sync_sink_paused_state{${org}reason="api_limit"} == 1`);
    await scraped(`initlive_sync_oldest_unapplied_change_timestamp_seconds{${org}job!=""}`);
    sf.resetApiUsage();
    await eventually(() => {
      const after = sf.listContacts().find((x) => x.InitLive_Staff_Id__c === staff.id);
      expect(after?.Phone).toBe('+1 604 555 0103');
    }, 60_000);

    // A CDC overflow: the Salesforce source asks for a full sync.
    sf.emitOverflow();
    await scraped(`initlive_sync_resync_requests_total{${org}source="salesforce"} > 0`);

    // Every metric name Prometheus scraped from the connector during the run.
    const end = Math.floor(Date.now() / 1000);
    const names = await api<string[]>('label/__name__/values', {
      'match[]': '{job="initlive-salesforce-sync"}',
      start: String(started),
      end: String(end),
    });
    expect(names.status).toBe('success');
    const scrapedNames = new Set(names.data);
    expect(scrapedNames.has('initlive_sync_records_written_total')).toBe(true);
    // Per-organization series with the labels; none at all without them.
    const labelled = await api<string[]>('label/org/values', {
      'match[]': '{job="initlive-salesforce-sync"}',
      start: String(started),
      end: String(end),
    });
    expect(labelled.data).toEqual(orgLabels ? expect.arrayContaining([ORG]) : []);

    const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
      panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
    };
    // Grafana asks for the range from the start of the run to now; each query is asked until it
    // returns a number (a rate needs two scrapes after the change it shows), for at most 30 s.
    const outcomes: Array<{ panel: string; expr: string; problem: string | null }> = [];
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      for (const target of panel.targets ?? []) {
        const unknown = metricNamesIn(target.expr).filter((n) => !scrapedNames.has(n));
        let problem: string | null = null;
        let expr = target.expr;
        if (unknown.length > 0) {
          problem = `names metrics the connector does not export: ${unknown.join(', ')}`;
        } else {
          let queryError: string | null = null;
          problem = await eventually(async () => {
            const now = Math.floor(Date.now() / 1000);
            expr = target.expr
              .replaceAll('$org', '.*')
              .replaceAll('$instance', '.*')
              .replaceAll('$__rate_interval', RATE_INTERVAL)
              .replaceAll('$__range', `${now - started}s`);
            const r = await api<{ result: Series[] }>('query_range', {
              query: expr,
              start: String(started),
              end: String(now),
              step: '1',
            });
            if (r.status !== 'success') {
              queryError = `${r.errorType}: ${r.error}`;
              return;
            }
            const numbers = r.data.result.flatMap((s) => (s.values ?? []).map((v) => Number(v[1])));
            expect(numbers.some((n) => Number.isFinite(n))).toBe(true);
          }, 30_000).then(
            () => queryError,
            () => (legitimatelyEmpty[panel.title] ? null : 'returned no data'),
          );
        }
        outcomes.push({ panel: panel.title, expr, problem });
      }
    }
    expect(outcomes.length).toBeGreaterThan(20);
    expect(outcomes.filter((o) => o.problem !== null)).toEqual([]);

    // The check would catch a name the connector does not export.
    expect(
      metricNamesIn('sum(rate(initlive_sync_no_such_total[1m]))').filter(
        (n) => !scrapedNames.has(n),
      ),
    ).toEqual(['initlive_sync_no_such_total']);
  });

  test('the shipped rules load and evaluate without error, recording rules with data', async () => {
    const r = await api<{
      groups: Array<{
        rules: Array<{ name: string; type: string; health: string; lastError?: string }>;
      }>;
    }>('rules', {});
    expect(r.status).toBe('success');
    const loaded = r.data.groups.flatMap((g) => g.rules);
    expect(loaded.map((x) => x.name).sort()).toEqual(
      shippedRules()
        .map((x) => x.record ?? x.alert!)
        .sort(),
    );
    expect(loaded.filter((x) => x.health !== 'ok')).toEqual([]);
    // Recording rules fed by what this scenario produced.
    for (const name of [
      'org:initlive_sync_dead_letter_backlog_records:max',
      'group_topic:initlive_sync_consumer_lag_records:max',
      'org_from_le:initlive_sync_latency_seconds_bucket:rate10m',
      'org:initlive_sync_run_last_success_timestamp_seconds:max',
      'org:initlive_sync_success_expected_since_timestamp_seconds:max',
    ]) {
      expect({ name, series: (await instant(name)).length > 0 }).toEqual({ name, series: true });
    }
  });
});
