import { packageFields } from '../../core/mapping';
import { SyncError, isSyncError } from '../../errors';

/**
 * Salesforce failures as SyncErrors. Request-level failures arrive from jsforce as
 * HttpApiError (`errorCode` from the body's `errorCode`, no HTTP status kept), as a plain Error
 * when its own token refresh failed, or as node-fetch errors for the network. Item-level
 * failures of sObject Collections carry `statusCode` (jsforce's types say `errorCode`; the
 * REST API and jsforce at run time say `statusCode`), so both are read.
 */

/** One failed item's error as Salesforce reports it. */
export interface SalesforceItemError {
  statusCode: string;
  message: string;
  fields: string[];
}

/** Record-level codes that are about the moment, not the record: a retry may succeed. */
const transientItemCodes = new Set([
  'UNABLE_TO_LOCK_ROW',
  'SERVER_UNAVAILABLE',
  'REQUEST_RUNNING_TOO_LONG',
  'QUERY_TIMEOUT',
  'UNKNOWN_EXCEPTION',
]);

/** Request-level codes of a 5xx answer. */
const unavailableCodes = new Set([
  'SERVER_UNAVAILABLE',
  'UNKNOWN_EXCEPTION',
  'REQUEST_RUNNING_TOO_LONG',
  'QUERY_TIMEOUT',
]);

const networkErrorCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ENOTFOUND',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
]);

/** jsforce wraps a failed refresh_token grant (or a missing refresh token) in this text. */
const REFRESH_FAILED = /^Unable to refresh session due to:/;

const packageFieldsLower = packageFields.map((f) => f.toLowerCase());

/** The package field an error names (in its field list or its text), if any. */
export function namedPackageField(message: string, fields: readonly string[] = []): string | null {
  for (const f of fields) {
    const i = packageFieldsLower.indexOf(f.toLowerCase());
    if (i >= 0) return packageFields[i]!;
  }
  const text = message.toLowerCase();
  const i = packageFieldsLower.findIndex((f) => text.includes(f));
  return i >= 0 ? packageFields[i]! : null;
}

function packageMissing(
  field: string,
  upstreamCode: string,
  message: string,
  cause?: unknown,
): SyncError {
  return new SyncError(
    'PACKAGE_MISSING',
    `The InitLive package is not installed in this Salesforce org (field ${field} is missing); install it, then writes resume`,
    { cause, context: { field, upstreamCode, upstreamMessage: message } },
  );
}

function errorProps(err: unknown): {
  errorCode?: string;
  name?: string;
  code?: string;
  data?: unknown;
} {
  return typeof err === 'object' && err !== null ? err : {};
}

/** Salesforce's own code of a request-level failure (the first one when several came back). */
function upstreamCodeOf(err: unknown): { code: string | null; message: string; fields: string[] } {
  const e = errorProps(err);
  const message = err instanceof Error ? err.message : String(err);
  if (e.errorCode === 'MULTIPLE_API_ERRORS' && Array.isArray(e.data)) {
    const first = e.data[0] as
      { errorCode?: unknown; message?: unknown; fields?: unknown } | undefined;
    return {
      code: typeof first?.errorCode === 'string' ? first.errorCode : e.errorCode,
      message: typeof first?.message === 'string' ? first.message : message,
      fields: Array.isArray(first?.fields) ? first.fields.map(String) : [],
    };
  }
  const data = e.data as { fields?: unknown } | undefined;
  return {
    code: typeof e.errorCode === 'string' ? e.errorCode : null,
    message,
    fields: Array.isArray(data?.fields) ? data.fields.map(String) : [],
  };
}

function isNetworkError(err: unknown): boolean {
  const e = errorProps(err);
  if (e.name === 'FetchError' || e.name === 'AbortError') return true;
  if (typeof e.code === 'string' && networkErrorCodes.has(e.code)) return true;
  const cause = (err as { cause?: unknown }).cause;
  const causeCode = errorProps(cause).code;
  return typeof causeCode === 'string' && networkErrorCodes.has(causeCode);
}

/**
 * Maps anything a jsforce call threw to a SyncError:
 * REQUEST_LIMIT_EXCEEDED -> API_LIMIT_EXCEEDED (retriable, means "pause");
 * a failed refresh (after jsforce's own attempt), invalid_grant, INVALID_SESSION_ID -> AUTH_FAILED;
 * INVALID_FIELD / NOT_FOUND naming one of our package fields -> PACKAGE_MISSING;
 * 5xx codes and network failures -> UPSTREAM_UNAVAILABLE (retriable);
 * any other Salesforce code -> SALESFORCE_REJECTED with `context.upstreamCode`;
 * anything else (a bug) -> INTERNAL.
 */
