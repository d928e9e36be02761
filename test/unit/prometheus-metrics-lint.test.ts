import { spawnSync } from 'node:child_process';
import { startConnector } from '../../src/app';
import type { Connector } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { debianBinary } from '../fixtures/monitoring';

/**
 * `promtool check metrics` (Debian's prometheus package) on the /metrics of a running
 * connector, the embedded default after its initial full sync: Prometheus's own lint of
 * names, units, suffixes and help texts prints nothing.
 */
describe('promtool check metrics on a live /metrics', () => {
  let connector: Connector | null = null;

  beforeAll(async () => {
    const config = loadConfig({
      PORT: '0',
      SANDBOX_SALESFORCE_PORT: '0',
      SANDBOX_INITLIVE_PORT: '0',
      LOG_LEVEL: 'silent',
    });
    connector = await startConnector(config, createLogger({ level: 'silent' }), {
      print: () => undefined,
    });
  });

  afterAll(async () => {
    await connector?.stop();
  });

  test('prints nothing', async () => {
    const promtool = debianBinary('promtool');
    const res = await fetch(`${connector!.url}/metrics`);
    const text = await res.text();
    // The scrape carries the connector's own families and the process ones.
    expect(text).toContain('# TYPE initlive_sync_run_last_finished_timestamp_seconds gauge');
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
    const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`).toBe('');
    expect(lint.status).toBe(0);
    // The lint does report what it should: a gauge named like a counter.
    const bad = spawnSync(promtool, ['check', 'metrics'], {
      input: '# HELP x_total a gauge\n# TYPE x_total gauge\nx_total 1\n',
      encoding: 'utf8',
    });
    expect(`${bad.stdout}${bad.stderr}`).toContain(
      'non-counter metrics should not have "_total" suffix',
    );
  });
});
