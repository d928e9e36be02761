import { z } from 'zod';
import { SyncError } from './errors';

/**
 * The one configuration schema. It is parsed once, in main.ts, from the environment; every
 * bad variable is reported at once, by name. Each entry's description feeds the README's
 * configuration table (`npm run docs:config`), so the two cannot drift apart.
 */
const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);
const optionalUrl = z.url().optional();
// Empty strings in the environment mean "unset", as most shells and compose files intend.
const blankToUndefined = (v: unknown): unknown =>
  typeof v === 'string' && v.trim() === '' ? undefined : v;

export const configShape = {
  LOG_LEVEL: z
    .enum(['debug', 'info', 'warn', 'error', 'silent'])
    .default('info')
    .describe('Lowest log level written to stdout (JSON lines).'),
  PORT: port(8080).describe('HTTP port of the admin API, metrics and health endpoints.'),
  ADMIN_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe(
      'Bearer token for /api routes. When unset, a random one is generated and printed at start; a token set here is never printed.',
    ),
  KAFKA_BROKERS: z
    .string()
    .regex(/^[^\s,]+:\d+(,[^\s,]+:\d+)*$/, 'must be host:port[,host:port...]')
    .optional()
    .describe(
      'Comma-separated Kafka bootstrap brokers. When unset, the in-memory transport is used (one process only).',
    ),
  KAFKA_CLIENT_ID: z
    .string()
    .min(1)
    .default('initlive-salesforce-sync')
    .describe('Kafka client id of this process.'),
  KAFKA_GROUP_ID: z
    .string()
    .min(1)
    .default('initlive-salesforce-sync')
    .describe(
      'Consumer group prefix. Processes that share it share the work; add processes to scale out.',
    ),
  KAFKA_SESSION_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(6_000)
    .max(300_000)
    .default(10_000)
    .describe(
      "How long the consumer group waits on a process it no longer hears from (a kill -9, a lost host) before its partitions move on; heartbeats go every third of it. Within the broker's group.min/max.session.timeout.ms.",
    ),
  TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only')
    .default('initlive-sync')
    .describe('Prefix of every topic name the connector creates and uses.'),
  TOPIC_PARTITIONS: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(6)
    .describe('Partitions of each topic when the connector creates it.'),
  TOPIC_REPLICATION_FACTOR: z.coerce
    .number()
    .int()
    .min(-1)
    .max(7)
    .default(-1)
    .describe('Replication factor of created topics; -1 takes the broker default.'),
  SCHEMA_REGISTRY_URL: optionalUrl.describe(
    'Confluent-compatible schema registry base URL (e.g. Apicurio .../apis/ccompat/v7). Required with KAFKA_BROKERS.',
  ),
  SCHEMA_COMPATIBILITY: z
    .enum([
      'BACKWARD',
      'BACKWARD_TRANSITIVE',
      'FORWARD',
      'FORWARD_TRANSITIVE',
      'FULL',
      'FULL_TRANSITIVE',
      'NONE',
    ])
    .default('BACKWARD')
    .describe('Compatibility rule set on every subject the connector registers.'),
  SCHEMA_SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only')
    .optional()
    .describe(
      'Prepended to every schema registry subject (com.initlive.sync.<Record>), so several deployments can share one registry.',
    ),
  REDIS_URL: optionalUrl.describe(
    'Redis URL for version vectors, cursors and locks. When unset, an in-memory store is used.',
  ),
  REDIS_KEY_PREFIX: z
    .string()
    .min(1)
    .default('ils:')
    .describe('Prefix of every Redis key the connector writes.'),
  SOURCE_LEASE_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(15_000)
    .describe(
      "Lease on each organization's sources (InitLive feed poller, Salesforce CDC subscription): only the process holding it reads the organization. Renewed, and retried by the other processes, every third of it; also the time to live of each process's membership heartbeat, by which the organizations are spread evenly over the processes (docs/scaling.md). After a crash another process takes over within the lease and two thirds of it, after a clean stop within about two thirds.",
    ),
  FULL_SYNC_SHARED_RATE: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .default(250)
    .describe(
      "While more than one organization is connected, the records a second one full sync puts on the change topics (InitLive staff and Contacts together), so a big organization's run leaves CPU and topics to the others' live changes (docs/scaling.md, Fair sharing). 0 for no limit. A run of N staff and M Contacts then takes at least (N + M) / rate seconds: 100,000 of each about 14 minutes at the default, against 8.5 without a limit, while the others' p99 stayed at 2.7 s instead of 17.4 s (docs/benchmarks.md). A lone organization is never limited.",
    ),
  RUN_SETTLE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(86_400_000)
    .default(600_000)
    .describe(
      "How long a full sync's outstanding writes may go without any of them landing before the run ends failed, naming what was outstanding (a sink held by an exhausted API budget, revoked credentials or a missing package). A run whose writes keep landing is never cut short.",
    ),
  SCHEDULED_RUN_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(2)
    .describe(
      "Scheduled full syncs one process runs at once. Organizations whose schedules fire together wait in a queue shared through Redis, first due first started (ties by organization id), so none is skipped, and each one's place shows in its status. Manual and recovery runs do not count.",
    ),
  RECORD_HISTORY_TTL_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .max(31_536_000_000)
    .default(2_592_000_000)
    .describe(
      "How long each volunteer's sync status and history (the last 20 events: kinds, sides, field names, never values) outlive their last change. Default 30 days.",
    ),
  METRICS_ORG_LABELS: z
    .stringbool()
    .default(true)
    .describe(
      'Label per-organization metrics with the organization (`org`), a few series each. false leaves totals only, for deployments with thousands of organizations: no series names one, states count organizations (e.g. how many need to reconnect), amounts are summed; the dashboard and alerts work either way, per organization or for the deployment as a whole (docs/scaling.md).',
    ),
  PARK_HELD_WRITES: z
    .stringbool()
    .default(true)
    .describe(
      'Park the writes of an organization that cannot take them (revoked grant, package removed, API allocation used up, its InitLive refusing) in Redis (in memory without Redis), so the partitions it shares with other organizations move on (docs/scaling.md, Isolation). Parked writes count as waiting in the status and in initlive_sync_oldest_unapplied_change_timestamp_seconds. false keeps them in the sink, holding their partitions.',
    ),
  SANDBOX: z
    .enum(['auto', 'on', 'off'])
    .default('auto')
    .describe(
      'Start the Salesforce and InitLive sandboxes in-process. auto: on unless real SALESFORCE_/INITLIVE_ endpoints are configured.',
    ),
  SANDBOX_SALESFORCE_PORT: port(8181).describe('Port of the Salesforce sandbox.'),
  SANDBOX_INITLIVE_PORT: port(8182).describe('Port of the InitLive sandbox.'),
  SANDBOX_STATE_FILE: z
    .string()
    .optional()
    .describe(
      'Optional JSON snapshot file prefix so sandbox data survives restarts (<prefix>.salesforce.json, <prefix>.initlive.json).',
    ),
  SANDBOX_SALESFORCE_CLIENT_ID: z
    .string()
    .min(1)
    .default('sandbox-client')
    .describe('Connected app consumer key the Salesforce sandbox accepts.'),
  SANDBOX_SALESFORCE_CLIENT_SECRET: z
    .string()
    .min(1)
    .default('sandbox-secret')
    .describe('Connected app consumer secret the Salesforce sandbox accepts.'),
  SANDBOX_SALESFORCE_USERNAME: z
    .string()
    .min(1)
    .default('admin@sandbox.test')
    .describe('Salesforce sandbox user name.'),
  SANDBOX_SALESFORCE_PASSWORD: z
    .string()
    .min(1)
    .default('sandbox')
    .describe('Salesforce sandbox user password.'),
  SANDBOX_INITLIVE_ORG_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('org_demo')
    .describe('Organization the InitLive sandbox serves.'),
  SANDBOX_INITLIVE_API_KEY: z
    .string()
    .min(1)
    .default('sandbox-key')
    .describe('Integration key of the InitLive sandbox organization.'),
  SANDBOX_STAFF_COUNT: z.coerce
    .number()
    .int()
    .min(0)
    .max(200_000)
    .default(50)
    .describe('Staff seeded into an empty InitLive sandbox.'),
  SANDBOX_CONTACT_COUNT: z.coerce
    .number()
    .int()
    .min(0)
    .max(200_000)
    .default(40)
    .describe(
      'Contacts seeded into an empty Salesforce sandbox; the first half share emails with seeded staff.',
    ),
  SANDBOX_SALESFORCE_PACKAGE: z
    .enum(['installed', 'missing'])
    .default('installed')
    .describe(
      'Whether the Salesforce sandbox starts with the InitLive package (salesforce/force-app) deployed; missing starts it as an org before setup, so the organization shows package_missing and the readiness check fails.',
    ),
  SANDBOX_SALESFORCE_CDC: z
    .enum(['on', 'off'])
    .default('on')
    .describe(
      'Whether the Salesforce sandbox has Contact selected for Change Data Capture; off publishes no Contact change events, as a real org without the selection.',
    ),
  SANDBOX_ACTIVITY_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(0)
    .max(6000)
    .default(0)
    .describe(
      'Edits per minute the sandboxes make by themselves, as people would (volunteers checking in, phones changed in InitLive and Salesforce), so a demo deployment shows changes flowing. 0: none.',
    ),
  SALESFORCE_LOGIN_URL: optionalUrl.describe(
    'Salesforce login URL (https://login.salesforce.com, a My Domain, or the sandbox).',
  ),
  SALESFORCE_CLIENT_ID: z.string().min(1).optional().describe('Connected app consumer key.'),
  SALESFORCE_CLIENT_SECRET: z.string().min(1).optional().describe('Connected app consumer secret.'),
  SALESFORCE_REDIRECT_URI: optionalUrl.describe(
    "OAuth callback URL registered on the connected app. Needed for the web-server flow (Connect): without it (or PUBLIC_URL, whose /oauth/salesforce/callback is taken then) the flow is refused; a request's Host header is never used. The embedded demo uses its own address.",
  ),
  SALESFORCE_API_VERSION: z
    .string()
    .regex(/^\d{2}\.0$/, 'must look like 62.0')
    .default('62.0')
    .describe('Salesforce REST API version used for every call.'),
  SALESFORCE_CLIENT_TAG: z
    .string()
    .regex(/^[A-Za-z0-9_]+$/, 'letters, digits and "_" only')
    .default('InitLiveSync')
    .describe(
      'Value sent as Sforce-Call-Options client=...; CDC echoes carrying it are recognised as ours.',
    ),
  AUDIT_LOG_MAX_ENTRIES: z.coerce
    .number()
    .int()
    .min(100)
    .max(10_000_000)
    .default(10_000)
    .describe(
      'Admin actions kept per organization in the audit log (GET /api/orgs/:orgId/audit); the oldest go first. In Redis with REDIS_URL, so they survive restarts.',
    ),
  ADMIN_FAILED_AUTH_LIMIT: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(20)
    .describe(
      'Failed authentications (401) one client address may make per ADMIN_FAILED_AUTH_WINDOW_MS before its /api requests get 429 with Retry-After until the window ends. Requests that authenticate do not count.',
    ),
  ADMIN_FAILED_AUTH_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(86_400_000)
    .default(900_000)
    .describe('The window of ADMIN_FAILED_AUTH_LIMIT.'),
  SALESFORCE_REQUEST_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(1_800_000)
    .default(120_000)
    .describe(
      "How long one Salesforce call may wait for an answer before it fails as unreachable and is retried later. A connection cut without a reset otherwise holds a sink for jsforce's 30 minutes.",
    ),
  SALESFORCE_SINK_LINGER_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(350)
    .describe(
      'How long the Salesforce sink gathers changes before a call (up to 1,000 records a call: five 200-record collections in one Composite request). Lower: less latency; higher: fewer API calls. At 350 ms a steady 500 changes/s costs about 5 calls per 1,000 changes. A change after four lingers without one does not wait it.',
    ),
  SALESFORCE_PARK_GATHER_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(3000)
    .describe(
      "With PARK_HELD_WRITES: how long an organization's parked Salesforce writes (a full sync's beside other organizations) wait for company when fewer than 1,000 are parked, counted from the oldest one's arrival. Higher: fewer API calls for a paced run; 0: written as they come. A list parked while the organization was held is written at once.",
    ),
  SALESFORCE_BULK_THRESHOLD: z.coerce
    .number()
    .int()
    .min(200)
    .max(150_000_000)
    .default(5000)
    .describe(
      'Queued Salesforce writes above which the sink uses one Bulk API 2.0 ingest job (5-7 calls whatever its size) instead of Composite calls of 1,000 records. A backlog (a full sync, a burst) goes by Bulk from 5,000 already, the break-even in calls, when that is lower.',
    ),
  INITLIVE_BASE_URL: optionalUrl.describe('InitLive API base URL (without /api/v1).'),
  INITLIVE_API_KEY: z
    .string()
    .min(1)
    .optional()
    .describe('InitLive integration key for INITLIVE_ORG_ID.'),
  INITLIVE_ORG_ID: z
    .string()
    .min(1)
    .default('org_demo')
    .describe('InitLive organization served by the default connection.'),
  INITLIVE_CHANGE_ORIGIN: z
    .string()
    .min(1)
    .default('salesforce-sync')
    .describe(
      'Value sent as X-Change-Origin on InitLive writes; feed entries carrying it are recognised as ours.',
    ),
  INITLIVE_IDLE_POLL_MAX_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(300_000)
    .optional()
    .describe(
      "Longest wait between reads of an organization's InitLive change feed while it stays empty: the wait doubles from 1 s after each empty read up to this, and is back at 1 s once a read finds changes. Unset: 15000 where webhooks are registered (PUBLIC_URL set, or the InitLive sandbox), since they bring changes at once and the poll only catches a lost one; every second otherwise. Each streaming organization costs a request per wait (to InitLive, and CPU here; docs/scaling.md).",
    ),
  PUBLIC_URL: optionalUrl.describe(
    'Base URL at which InitLive can reach this server. When set (and always with the InitLive sandbox), a signed webhook is registered per organization at start, so changes arrive without waiting for the next feed poll.',
  ),
  ENCRYPTION_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be 32 bytes, base64 encoded')
    .optional()
    .describe(
      'AES-256-GCM key (base64, 32 bytes) for tokens at rest, e.g. `openssl rand -base64 32`; the InitLive webhook secret is derived from it, so every process accepts every webhook. Required with REDIS_URL; generated per process when unset (embedded mode only).',
    ),
} as const;

