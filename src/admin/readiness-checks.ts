import type { Connection } from 'jsforce';
import { fieldSpecs, packageFields, type CanonicalField } from '../core/mapping';
import { checkMappedField, describedFields } from '../core/mapping-check';
import type { DescribedFields } from '../core/mapping-check';
import { toSyncError } from '../errors';
import { CUSTOM_ANSWER_MAX_LENGTH } from '../infra/initlive';
import { describeContact } from '../infra/salesforce/contact-describe';
import type { ContactAccess } from '../infra/salesforce/contact-describe';
import { toSalesforceError } from '../infra/salesforce/salesforce-errors';
import type { AdminContext } from './context';

/**
 * The readiness check of one organization (GET /api/orgs/:orgId/salesforce/checks, and
 * `npm run doctor -- <orgId>`): everything a real org needs for the sync, each answered pass,
 * warn or fail with the fix in one sentence. It asks the connected org itself (describe, the
 * Tooling API, /limits) and InitLive, so it costs a handful of API calls (see ReadinessReports
 * for how often).
 */

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  message: string;
  /** What to do about it, in one sentence; null when it passes. */
  fix: string | null;
}

export interface ReadinessReport {
  orgId: string;
  /** The worst of the checks. */
  status: CheckStatus;
  checkedAt: string;
  checks: CheckResult[];
}

export const PERMISSION_SET = 'InitLive_Sync_Integration';
const DEPLOY =
  'from salesforce/, sf project deploy start --source-dir force-app --target-org <alias>';

const pass = (name: string, message: string): CheckResult => ({
  name,
  status: 'pass',
  message,
  fix: null,
});
const result = (name: string, status: CheckStatus, message: string, fix: string): CheckResult => ({
  name,
  status,
  message,
  fix,
});

function reason(err: unknown): string {
  const e = toSalesforceError(err);
  const upstream = e.context.upstreamCode;
  return typeof upstream === 'string' ? `${upstream}: ${e.message}` : e.message;
}

async function apiVersion(conn: Connection, wanted: string): Promise<CheckResult> {
  const name = 'api_version';
  try {
    const versions = await conn.request<Array<{ version: string }>>('/services/data');
    const listed = versions.map((v) => v.version);
    if (listed.includes(wanted)) return pass(name, `the org serves API ${wanted}`);
    return result(
      name,
      'fail',
      `the org does not serve API ${wanted} (newest: ${listed[listed.length - 1] ?? 'none'})`,
      'Set SALESFORCE_API_VERSION to a version the org lists (GET /services/data).',
    );
  } catch (err) {
    return result(
      name,
      'fail',
      `could not list API versions: ${reason(err)}`,
      'Check that the instance URL answers and the connection is current.',
    );
  }
}

function packageFieldsCheck(fields: DescribedFields): CheckResult {
  const name = 'package_fields';
  const bad: string[] = [];
  for (const f of packageFields) {
    const canonical = (Object.keys(fieldSpecs) as CanonicalField[]).find(
      (k) => fieldSpecs[k].salesforceField === f,
    )!;
    const issues = checkMappedField(
      { field: canonical, salesforceField: f, direction: 'to_salesforce' },
      fields,
    ).filter((i) => i.reason === 'missing' || i.reason === 'type_mismatch');
    bad.push(...issues.map((i) => i.message));
    const d = fields.get(f.toLowerCase());
    const spec = fieldSpecs[canonical];
    if (d && spec.maxLength !== undefined && d.length > 0 && d.length < spec.maxLength) {
      bad.push(`${f} holds ${d.length} characters, the package's ${spec.maxLength}`);
    }
    if (d && canonical === 'initliveId' && !(d.externalId && d.unique)) {
      bad.push(`${f} must be an external id and unique (the connector upserts by it)`);
    }
  }
  if (bad.length === 0) {
    return pass(
      name,
      `${packageFields.join(', ')} are on Contact with the package's types; the staff id is a unique external id`,
    );
  }
  return result(
    name,
    'fail',
    bad.join('; '),
    `Deploy the package: ${DEPLOY} (docs/salesforce-setup.md).`,
  );
}

