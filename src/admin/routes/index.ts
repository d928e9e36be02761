import type { RouteDef } from '../context';
import { deleteError } from './delete-error';
import { getChecks } from './get-checks';
import { deleteSession } from './delete-session';
import { getErrors } from './get-errors';
import { getHealthz } from './get-healthz';
import { getMetrics } from './get-metrics';
import { getOAuthCallback } from './get-oauth-callback';
import { getOrgs } from './get-orgs';
import { getReadyz } from './get-readyz';
import { getRecords } from './get-records';
import { getRun } from './get-run';
import { getRuns } from './get-runs';
import { getSession } from './get-session';
import { getSettings } from './get-settings';
import { getStatus } from './get-status';
import { postConnect } from './post-connect';
import { postDisconnect } from './post-disconnect';
import { postErrorRetry } from './post-error-retry';
import { postErrorsRetry } from './post-errors-retry';
import { postSession } from './post-session';
import { postSync } from './post-sync';
import { putSettings } from './put-settings';
import { deleteToken, getTokens, postToken } from './tokens';
import { getAudit } from './get-audit';

/** Every route of the admin API (docs/http-api.md describes them). */
export const routes: readonly RouteDef[] = [
  getHealthz,
  getReadyz,
  getMetrics,
  getOAuthCallback,
  postSession,
  getSession,
  deleteSession,
  getOrgs,
  getStatus,
  getChecks,
  postConnect,
  postDisconnect,
  getSettings,
  putSettings,
  postSync,
  getRuns,
  getRun,
  getErrors,
  getRecords,
  postErrorsRetry,
  postErrorRetry,
  deleteError,
  postToken,
  getTokens,
  deleteToken,
  getAudit,
];
