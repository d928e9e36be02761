import type { RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { ConnectionStore } from '../orgs/connection-store';
import type { ContactFieldBook } from '../orgs/contact-fields';
import type { ManagedOrgDirectory } from '../orgs/managed-org-directory';
import type { SyncEvents } from '../pipeline/events';
import type { ApiBudgetBook } from './api-budget';
import type { DeadLetterService } from './dead-letters';
import type { PipelineStatus, Readiness, RunHistory, SyncTrigger } from './ports';

export interface AdminOAuthSettings {
  /** Salesforce login URL (SALESFORCE_LOGIN_URL or the sandbox). */
  loginUrl: string;
  clientId: string;
  clientSecret?: string;
  /**
   * Callback URL registered on the connected app. When unset, it is derived from the request
   * that starts the flow: `<scheme>://<host>/oauth/salesforce/callback`.
   */
  redirectUri?: string;
}

export interface AdminDeps {
  config: Pick<Config, 'ADMIN_TOKEN'>;
  logger: Logger;
  connections: ConnectionStore;
  directory: ManagedOrgDirectory;
  syncTrigger: SyncTrigger;
  runHistory: RunHistory;
  deadLetters: DeadLetterService;
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
}

/** What a route handler gets. */
export interface AdminContext extends AdminDeps {
  now: () => number;
  apiBudget: ApiBudgetBook;
  oauthStateTtlMs: number;
  salesforceApiVersion: string;
}

export interface RouteDef {
  method: 'get' | 'put' | 'post' | 'delete';
  path: string;
  /** Needs the admin bearer token (every /api route). */
  auth: boolean;
  handler: (ctx: AdminContext) => RequestHandler;
}