async function permissionSetCheck(
  conn: Connection,
  access: ContactAccess,
  userId: string | null,
): Promise<CheckResult> {
  const name = 'permission_set';
  const missing = (['queryable', 'createable', 'updateable'] as const).filter((k) => !access[k]);
  const assign = `Assign it: sf org assign permset --name ${PERMISSION_SET} --on-behalf-of <integration user> --target-org <alias>.`;
  if (missing.length > 0) {
    return result(
      name,
      'fail',
      `the connected user cannot ${missing.map((m) => ({ queryable: 'read', createable: 'create', updateable: 'edit' })[m]).join(', ')} Contacts`,
      `Deploy the package and assign the InitLive Sync Integration permission set to that user (${DEPLOY}).`,
    );
  }
  try {
    const ps = await conn.query<{ Id: string }>(
      `SELECT Id FROM PermissionSet WHERE Name = '${PERMISSION_SET}'`,
    );
    const psId = ps.records[0]?.Id;
    if (!psId) {
      return result(
        name,
        'warn',
        `Contact access is there, but the ${PERMISSION_SET} permission set is not deployed: the access comes from elsewhere (a profile) and nothing guarantees View All or the field access`,
        `Deploy the package (${DEPLOY}) and assign the permission set.`,
      );
    }
    if (userId === null) return pass(name, 'the permission set is deployed');
    const assigned = await conn.query(
      `SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '${userId}' AND PermissionSetId = '${psId}'`,
    );
    if (assigned.totalSize > 0) {
      return pass(
        name,
        `the connected user has the ${PERMISSION_SET} permission set and Contact read, create and edit`,
      );
    }
    return result(
      name,
      'warn',
      `the ${PERMISSION_SET} permission set is deployed but not assigned to the connected user (${userId}); its Contact access comes from elsewhere`,
      assign,
    );
  } catch (err) {
    return result(name, 'warn', `could not read the permission set: ${reason(err)}`, assign);
  }
}

function fieldAccessCheck(ctx: AdminContext, orgId: string, fields: DescribedFields): CheckResult {
  const name = 'field_access';
  // The mapping in effect (held fields are left out of it; they come from the drift report).
  const mapping = ctx.directory.get(orgId)?.settings.mapping ?? [];
  const issues = mapping.flatMap((m) =>
    checkMappedField(m, fields, { answerMaxLength: CUSTOM_ANSWER_MAX_LENGTH }),
  );
  const held = ctx.contactFields?.problems(orgId) ?? [];
  const errors = [...issues.filter((i) => i.severity === 'error'), ...held];
  const warnings = issues.filter((i) => i.severity === 'warning');
  if (errors.length > 0) {
    return result(
      name,
      'fail',
      [...new Set(errors.map((i) => i.message))].join('; '),
      'Give the integration user read and edit access to each field named (add it to the InitLive Sync Integration permission set), or change the field mapping.',
    );
  }
  if (warnings.length > 0) {
    return result(
      name,
      'warn',
      warnings.map((i) => i.message).join('; '),
      'Lengthen the Contact field or keep answers shorter than it.',
    );
  }
  return pass(name, `the connected user can read and write every mapped field (${mapping.length})`);
}

async function changeDataCaptureCheck(conn: Connection): Promise<CheckResult> {
  const name = 'change_data_capture';
  const fix =
    'Select Contact in Setup > Integrations > Change Data Capture, or deploy the package (it selects Contact).';
  try {
    const members = await conn.tooling.query<{ DeveloperName: string }>(
      "SELECT Id, DeveloperName, SelectedEntity FROM PlatformEventChannelMember WHERE SelectedEntity = 'ContactChangeEvent'",
    );
    if (members.records.some((m) => m.DeveloperName.startsWith('ChangeEvents_'))) {
      return pass(
        name,
        'Contact is selected for Change Data Capture (standard ChangeEvents channel)',
      );
    }
    return result(
      name,
      'fail',
      'Contact is not selected for Change Data Capture: Salesforce edits reach the connector only through full syncs',
      fix,
    );
  } catch (err) {
    return result(
      name,
      'warn',
      `could not read the Change Data Capture selection with the Tooling API: ${reason(err)}`,
      'Give the integration user View Setup and Configuration (the permission set has it).',
    );
  }
}

