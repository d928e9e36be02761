import type { RouteDef } from '../context';
import { deleteError } from './delete-error';
import { getChecks } from './get-checks';
import { getErrors } from './get-errors';
import { getHealthz } from './get-healthz';
import { getMetrics } from './get-metrics';
import { getOAuthCallback } from './get-oauth-callback';
import { getReadyz } from './get-readyz';
import { getRun } from './get-run';
import { getRuns } from './get-runs';
import { getSettings } from './get-settings';
import { getStatus } from './get-status';
import { postConnect } from './post-connect';
import { postDisconnect } from './post-disconnect';
import { postErrorRetry } from './post-error-retry';
import { postErrorsRetry } from './post-errors-retry';
import { postSync } from './post-sync';
import { putSettings } from './put-settings';

/** Every route of the admin API (docs/http-api.md describes them). */
export const routes: readonly RouteDef[] = [
  getHealthz,
  getReadyz,
  getMetrics,
  getOAuthCallback,
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
  postErrorsRetry,
  postErrorRetry,
  deleteError,
];
