/**
 * `npm run doctor -- <orgId>`: prints the readiness check of one organization, as
 * GET /api/orgs/:orgId/salesforce/checks answers it, from a running connector.
 * CONNECTOR_URL (default http://127.0.0.1:$PORT, PORT default 8080) and ADMIN_TOKEN say where.
 * Exit code 0: every check passes or warns; 1: one fails; 2: the connector could not be asked.
 */
import { runDoctor } from '../src/admin/doctor';

async function main(): Promise<number> {
  const orgId = process.argv[2];
  const token = process.env.ADMIN_TOKEN;
  if (!orgId || !token) {
    process.stderr.write(
      'usage: ADMIN_TOKEN=<token> [CONNECTOR_URL=http://127.0.0.1:8080] npm run doctor -- <orgId>\n',
    );
    return 2;
  }
  const url = process.env.CONNECTOR_URL ?? `http://127.0.0.1:${process.env.PORT ?? '8080'}`;
  return runDoctor({ url, token, orgId, print: (text) => process.stdout.write(text) });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