async function streamingCheck(ctx: AdminContext, orgId: string): Promise<CheckResult> {
  const name = 'streaming';
  const settings = ctx.directory.view(orgId).settings;
  if (!settings.streaming) {
    return result(
      name,
      'warn',
      'streaming is off in the settings: changes sync only in full syncs',
      'Turn streaming on: PUT .../salesforce/settings with "streaming": true.',
    );
  }
  const sf = (await ctx.status.sources(orgId)).find((s) => s.source === 'salesforce');
  if (!sf || sf.state === 'standby')
    return pass(name, `Salesforce source ${sf?.state ?? 'not reported here'}`);
  if (sf.lastError && sf.state !== 'running') {
    return result(
      name,
      'fail',
      `the Change Data Capture subscription is ${sf.state}: ${sf.lastError}`,
      'Give the integration user View All on Contact (the permission set has it) and check the Change Data Capture selection.',
    );
  }
  return pass(name, `the Change Data Capture subscription is ${sf.state}`);
}

async function apiBudgetCheck(conn: Connection): Promise<CheckResult> {
  const name = 'api_budget';
  try {
    const limits = await conn.limits();
    const daily = limits.DailyApiRequests;
    const events = (limits as Record<string, { Max: number; Remaining: number } | undefined>)
      .DailyDeliveredPlatformEvents;
    if (!daily)
      return result(
        name,
        'warn',
        '/limits has no DailyApiRequests',
        'Check the org edition and API access.',
      );
    const left = daily.Max > 0 ? daily.Remaining / daily.Max : 0;
    const text = `${daily.Remaining} of ${daily.Max} daily API calls left${events ? `; ${events.Remaining} of ${events.Max} change event deliveries` : ''}`;
    if (left < 0.05) {
      return result(
        name,
        'fail',
        text,
        'Wait for the rolling 24 hours to free calls, or raise the allocation; writes pause below the reserve.',
      );
    }
    if (left < 0.2 || (events && events.Max > 0 && events.Remaining / events.Max < 0.2)) {
      return result(
        name,
        'warn',
        text,
        'Lower the sync load (schedule, bulk threshold) or raise the allocation before it runs out.',
      );
    }
    return pass(name, text);
  } catch (err) {
    return result(
      name,
      'fail',
      `could not read /limits: ${reason(err)}`,
      'Check the connection; a REQUEST_LIMIT_EXCEEDED here means the budget is used up.',
    );
  }
}

async function initliveKeyCheck(ctx: AdminContext, orgId: string): Promise<CheckResult> {
  const name = 'initlive_key';
  const org = ctx.directory.get(orgId);
  if (!org) {
    return result(
      name,
      'fail',
      'the organization has no InitLive credentials here',
      'Set INITLIVE_BASE_URL, INITLIVE_API_KEY and INITLIVE_ORG_ID, or send initlive credentials with the connect request.',
    );
  }
  try {
    const o = await org.initlive.getOrganization();
    return pass(name, `the InitLive key opens organization ${o.id} (${o.name})`);
  } catch (err) {
    const e = toSyncError(err);
    return result(
      name,
      'fail',
      `InitLive refused the key: ${e.code}: ${e.message}`,
      'Set a current InitLive integration key for this organization (INITLIVE_API_KEY, or the connect request’s initlive.apiKey).',
    );
  }
}

/** How long a check may wait for a system that does not answer (clients retry behind it). */
const CHECK_DEADLINE_MS = 10_000;

