import type { z } from 'zod';
import { SyncError, isSyncError } from '../../errors';
import type { ErrorCode } from '../../errors';
import { silentLogger } from '../../logger';
import type { Logger } from '../../logger';
import { defaultRetryPolicy, retry } from '../../retry';
import type { RetryOptions, RetryPolicy } from '../../retry';
import type {
  BatchOperation,
  BatchOutcome,
  ChangesPage,
  InitLiveApi,
  ListStaffOptions,
} from './initlive-api';
import {
  batchResponseSchema,
  changesPageSchema,
  errorBodySchema,
  organizationSchema,
  staffPageSchema,
  staffSchema,
  webhookSchema,
} from './types';
import type { InitLiveErrorBody, NewStaff, StaffPatch } from './types';

const API_PREFIX = '/api/v1';
/** InitLive's ceiling per batch request; longer lists are split. */
const MAX_BATCH_OPERATIONS = 200;
const MAX_PAGE_SIZE = 1000;

export interface InitLiveClientOptions {
  /** InitLive base URL, without `/api/v1`. */
  baseUrl: string;
  apiKey: string;
  orgId: string;
  /** Sent as `X-Change-Origin` on every write, so the feed marks our own writes. */
  changeOrigin: string;
  retryPolicy?: RetryPolicy;
  logger?: Logger;
  /** Defaults to Node's global fetch; tests may inject one. */
  fetch?: typeof fetch;
  /** Per attempt; a timeout counts as UPSTREAM_UNAVAILABLE and is retried. Default 30 s. */
  timeoutMs?: number;
  /** Passed to the retry helper (tests shorten waits with it). */
  sleep?: RetryOptions['sleep'];
}

interface Request {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  ifMatch?: number;
}

/**
 * Turns an InitLive error code (from an HTTP error body or a batch operation result) into the
 * connector's error. The InitLive code, HTTP status and details stay in `context`.
 */
export function initLiveErrorToSyncError(
  status: number | undefined,
  error: InitLiveErrorBody | undefined,
  where: string,
  extraContext: Record<string, unknown> = {},
): SyncError {
  const initliveCode = error?.code;
  const code = syncCodeFor(status, initliveCode);
  const detail = error ? `${error.code}: ${error.message}` : 'no error body';
  const context: Record<string, unknown> = { ...extraContext };
  if (status !== undefined) context.status = status;
  if (initliveCode !== undefined) context.initliveCode = initliveCode;
  if (error?.details) context.details = error.details;
  const prefix = status === undefined ? where : `${where} answered ${status}`;
  return new SyncError(code, `InitLive ${prefix} (${detail})`, { context });
}

function syncCodeFor(status: number | undefined, initliveCode: string | undefined): ErrorCode {
  if (status === undefined) {
    // A batch operation: only the InitLive code is known.
    switch (initliveCode) {
      case 'not_found':
        return 'NOT_FOUND';
      case 'version_mismatch':
        return 'STALE_VERSION';
      case 'rate_limited':
        return 'RATE_LIMITED';
      case 'internal':
        return 'UPSTREAM_UNAVAILABLE';
      default:
        return 'INITLIVE_REJECTED';
    }
  }
  if (status === 401 || status === 403) return 'AUTH_FAILED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 410) return 'POSITION_EXPIRED';
  if (status === 412) return 'STALE_VERSION';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 408 || status >= 500) return 'UPSTREAM_UNAVAILABLE';
  return 'INITLIVE_REJECTED';
}

/** `Retry-After` is delta-seconds or an HTTP date; anything else is ignored. */
function parseRetryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

function toWireOperation(op: BatchOperation): Record<string, unknown> {
  switch (op.op) {
    case 'create':
      return { op: 'create', staff: op.staff };
    case 'update':
      return { op: 'update', id: op.id, ifMatch: op.ifMatch, staff: op.patch };
    case 'archive':
      return { op: 'archive', id: op.id, ifMatch: op.ifMatch };
    case 'delete':
      return { op: 'delete', id: op.id, ifMatch: op.ifMatch };
  }
}

