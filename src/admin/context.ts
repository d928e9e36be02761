import type { AuditLog } from './audit-log';
import type { ApiTokenStore } from './token-store';
import type { FailedAuthLimit } from './request-guards';
import type { RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { ConnectionStore } from '../orgs/connection-store';
import type { ContactFieldBook } from '../orgs/contact-fields';
import type { ManagedOrgDirectory } from '../orgs/managed-org-directory';
import type { RecordLookup } from '../outcomes/record-lookup';
import type { WriteHoldStore } from '../sink/write-holds';
import type { SyncEvents } from '../pipeline/events';
import type { ApiBudgetBook } from './api-budget';
import type { Authenticator } from './auth';
import type { DeadLetterService } from './dead-letters';
import type { PipelineStatus, Readiness, RunHistory, ScheduleView, SyncTrigger } from './ports';
import type { SessionStore } from './session-store';

export interface AdminOAuthSettings {
  /** Salesforce login URL (SALESFORCE_LOGIN_URL or the sandbox). */
  loginUrl: string;
  clientId: string;
  clientSecret?: string;
  /**
   * Callback URL registered on the connected app (SALESFORCE_REDIRECT_URI, or PUBLIC_URL's
   * /oauth/salesforce/callback; a function when it is known only once the server listens).
   * Never derived from a request: a Host header is the client's to choose. Without one, the
   * web-server flow is refused (the JWT flow needs none).
   */
  redirectUri?: string | (() => string | undefined);
}

export interface AdminDeps {
  config: Pick<Config, 'ADMIN_TOKEN'>;
  /** Admin actions (memory, or Redis shared by every process). */
  audit: AuditLog;
  /** Per-organization API tokens (memory, or Redis shared by every process). */
  tokens: ApiTokenStore;
  /** Failed authentications per client address and window (ADMIN_FAILED_AUTH_LIMIT, _WINDOW_MS). */
  failedAuthLimit: FailedAuthLimit;
  logger: Logger;
  connections: ConnectionStore;
  directory: ManagedOrgDirectory;
  syncTrigger: SyncTrigger;
  runHistory: RunHistory;
  /** The scheduled run's next instant and queue place, in the status. Without it both are null. */
  schedule?: ScheduleView;
  deadLetters: DeadLetterService;
  /** Which processes' sinks hold which organizations' writes (status, errors). */
  holds: Pick<WriteHoldStore, 'list'>;
  /** Each volunteer's sync status (GET .../records). */
  records: Pick<RecordLookup, 'find'>;
  status: PipelineStatus;
  metricsRegistry: Registry;
  readiness: Readiness;
  oauth: AdminOAuthSettings;
  /** For the API budget in the status (last `salesforce.api-usage` per org). */
  events?: SyncEvents;
  now?: () => number;
  /** Check our package's Contact fields right after connecting (one describe call). Default true. */
  checkPackage?: boolean;
  /** How long a started OAuth flow may take. Default 10 minutes. */
  oauthStateTtlMs?: number;
  /** For the package check. Default 62.0. */
  salesforceApiVersion?: string;
  /**
   * Contact's fields per organization (cached describe) and the mapping's drift: settings are
   * checked against them at save, the status lists held fields. Without it neither happens.
   */
  contactFields?: ContactFieldBook;
  /** Console sessions; shared (Redis) when several processes serve one deployment. */
  sessions: SessionStore;
  /**
   * Keys the credential fingerprints kept in sessions. Processes sharing a session store must
   * share it (app.ts derives it from ENCRYPTION_KEY). Default: random per process.
   */
  sessionKey?: Buffer;
  /** How long a console sign-in lasts. Default 8 hours. */
  sessionTtlMs?: number;
  /** Where the console's files are (index.html, assets); null serves no console. Default: the package's console/. */
  consoleDir?: string | null;
}

/** What a route handler gets. */
export interface AdminContext extends AdminDeps {
  now: () => number;
  apiBudget: ApiBudgetBook;
  oauthStateTtlMs: number;
  salesforceApiVersion: string;
  authenticator: Authenticator;
  sessionTtlMs: number;
}

export interface RouteDef {
  method: 'get' | 'put' | 'post' | 'delete';
  path: string;
  /** Needs the admin bearer token (every /api route). */
  auth: boolean;
  /** The action its audit entry names: every state-changing route has one (src/admin/audit.ts). */
  audit?: string;
  handler: (ctx: AdminContext) => RequestHandler;
}