const schema = z
  .object(
    Object.fromEntries(
      Object.entries(configShape).map(([k, v]) => [k, z.preprocess(blankToUndefined, v)]),
    ) as {
      [K in keyof typeof configShape]: z.ZodPipe<
        z.ZodTransform<unknown, unknown>,
        (typeof configShape)[K]
      >;
    },
  )
  .superRefine((c, ctx) => {
    if (c.KAFKA_BROKERS && !c.SCHEMA_REGISTRY_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['SCHEMA_REGISTRY_URL'],
        message: 'is required when KAFKA_BROKERS is set: every process must agree on schema ids',
      });
    }
    if (c.KAFKA_BROKERS && c.REDIS_URL === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_URL'],
        message:
          'is required when KAFKA_BROKERS is set: processes sharing a consumer group must share version vectors',
      });
    }
    if (c.REDIS_URL !== undefined && c.ENCRYPTION_KEY === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['ENCRYPTION_KEY'],
        message:
          'is required when REDIS_URL is set: tokens stored in Redis must open after a restart and in every process (generate one with `openssl rand -base64 32`)',
      });
    }
    if (c.SALESFORCE_LOGIN_URL !== undefined && c.SALESFORCE_CLIENT_ID === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['SALESFORCE_CLIENT_ID'],
        message: 'is required when SALESFORCE_LOGIN_URL is set (the connected app consumer key)',
      });
    }
    if ((c.INITLIVE_BASE_URL === undefined) !== (c.INITLIVE_API_KEY === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.INITLIVE_BASE_URL === undefined ? 'INITLIVE_BASE_URL' : 'INITLIVE_API_KEY'],
        message: 'INITLIVE_BASE_URL and INITLIVE_API_KEY are set together or not at all',
      });
    }
    if (!sandboxEnabled(c) && c.SALESFORCE_LOGIN_URL === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['SALESFORCE_LOGIN_URL'],
        message:
          'is required when the sandbox is off: without it no organization can connect to Salesforce',
      });
    }
  });

