import type { CheckStatus, ReadinessReport } from './readiness-checks';

/**
 * `npm run doctor -- <orgId>`: the readiness check printed for a terminal. It asks a running
 * connector's admin API (GET /api/orgs/:orgId/salesforce/checks), so it prints exactly what the
 * endpoint answers.
 */

const LABEL: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** The report as text: one line per check, its fix indented below it. */
export function formatReadinessReport(report: ReadinessReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = [`Readiness of ${report.orgId} (${report.checkedAt}): ${LABEL[report.status]}`];
  for (const c of report.checks) {
    lines.push(`  ${LABEL[c.status]}  ${c.name.padEnd(width)}  ${c.message}`);
    if (c.fix) lines.push(`        ${' '.repeat(width)}  fix: ${c.fix}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface DoctorOptions {
  /** The connector's admin API, e.g. http://127.0.0.1:8080. */
  url: string;
  token: string;
  orgId: string;
  print: (text: string) => void;
}

/**
 * Fetches and prints the report; resolves with the exit code: 0 when every check passes or
 * warns, 1 when one fails, 2 when the connector could not be asked.
 */
export async function runDoctor(options: DoctorOptions): Promise<number> {
  const target = `${options.url.replace(/\/+$/, '')}/api/orgs/${encodeURIComponent(options.orgId)}/salesforce/checks?fresh=true`;
  let res: Response;
  try {
    res = await fetch(target, { headers: { Authorization: `Bearer ${options.token}` } });
  } catch (err) {
    options.print(
      `Could not reach the connector at ${options.url} (${err instanceof Error ? err.message : String(err)}); set CONNECTOR_URL.\n`,
    );
    return 2;
  }
  if (!res.ok) {
    options.print(`The connector answered ${res.status}: ${await res.text()}\n`);
    return 2;
  }
  const report = (await res.json()) as ReadinessReport;
  options.print(formatReadinessReport(report));
  return report.status === 'fail' ? 1 : 0;
}