/**
 * What a request that got no answer ran into (`timeout`, `ECONNRESET`, `UND_ERR_SOCKET`...),
 * from the fetch error kept as the SyncError's cause; undefined for an answered request.
 */
function transportFailure(err: unknown): string | undefined {
  if (!isSyncError(err) || err.code !== 'UPSTREAM_UNAVAILABLE') return undefined;
  const cause = err.cause as
    { name?: string; code?: string; cause?: { code?: string } } | undefined;
  if (cause?.name === 'TimeoutError') return 'timeout';
  return cause?.cause?.code ?? cause?.code ?? cause?.name;
}

/**
 * The InitLive adapter. Every call authenticates with the integration key, and every write
 * carries `X-Change-Origin: <changeOrigin>`. 429 (waiting at least `Retry-After`), 5xx,
 * timeouts and network failures are retried with backoff per `retryPolicy`; every other
 * failure is thrown at once as a `SyncError` (see `InitLiveApi`). Responses are validated; a
 * response that breaks the contract is `INVALID_INPUT`. The key is never logged.
 */
export function createInitLiveClient(options: InitLiveClientOptions): InitLiveApi {
  const fetchImpl = options.fetch ?? fetch;
  const policy = options.retryPolicy ?? defaultRetryPolicy;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const root = options.baseUrl.replace(/\/+$/, '') + API_PREFIX;
  const orgPath = `/organizations/${encodeURIComponent(options.orgId)}`;
  const logger = (options.logger ?? silentLogger).child({
    component: 'initlive-client',
    orgId: options.orgId,
  });
  logger.redact(options.apiKey);

  async function attempt(req: Request, where: string): Promise<{ status: number; text: string }> {
    const url = new URL(root + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = {
      Authorization: `Bearer ${options.apiKey}`,
      Accept: 'application/json',
    };
    if (req.method !== 'GET') headers['X-Change-Origin'] = options.changeOrigin;
    if (req.body !== undefined) headers['Content-Type'] = 'application/json';
    if (req.ifMatch !== undefined) headers['If-Match'] = `"${req.ifMatch}"`;
    const started = Date.now();
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const res = await fetchImpl(url, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      text = await res.text();
    } catch (err) {
      throw new SyncError(
        'UPSTREAM_UNAVAILABLE',
        `InitLive ${where} failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err, retriable: true, context: { method: req.method, path: req.path } },
      );
    }
    logger.debug('initlive request', {
      method: req.method,
      path: req.path,
      status,
      ms: Date.now() - started,
    });
    if (status >= 200 && status < 300) return { status, text };

    let errorBody: InitLiveErrorBody | undefined;
    try {
      const parsed = errorBodySchema.safeParse(JSON.parse(text));
      if (parsed.success) errorBody = parsed.data.error;
    } catch {
      // A proxy's HTML error page: the status alone decides.
    }
    const context: Record<string, unknown> = { method: req.method, path: req.path };
    if (status === 429) {
      const retryAfterMs = parseRetryAfterMs(retryAfter, Date.now());
      if (retryAfterMs !== undefined) context.retryAfterMs = retryAfterMs;
    }
    throw initLiveErrorToSyncError(status, errorBody, where, context);
  }

  async function call<T>(req: Request, schema: z.ZodType<T>): Promise<T>;
  async function call(req: Request, schema: null): Promise<void>;
  async function call<T>(req: Request, schema: z.ZodType<T> | null): Promise<T | void> {
    const where = `${req.method} ${req.path}`;
    const { text } = await retry(
      async ({ bail }) => {
        try {
          return await attempt(req, where);
        } catch (err) {
          // 412, 410, 4xx: a second identical request gets the same answer.
          if (
            isSyncError(err) &&
            err.code !== 'RATE_LIMITED' &&
            err.code !== 'UPSTREAM_UNAVAILABLE'
          ) {
            return bail(err);
          }
          throw err;
        }
      },
      policy,
      {
        sleep: options.sleep,
        onRetry: (err, attemptNo, delayMs) =>
          logger.warn('initlive request retried', {
            method: req.method,
            path: req.path,
            attempt: attemptNo,
            delayMs,
            code: isSyncError(err) ? err.code : undefined,
            reason: transportFailure(err),
          }),
      },
    );
    if (schema === null) return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new SyncError('INVALID_INPUT', `InitLive ${where} returned a body that is not JSON`, {
        cause: err,
        context: { method: req.method, path: req.path },
      });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new SyncError(
        'INVALID_INPUT',
        `InitLive ${where} returned a malformed response: ${describeIssues(parsed.error)}`,
        { context: { method: req.method, path: req.path } },
      );
    }
    return parsed.data;
  }

  const staffPath = (id: string): string => `${orgPath}/staff/${encodeURIComponent(id)}`;

  function checkRange(name: string, value: number, min: number, max: number): void {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new SyncError('INVALID_INPUT', `${name} must be an integer in ${min}..${max}`, {
        context: { [name]: value },
      });
    }
  }

  async function batchChunk(operations: readonly BatchOperation[]): Promise<BatchOutcome[]> {
    const response = await call(
      {
        method: 'POST',
        path: `${orgPath}/staff/batch`,
        body: { operations: operations.map(toWireOperation) },
      },
      batchResponseSchema,
    );
    if (response.results.length !== operations.length) {
      throw new SyncError(
        'INVALID_INPUT',
        `InitLive batch returned ${response.results.length} results for ${operations.length} operations`,
      );
    }
    return response.results.map((result, i): BatchOutcome => {
      if (result.ok) return { ok: true, staff: result.staff };
      const op = operations[i];
      return {
        ok: false,
        error: initLiveErrorToSyncError(undefined, result.error, `batch operation ${i}`, {
          op: op?.op,
          id: op && 'id' in op ? op.id : undefined,
        }),
      };
    });
  }

  return {
    getOrganization: () => call({ method: 'GET', path: orgPath }, organizationSchema),

    async *listStaff(listOptions: ListStaffOptions = {}) {
      const pageSize = listOptions.pageSize ?? 500;
      checkRange('pageSize', pageSize, 1, MAX_PAGE_SIZE);
      let cursor: string | undefined;
      do {
        const page = await call(
          {
            method: 'GET',
            path: `${orgPath}/staff`,
            query: { limit: pageSize, status: listOptions.status ?? 'all', cursor },
          },
          staffPageSchema,
        );
        if (page.data.length > 0) yield page.data;
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
    },

    getStaff: (id) => call({ method: 'GET', path: staffPath(id) }, staffSchema),

    createStaff: (staff: NewStaff) =>
      call({ method: 'POST', path: `${orgPath}/staff`, body: staff }, staffSchema),

    updateStaff: (id: string, patch: StaffPatch, updateOptions: { ifMatch?: number } = {}) =>
      call(
        { method: 'PATCH', path: staffPath(id), body: patch, ifMatch: updateOptions.ifMatch },
        staffSchema,
      ),

    deleteStaff: (id, deleteOptions = {}) =>
      call({ method: 'DELETE', path: staffPath(id), ifMatch: deleteOptions.ifMatch }, null),

    async batch(operations) {
      const outcomes: BatchOutcome[] = [];
      for (let i = 0; i < operations.length; i += MAX_BATCH_OPERATIONS) {
        outcomes.push(...(await batchChunk(operations.slice(i, i + MAX_BATCH_OPERATIONS))));
      }
      return outcomes;
    },

    async readChanges(after, limit = 500): Promise<ChangesPage> {
      checkRange('after', after, 0, Number.MAX_SAFE_INTEGER);
      checkRange('limit', limit, 1, MAX_PAGE_SIZE);
      const page = await call(
        { method: 'GET', path: `${orgPath}/staff/changes`, query: { after, limit } },
        changesPageSchema,
      );
      return { changes: page.data, nextAfter: page.nextAfter, hasMore: page.hasMore };
    },

    registerWebhook: (url, secret) =>
      call({ method: 'POST', path: `${orgPath}/webhooks`, body: { url, secret } }, webhookSchema),

    unregisterWebhook: (id) =>
      call({ method: 'DELETE', path: `${orgPath}/webhooks/${encodeURIComponent(id)}` }, null),
  };
}