export type Config = z.infer<typeof schema>;

/**
 * Whether the in-process sandboxes run: SANDBOX=on, or auto while neither a real Salesforce
 * (SALESFORCE_LOGIN_URL) nor a real InitLive (INITLIVE_BASE_URL) is configured.
 */
export function sandboxEnabled(
  c: Pick<Config, 'SANDBOX' | 'SALESFORCE_LOGIN_URL' | 'INITLIVE_BASE_URL'>,
): boolean {
  if (c.SANDBOX !== 'auto') return c.SANDBOX === 'on';
  return c.SALESFORCE_LOGIN_URL === undefined && c.INITLIVE_BASE_URL === undefined;
}

/**
 * Parses the environment. Throws one CONFIG_INVALID error whose message lists every bad
 * variable as `NAME: problem`; secrets are never echoed back.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const input = Object.fromEntries(Object.keys(configShape).map((k) => [k, env[k]]));
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (i) => `${i.path.join('.') || '(config)'}: ${i.message}`,
  );
  throw new SyncError('CONFIG_INVALID', `Invalid configuration:\n  ${problems.join('\n  ')}`, {
    context: { variables: result.error.issues.map((i) => i.path.join('.')) },
  });
}

/** Rows for the README table: name, default, description. */
export function configDocs(): Array<{ name: string; defaultValue: string; description: string }> {
  return Object.entries(configShape).map(([name, type]) => {
    const parsed = type.safeParse(undefined);
    const defaultValue = parsed.success && parsed.data !== undefined ? String(parsed.data) : '';
    return { name, defaultValue, description: type.description ?? '' };
  });
}