/** `work`'s result, or a failed check once `ms` pass without one. */
async function within(name: string, ms: number, work: Promise<CheckResult>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(
      () =>
        resolve(
          result(
            name,
            'fail',
            `no answer within ${ms / 1000} s`,
            'Check that the system is reachable from the connector; the check can be run again.',
          ),
        ),
      ms,
    );
    timer.unref();
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function salesforceChecks(
  ctx: AdminContext,
  orgId: string,
  conn: Connection,
): Promise<CheckResult[]> {
  const view = ctx.directory.view(orgId);
  const describeChecks = async (): Promise<CheckResult[]> => {
    let access: ContactAccess;
    try {
      access = await describeContact(conn);
    } catch (err) {
      return [
        result(
          'package_fields',
          'fail',
          `could not describe Contact: ${reason(err)}`,
          'Check the connection and the user’s API access.',
        ),
      ];
    }
    const fields = describedFields(access.fields);
    return [
      packageFieldsCheck(fields),
      await permissionSetCheck(conn, access, view.salesforceUserId),
      fieldAccessCheck(ctx, orgId, fields),
    ];
  };
  // Independent calls go side by side; the report keeps one order.
  const [version, described, cdc, streaming, budget] = await Promise.all([
    within('api_version', CHECK_DEADLINE_MS, apiVersion(conn, ctx.salesforceApiVersion)),
    describeChecks(),
    within('change_data_capture', CHECK_DEADLINE_MS, changeDataCaptureCheck(conn)),
    streamingCheck(ctx, orgId),
    within('api_budget', CHECK_DEADLINE_MS, apiBudgetCheck(conn)),
  ]);
  return [
    pass('connection', `connected to ${view.instanceUrl ?? 'Salesforce'} (${view.state})`),
    version,
    ...described,
    cdc,
    streaming,
    budget,
  ];
}

/**
 * Runs every check of `orgId` against its connected org and InitLive, side by side; a system
 * that does not answer within 10 s fails its check rather than hold the report.
 */
export async function runReadinessChecks(
  ctx: AdminContext,
  orgId: string,
): Promise<ReadinessReport> {
  const view = ctx.directory.view(orgId);
  const conn = ctx.directory.get(orgId)?.salesforce ?? null;
  const [sf, initlive] = await Promise.all([
    conn
      ? salesforceChecks(ctx, orgId, conn)
      : Promise.resolve([
          result(
            'connection',
            'fail',
            `the organization is ${view.state}${view.reason ? ` (${view.reason})` : ''}: the Salesforce checks cannot run`,
            `Connect it: POST /api/orgs/${orgId}/salesforce/connect and approve in the browser (docs/salesforce-setup.md).`,
          ),
        ]),
    within('initlive_key', CHECK_DEADLINE_MS, initliveKeyCheck(ctx, orgId)),
  ]);
  const checks = [...sf, initlive];
  const status: CheckStatus = checks.some((c) => c.status === 'fail')
    ? 'fail'
    : checks.some((c) => c.status === 'warn')
      ? 'warn'
      : 'pass';
  return { orgId, status, checkedAt: new Date(ctx.now()).toISOString(), checks };
}

/**
 * One report per organization at a time: requests arriving while one is being made share it,
 * and one younger than `reuseMs` is answered again (each costs Salesforce API calls), unless
 * the caller asks for a fresh one.
 */
export class ReadinessReports {
  private readonly recent = new Map<string, { at: number; report: Promise<ReadinessReport> }>();

  constructor(private readonly reuseMs = 5_000) {}

  get(ctx: AdminContext, orgId: string, fresh = false): Promise<ReadinessReport> {
    const now = ctx.now();
    for (const [k, v] of this.recent) if (now - v.at > this.reuseMs) this.recent.delete(k);
    const hit = this.recent.get(orgId);
    if (hit && !fresh) return hit.report;
    const report = runReadinessChecks(ctx, orgId);
    this.recent.set(orgId, { at: now, report });
    report.catch(() => this.recent.delete(orgId));
    return report;
  }
}
