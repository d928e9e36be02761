/**
 * The one error type of the connector. Callers branch on `code` (stable strings, part of the
 * HTTP API and dead-letter records), never on `instanceof`, which breaks across jest's module
 * registries and across packages.
 */
export const ErrorCodes = {
  /** A configuration variable is missing or malformed. */
  CONFIG_INVALID: { retriable: false, httpStatus: 500 },
  /** A payload (settings, webhook, CDC event, Avro record) failed validation. */
  INVALID_INPUT: { retriable: false, httpStatus: 400 },
  /** A request body in a type or encoding the API does not take (it speaks JSON). */
  UNSUPPORTED_MEDIA_TYPE: { retriable: false, httpStatus: 415 },
  /** A record cannot be encoded or decoded with its Avro schema. */
  SCHEMA_MISMATCH: { retriable: false, httpStatus: 500 },
  /** The schema registry refused or could not be reached. */
  SCHEMA_REGISTRY_UNAVAILABLE: { retriable: true, httpStatus: 503 },
  /** Kafka (or the in-memory transport) could not take or give records right now. */
  TRANSPORT_UNAVAILABLE: { retriable: true, httpStatus: 503 },
  /** The state store (Redis) could not be reached. */
  STORE_UNAVAILABLE: { retriable: true, httpStatus: 503 },
  /** A compare-and-apply lost against a concurrent writer; re-read and decide again. */
  VERSION_CONFLICT: { retriable: true, httpStatus: 409 },
  /** A network call timed out or the peer answered 5xx. */
  UPSTREAM_UNAVAILABLE: { retriable: true, httpStatus: 503 },
  /** The peer asked us to slow down (429 / Retry-After). */
  RATE_LIMITED: { retriable: true, httpStatus: 429 },
  /** Credentials were rejected and a refresh did not help; an admin must reconnect. */
  AUTH_FAILED: { retriable: false, httpStatus: 401 },
  /** The organization's daily Salesforce API allocation is used up (REQUEST_LIMIT_EXCEEDED). */
  API_LIMIT_EXCEEDED: { retriable: true, httpStatus: 503 },
  /** Our Salesforce package (custom fields) is not installed in the org. */
  PACKAGE_MISSING: { retriable: false, httpStatus: 409 },
  /** Salesforce refused a record for a reason a retry will not fix (statusCode kept in context). */
  SALESFORCE_REJECTED: { retriable: false, httpStatus: 422 },
  /** InitLive refused a record for a reason a retry will not fix. */
  INITLIVE_REJECTED: { retriable: false, httpStatus: 422 },
  /** The record changed under us (412 / If-Match); re-read and reconcile again. */
  STALE_VERSION: { retriable: true, httpStatus: 412 },
  /** More than one record on the other side matches; we do not guess. */
  AMBIGUOUS_MATCH: { retriable: false, httpStatus: 409 },
  /** A stored position (InitLive cursor, CDC replay id) is no longer served; a full sync is needed. */
  POSITION_EXPIRED: { retriable: false, httpStatus: 410 },
  /** The caller is known but may not do this (another organization's, or a viewer's write). */
  FORBIDDEN: { retriable: false, httpStatus: 403 },
  /** Something was asked for that does not exist. */
  NOT_FOUND: { retriable: false, httpStatus: 404 },
  /** The operation conflicts with current state (a run already running, not connected). */
  CONFLICT: { retriable: false, httpStatus: 409 },
  /** A bug: an invariant did not hold. Never retried. */
  INTERNAL: { retriable: false, httpStatus: 500 },
} as const satisfies Record<string, { retriable: boolean; httpStatus: number }>;

export type ErrorCode = keyof typeof ErrorCodes;

export interface SyncErrorOptions {
  cause?: unknown;
  /** Overrides the code's default, e.g. a 4xx that is known to be transient. */
  retriable?: boolean;
  /** Safe-to-log context (never secrets): record ids, field names, upstream codes. */
  context?: Record<string, unknown>;
}

export class SyncError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: SyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SyncError';
    this.code = code;
    this.retriable = options.retriable ?? ErrorCodes[code].retriable;
    this.context = options.context ?? {};
  }

  get httpStatus(): number {
    return ErrorCodes[this.code].httpStatus;
  }

  toJSON(): {
    code: ErrorCode;
    message: string;
    retriable: boolean;
    context: Record<string, unknown>;
  } {
    return {
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      context: this.context,
    };
  }
}

/** Duck-typed check, so errors from another module registry still count. */
export function isSyncError(err: unknown): err is SyncError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'SyncError' &&
    typeof (err as { code?: unknown }).code === 'string' &&
    (err as { code: string }).code in ErrorCodes
  );
}

/**
 * Normalises anything thrown into a SyncError. Unknown errors become INTERNAL (not retried):
 * retrying a programmer error only hides it.
 */
export function toSyncError(err: unknown, fallback: ErrorCode = 'INTERNAL'): SyncError {
  if (isSyncError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SyncError(fallback, message, { cause: err });
}

export function isRetriable(err: unknown): boolean {
  return isSyncError(err) && err.retriable;
}