export function toSalesforceError(err: unknown, context: Record<string, unknown> = {}): SyncError {
  if (isSyncError(err)) return err;
  const e = errorProps(err);
  const { code, message, fields } = upstreamCodeOf(err);
  const ctx = (upstreamCode: string | null): Record<string, unknown> => ({
    ...context,
    ...(upstreamCode ? { upstreamCode } : {}),
  });

  if (REFRESH_FAILED.test(message) || e.name === 'invalid_grant' || code === 'INVALID_SESSION_ID') {
    return new SyncError('AUTH_FAILED', `Salesforce rejected the credentials: ${message}`, {
      cause: err,
      context: ctx(code ?? e.name ?? null),
    });
  }
  if (code === 'REQUEST_LIMIT_EXCEEDED') {
    return new SyncError('API_LIMIT_EXCEEDED', `Salesforce API limit reached: ${message}`, {
      cause: err,
      context: ctx(code),
    });
  }
  if (code === 'INVALID_FIELD' || code === 'NOT_FOUND' || code === 'INVALID_TYPE') {
    const field = namedPackageField(message, fields);
    if (field) return packageMissing(field, code, message, err);
  }
  if (code !== null && (unavailableCodes.has(code) || /^ERROR_HTTP_5\d\d$/.test(code))) {
    return new SyncError('UPSTREAM_UNAVAILABLE', `Salesforce is unavailable: ${message}`, {
      cause: err,
      context: ctx(code),
    });
  }
  if (code === 'ERROR_HTTP_429' || code === 'ERROR_HTTP_420') {
    return new SyncError('RATE_LIMITED', `Salesforce asked us to slow down: ${message}`, {
      cause: err,
      context: ctx(code),
    });
  }
  if (isNetworkError(err)) {
    return new SyncError('UPSTREAM_UNAVAILABLE', `Salesforce could not be reached: ${message}`, {
      cause: err,
      context: ctx(e.code ?? e.name ?? null),
    });
  }
  if (code !== null) {
    return new SyncError('SALESFORCE_REJECTED', message, { cause: err, context: ctx(code) });
  }
  return new SyncError('INTERNAL', message, { cause: err, context });
}

/** Reads one item's errors, whichever key jsforce left the code under. */
export function itemErrorsOf(raw: unknown): SalesforceItemError[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((x) => {
    const e = (x ?? {}) as {
      statusCode?: unknown;
      errorCode?: unknown;
      message?: unknown;
      fields?: unknown;
    };
    const statusCode =
      typeof e.statusCode === 'string'
        ? e.statusCode
        : typeof e.errorCode === 'string'
          ? e.errorCode
          : 'UNKNOWN';
    return {
      statusCode,
      message: typeof e.message === 'string' ? e.message : '',
      fields: Array.isArray(e.fields) ? e.fields.map(String) : [],
    };
  });
}

/**
 * The SyncError of one failed item (its first error decides): transient codes are retriable,
 * INVALID_FIELD on a package field is PACKAGE_MISSING, the rest SALESFORCE_REJECTED. The
 * Salesforce statusCode is `context.upstreamCode` either way.
 */
export function itemError(
  errors: readonly SalesforceItemError[],
  context: Record<string, unknown> = {},
): SyncError {
  const first = errors[0] ?? {
    statusCode: 'UNKNOWN',
    message: 'Salesforce reported a failure without details',
    fields: [],
  };
  const ctx = {
    ...context,
    upstreamCode: first.statusCode,
    ...(first.fields.length > 0 ? { fields: first.fields.join(',') } : {}),
  };
  if (first.statusCode === 'INVALID_FIELD') {
    const field = namedPackageField(first.message, first.fields);
    if (field) return packageMissing(field, first.statusCode, first.message);
  }
  if (first.statusCode === 'REQUEST_LIMIT_EXCEEDED') {
    return new SyncError('API_LIMIT_EXCEEDED', first.message, { context: ctx });
  }
  if (first.statusCode === 'SERVER_UNAVAILABLE') {
    return new SyncError('UPSTREAM_UNAVAILABLE', first.message, { context: ctx });
  }
  return new SyncError('SALESFORCE_REJECTED', first.message || first.statusCode, {
    context: ctx,
    retriable: transientItemCodes.has(first.statusCode),
  });
}
