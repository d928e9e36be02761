import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  PROMETHEUS_DIR,
  RULES_FILE,
  debianBinary,
  exportedSeriesNames,
  metricNamesIn,
  readYaml,
  runbookAnchors,
  shippedRules,
} from '../fixtures/monitoring';

/**
 * The shipped Prometheus rules (monitoring/prometheus): promtool accepts them and the
 * configuration, and `promtool test rules` passes with every alert tested both firing and not
 * firing. promtool comes from Debian's prometheus package; without it these tests fail naming
 * it (they never skip).
 */

interface RuleTestFile {
  rule_files: string[];
  tests: Array<{
    name?: string;
    alert_rule_test?: Array<{ eval_time: string; alertname: string; exp_alerts?: unknown[] }>;
  }>;
}

const testsDir = join(PROMETHEUS_DIR, 'tests');
const testFiles = readdirSync(testsDir)
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => join(testsDir, f));

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync(debianBinary('promtool'), args, { cwd: PROMETHEUS_DIR, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('Prometheus rules', () => {
  const rules = shippedRules();
  const alerts = rules.filter((r) => r.alert !== undefined);

  test('promtool check rules and check config accept the shipped files', () => {
    const rulesCheck = promtool('check', 'rules', RULES_FILE);
    expect(rulesCheck.output).toContain('SUCCESS');
    expect(rulesCheck.status).toBe(0);
    const configCheck = promtool('check', 'config', 'prometheus.yml');
    expect(configCheck.output).toContain('is valid prometheus config file syntax');
    expect(configCheck.status).toBe(0);
  });

  test('promtool test rules passes', () => {
    expect(testFiles.length).toBeGreaterThan(0);
    const run = promtool('test', 'rules', ...testFiles);
    expect(run.output).toContain('SUCCESS');
    expect(run.output).not.toContain('FAILED');
    expect(run.status).toBe(0);
  });

  test('every alert is tested firing and not firing', () => {
    const evals = testFiles.flatMap((f) =>
      readYaml<RuleTestFile>(f).tests.flatMap((t) => t.alert_rule_test ?? []),
    );
    const missing: string[] = [];
    for (const { alert } of alerts) {
      const mine = evals.filter((e) => e.alertname === alert);
      if (!mine.some((e) => (e.exp_alerts ?? []).length > 0)) missing.push(`${alert}: firing`);
      if (!mine.some((e) => (e.exp_alerts ?? []).length === 0))
        missing.push(`${alert}: not firing`);
    }
    expect(missing).toEqual([]);
    // The alerts the monitoring issue asks for, at least.
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'SyncConnectionNeedsReauth',
        'SyncPackageMissing',
        'SyncSinkPaused',
        'SyncApiBudgetLow',
        'SyncDeadLettersGrowing',
        'SyncConsumerLagHigh',
        'SyncLatencyHigh',
        'SyncRunFailed',
        'SyncNoSuccessfulRun',
        'SyncSourceDown',
        'SyncTargetDown',
      ]),
    );
  });

  test('every alert has a summary, a description, a severity and a runbook section that exists', () => {
    const anchors = runbookAnchors();
    for (const a of alerts) {
      expect({ alert: a.alert, summary: a.annotations?.summary }).toEqual({
        alert: a.alert,
        summary: expect.stringMatching(/\S/),
      });
      expect((a.annotations?.description ?? '').length).toBeGreaterThan(40);
      expect(['critical', 'warning']).toContain(a.labels?.severity);
      const url = a.annotations?.runbook_url ?? '';
      expect({ alert: a.alert, url }).toEqual({
        alert: a.alert,
        url: `docs/runbook.md#${a.alert!.toLowerCase()}`,
      });
      expect({ alert: a.alert, section: anchors.has(a.alert!.toLowerCase()) }).toEqual({
        alert: a.alert,
        section: true,
      });
    }
  });

  test('every metric the rules select is one the connector exports (or a recording rule, or up)', async () => {
    const exported = await exportedSeriesNames();
    const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
    const unknown = rules
      .flatMap((r) => metricNamesIn(r.expr))
      .filter((n) => !exported.has(n) && !recorded.has(n) && n !== 'up');
    expect(unknown).toEqual([]);
    // The check itself sees names: a misspelt one would be reported.
    expect(metricNamesIn('max by (org) (initlive_sync_no_such_thing{a="b"}[5m]) > 2')).toEqual([
      'initlive_sync_no_such_thing',
    ]);
  });
});
