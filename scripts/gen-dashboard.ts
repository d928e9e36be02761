import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dashboardJson } from '../monitoring/grafana/dashboard';

/**
 * Writes the Grafana dashboard built in monitoring/grafana/dashboard.ts to the JSON file
 * Grafana provisions. test/unit/grafana-dashboard.test.ts fails until this has been run after
 * a change to the code.
 */
const target = join(__dirname, '..', 'monitoring', 'grafana', 'initlive-salesforce-sync.json');
writeFileSync(target, dashboardJson());
process.stdout.write(`wrote ${target}\n`);
