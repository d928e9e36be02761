import type { RunRecord } from './batch/run-types';
import type { Config } from './config';
import type { ManagedOrgDirectory } from './orgs/managed-org-directory';
import type { Sandboxes } from './sandbox/start-sandboxes';

const DEMO_SETTINGS_TEXT: Record<string, string> = {
  initlive_to_salesforce: 'InitLive -> Salesforce',
  salesforce_to_initlive: 'Salesforce -> InitLive',
  two_way: 'two-way',
};

export interface BannerInput {
  config: Config;
  url: string;
  token: string;
  mode: string;
  sandboxes: Sandboxes | null;
  directory: ManagedOrgDirectory;
  demoOrgId: string | null;
  initialRun: RunRecord | null;
  startupMs: number;
  sampleStaffId: string | null;
}

/**
 * What a person starting the connector needs to try it: URLs, the token, credentials, curls.
 * A token the operator chose (ADMIN_TOKEN) is never printed: stdout goes to log systems in a
 * deployment. Only the one generated for the embedded default is, since nobody else knows it.
 */
export function banner(b: BannerInput): string {
  const { config, url, sandboxes } = b;
  const chosen = config.ADMIN_TOKEN !== undefined;
  const token = chosen ? '$ADMIN_TOKEN' : b.token;
  const lines: string[] = [
    '',
    `InitLive <-> Salesforce sync is ready (${b.mode}, ${(b.startupMs / 1000).toFixed(1)} s)`,
    `  Console      ${url}/   (sign in with the admin token)`,
    `  Admin API    ${url}/api   (docs/http-api.md)`,
    chosen ? '  Admin token  ADMIN_TOKEN, as set (not printed)' : `  Admin token  ${token}`,
    `  Metrics      ${url}/metrics   health ${url}/healthz   ready ${url}/readyz`,
  ];
  if (sandboxes) {
    const sf = sandboxes.salesforce;
    const il = sandboxes.initlive;
    lines.push(
      `  Salesforce sandbox  ${sf.url}  (login and instance URL)`,
      `    client id ${config.SANDBOX_SALESFORCE_CLIENT_ID}, client secret ${config.SANDBOX_SALESFORCE_CLIENT_SECRET}, user ${config.SANDBOX_SALESFORCE_USERNAME}, password ${config.SANDBOX_SALESFORCE_PASSWORD}`,
      `  InitLive sandbox    ${il.baseUrl}/api/v1`,
      `    organization ${config.SANDBOX_INITLIVE_ORG_ID}, integration key ${config.SANDBOX_INITLIVE_API_KEY}`,
    );
  }
  if (b.demoOrgId) {
    const view = b.directory.view(b.demoOrgId);
    const s = view.settings;
    lines.push(
      `  Organization ${b.demoOrgId}: ${view.state}, ${DEMO_SETTINGS_TEXT[s.direction] ?? s.direction}, streaming ${s.streaming ? 'on' : 'off'}, schedule ${s.schedule.mode}, deletes ${s.deletePolicy}`,
    );
    if (b.initialRun) {
      const c = b.initialRun.counts;
      lines.push(
        `  Initial full sync ${b.initialRun.status}: read ${c.read.initlive} staff and ${c.read.salesforce} contacts; created ${c.created.salesforce} contacts, updated ${c.updated.salesforce}`,
      );
    }
    const api = `${url}/api/orgs/${b.demoOrgId}/salesforce`;
    const il = sandboxes ? `${sandboxes.initlive.baseUrl}/api/v1/organizations/${b.demoOrgId}` : '';
    const sf = sandboxes?.salesforce.url ?? '';
    const staff = b.sampleStaffId ?? '<staff id>';
    lines.push(
      '',
      'Try it (README "See a sync" has more):',
      chosen ? '  export TOKEN="$ADMIN_TOKEN"' : `  export TOKEN=${token}`,
      `  curl -s -H "Authorization: Bearer $TOKEN" ${api}`,
      `  curl -s -X PATCH -H "Authorization: Bearer ${config.SANDBOX_INITLIVE_API_KEY}" -H 'Content-Type: application/json' -d '{"phone":"+1 604 555 0199"}' ${il}/staff/${staff}`,
      `  SF=$(curl -s ${sf}/services/oauth2/token -d grant_type=password -d client_id=${config.SANDBOX_SALESFORCE_CLIENT_ID} -d client_secret=${config.SANDBOX_SALESFORCE_CLIENT_SECRET} -d username=${config.SANDBOX_SALESFORCE_USERNAME} -d password=${config.SANDBOX_SALESFORCE_PASSWORD} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`,
      `  curl -s -H "Authorization: Bearer $SF" "${sf}/services/data/v${config.SALESFORCE_API_VERSION}/query?q=SELECT+Id,Phone+FROM+Contact+WHERE+InitLive_Staff_Id__c='${staff}'"`,
    );
  } else {
    lines.push(
      '',
      'Connect an organization (README "Connecting a real Salesforce org"):',
      `  curl -s -X POST -H "Authorization: Bearer ${token}" ${url}/api/orgs/<orgId>/salesforce/connect`,
    );
  }
  lines.push('', 'Ctrl-C stops it.', '');
  return lines.join('\n') + '\n';
}
