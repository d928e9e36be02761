import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricNames } from '../../src/metrics';
import { buildDashboard, dashboardJson } from '../../monitoring/grafana/dashboard';
import {
  DASHBOARD_FILE,
  ROOT,
  exportedSeriesNames,
  metricNamesIn,
  shippedRules,
} from '../fixtures/monitoring';

/**
 * The Grafana dashboard is built in code (monitoring/grafana/dashboard.ts, Grafana Foundation
 * SDK) and checked in as the JSON Grafana provisions. These tests hold the two together and
 * check what the issue asks of the dashboard; test/integration/monitoring-prometheus.test.ts
 * runs every query against a real Prometheus.
 */

interface JsonPanel {
  type: string;
  title: string;
  description?: string;
  targets?: Array<{ expr?: string; datasource?: { uid?: string } }>;
  datasource?: { type?: string; uid?: string };
}

const dashboard = buildDashboard() as unknown as {
  uid: string;
  panels: JsonPanel[];
  templating: { list: Array<{ name: string; type: string; includeAll?: boolean }> };
};
const panels = dashboard.panels.filter((p) => p.type !== 'row');

describe('Grafana dashboard', () => {
  test('the checked-in JSON is what the code builds (run `npm run dashboards` after a change)', () => {
    const checkedIn = readFileSync(DASHBOARD_FILE, 'utf8');
    expect(checkedIn).toBe(dashboardJson());
  });

  test('has the datasource, org and instance variables and the five rows', () => {
    const vars = dashboard.templating.list;
    expect(vars.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['instance', 'query'],
      ['org', 'query'],
    ]);
    expect(dashboard.panels.filter((p) => p.type === 'row').map((r) => r.title)).toEqual([
      'Overview',
      'Runs',
      'Sinks',
      'Sources',
      'Process',
    ]);
  });

  test('every panel queries the chosen data source, filters on the variables and says what bad looks like', () => {
    for (const p of panels) {
      expect({ title: p.title, ds: p.datasource?.uid }).toEqual({
        title: p.title,
        ds: '${datasource}',
      });
      expect({ title: p.title, bad: /\bBad\b/.test(p.description ?? '') }).toEqual({
        title: p.title,
        bad: true,
      });
      expect(p.targets?.length).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        expect({ title: p.title, filtered: /instance=~"\$instance"/.test(t.expr ?? '') }).toEqual({
          title: p.title,
          filtered: true,
        });
      }
    }
  });

  test('every metric a query names is one the connector exports', async () => {
    const exported = await exportedSeriesNames();
    const named = panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNamesIn(t.expr!)));
    expect(named.length).toBeGreaterThan(panels.length);
    expect(named.filter((n) => !exported.has(n))).toEqual([]);
  });

  test("the README's Monitoring section lists every metric, panel and alert", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Monitoring'));
    const missing = [
      ...Object.values(metricNames),
      ...panels.map((p) => p.title),
      ...shippedRules().flatMap((r) => (r.alert ? [r.alert] : [])),
    ].filter((name) => !section.includes(name));
    expect(missing).toEqual([]);
  });
});
