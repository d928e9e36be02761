import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../logger';
import { ApiError } from './model';
import type { SandboxOrg, StaffRecord } from './model';
import type { KeyRateLimiter } from './rate-limit';
import type { InitLiveStore } from './store';
import { parseStaffWrite } from './validation';
import type { WebhookMode } from './webhooks';

/**
 * The HTTP side of the InitLive sandbox: `/api/v1/...` exactly as the contract
 * (docs/sandbox-initlive.md), and `/__sandbox/...`, the sandbox-only control routes, guarded
 * by an organization's key. Every answer that is not a success uses the one error shape
 * `{"error": {"code", "message", "details"}}`, unknown routes and unparseable JSON included.
 */

export const API_PREFIX = '/api/v1';
export const CONTROL_PREFIX = '/__sandbox';
const MAX_BATCH_OPERATIONS = 200;
const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 500;
const BODY_LIMIT = '5mb';

export interface SandboxCounters {
  /** API requests per route, e.g. `GET /organizations/:orgId/staff`. */
  requests: Record<string, number>;
  requestsTotal: number;
  /** API responses per HTTP status. */
  responses: Record<string, number>;
  /** Successful API write operations (each batch operation counts; no-op patches included). */
  writes: number;
  /** Feed entries recorded, from any source (API, control, hoursWorked). */
  changes: number;
  /** 429s answered, forced or from the token bucket. */
  rateLimited: number;
  webhook: { attempts: number; delivered: number; failed: number };
}

export interface OrgFaults {
  rateLimitCount: number;
  retryAfterSeconds: number;
  serverErrorCount: number;
  serverErrorStatus: number;
}

/** What the control routes need; the in-process control object provides it. */
export interface ControlSurface {
  counters(): SandboxCounters;
  resetCounters(): void;
  failNextWithRateLimit(
    count: number,
    options: { retryAfterSeconds?: number; orgId: string },
  ): void;
  failNextWithServerError(count: number, options: { status?: number; orgId: string }): void;
  expireFeed(options: { orgId: string }): number;
  advanceClock(ms: number): number;
  setWebhookMode(mode: Partial<WebhookMode>): WebhookMode;
  webhookAttempts(): unknown[];
  createStaff(input: unknown, options: { orgId: string }): StaffRecord;
  updateStaff(id: string, patch: unknown, options: { orgId: string }): StaffRecord;
  deleteStaff(id: string, options: { orgId: string }): void;
  setHoursWorked(id: string, hours: number, options: { orgId: string }): StaffRecord;
  seedStaff(
    count: number,
    options: { orgId: string; seed?: string | number; recordChanges?: boolean },
  ): StaffRecord[];
  createOrg(options?: NewOrgOptions): SandboxOrg;
}

/** An organization created while the sandbox runs; every field has a fresh default. */
export interface NewOrgOptions {
  id?: string;
  name?: string;
  timezone?: string;
  apiKey?: string;
  /** Generated staff it starts with (seed/seed.ts), without feed entries. */
  staffCount?: number;
  seed?: string | number;
}

export interface AppDeps {
  store: InitLiveStore;
  /** The organization an integration key belongs to; organizations may be added while running. */
  orgByKey(apiKey: string): SandboxOrg | undefined;
  limiter: KeyRateLimiter | null;
  faults: Map<string, OrgFaults>;
  counters: SandboxCounters;
  control: ControlSurface;
  /** Called after writes that the store's change listener does not see (webhook registry). */
  markDirty: () => void;
  logger: Logger;
}

interface Ctx {
  req: Request;
  res: Response;
  org: SandboxOrg;
  origin: string | null;
  body: unknown;
}

function invalid(field: string, problem: string): ApiError {
  return new ApiError(400, 'invalid_request', `${field} ${problem}`, { [field]: problem });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function queryString(req: Request, name: string): string | undefined {
  const value: unknown = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(name, 'must be given once, as a plain value');
  return value;
}

function queryInt(req: Request, name: string, def: number, min: number, max: number): number {
  const raw = queryString(req, name);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw invalid(name, `must be an integer from ${min} to ${max}`);
  }
  return Number(raw);
}

/** `"7"`, `W/"7"` or `7`; `*` matches any version. */
function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (!m || Number(m[1]) < 1) throw invalid('If-Match', 'must be a version ETag such as "7"');
  return Number(m[1]);
}

function parseOrigin(req: Request): string | null {
  const value = req.get('X-Change-Origin');
  if (value === undefined || value.trim() === '') return null;
  if (value.length > 100) throw invalid('X-Change-Origin', 'must be at most 100 characters');
  return value.trim();
}

function parseJsonBody(req: Request): unknown {
  const raw: unknown = req.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw invalid(
      'body',
      `is not valid JSON (${err instanceof Error ? err.message : String(err)})`,
    );
  }
}

function bearer(req: Request): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('Authorization') ?? '');
  return m?.[1];
}

function sendStaff(res: Response, staff: StaffRecord, status = 200): void {
  res.status(status).set('ETag', `"${staff.version}"`).json(staff);
}

export function createInitLiveApp(deps: AppDeps): express.Express {
  const { store, counters, faults } = deps;
  const app = express();
  app.disable('x-powered-by');
  // The API's ETag is the record version; Express's body-hash ETags would contradict it.
  app.set('etag', false);
  app.use([API_PREFIX, CONTROL_PREFIX], express.raw({ type: () => true, limit: BODY_LIMIT }));
  app.use(API_PREFIX, (_req, res, next) => {
    res.on('finish', () => {
      counters.responses[res.statusCode] = (counters.responses[res.statusCode] ?? 0) + 1;
    });
    next();
  });

  function authenticate(req: Request): SandboxOrg {
    const key = bearer(req);
    const org = key === undefined ? undefined : deps.orgByKey(key);
    if (!org) {
      throw new ApiError(401, 'unauthorized', 'Missing or unknown integration key', {
        header: 'Authorization: Bearer <integration key>',
      });
    }
    return org;
  }

  /** Injected faults first (they model an overloaded InitLive), then the token bucket. */
  function gate(org: SandboxOrg, res: Response): void {
    const f = faults.get(org.id);
    if (f && f.rateLimitCount > 0) {
      f.rateLimitCount--;
      counters.rateLimited++;
      res.set('Retry-After', String(f.retryAfterSeconds));
      throw new ApiError(429, 'rate_limited', 'Too many requests (injected by the sandbox)', {
        retryAfterSeconds: f.retryAfterSeconds,
      });
    }
    if (f && f.serverErrorCount > 0) {
      f.serverErrorCount--;
      throw new ApiError(
        f.serverErrorStatus,
        'internal',
        'Internal error (injected by the sandbox)',
      );
    }
    const verdict = deps.limiter?.take(org.apiKey) ?? { ok: true };
    if (!verdict.ok) {
      counters.rateLimited++;
      res.set('Retry-After', String(verdict.retryAfterSeconds));
      throw new ApiError(429, 'rate_limited', 'Rate limit exceeded for this integration key', {
        retryAfterSeconds: verdict.retryAfterSeconds,
      });
    }
  }

  function api(
    method: 'get' | 'post' | 'patch' | 'delete',
    pattern: string,
    handler: (ctx: Ctx) => void,
  ): void {
    const routeKey = `${method.toUpperCase()} ${pattern}`;
    app[method](API_PREFIX + pattern, (req: Request, res: Response) => {
      counters.requests[routeKey] = (counters.requests[routeKey] ?? 0) + 1;
      counters.requestsTotal++;
      const org = authenticate(req);
      const orgId = String(req.params.orgId);
      if (org.id !== orgId) {
        throw new ApiError(403, 'forbidden', `This key does not belong to organization ${orgId}`, {
          orgId,
        });
      }
      gate(org, res);
      const origin = method === 'get' ? null : parseOrigin(req);
      handler({ req, res, org, origin, body: parseJsonBody(req) });
    });
  }

  api('get', '/organizations/:orgId', ({ res, org }) => {
    res.json({ id: org.id, name: org.name, timezone: org.timezone });
  });

  api('get', '/organizations/:orgId/staff', ({ req, res, org }) => {
    const status = queryString(req, 'status') ?? 'active';
    if (status !== 'active' && status !== 'archived' && status !== 'all') {
      throw invalid('status', 'must be active, archived or all');
    }
    const cursor = queryString(req, 'cursor');
    res.json(
      store.listStaff(org.id, {
        limit: queryInt(req, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT),
        cursor: cursor === '' ? undefined : cursor,
        status,
      }),
    );
  });

  api('get', '/organizations/:orgId/staff/changes', ({ req, res, org }) => {
    const after = queryInt(req, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
    res.json(store.readChanges(org.id, after, queryInt(req, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT)));
  });

  api('post', '/organizations/:orgId/staff/batch', ({ res, org, origin, body }) => {
    if (!isPlainObject(body) || !Array.isArray(body.operations)) {
      throw invalid('operations', 'must be an array of operations');
    }
    const ops: unknown[] = body.operations;
    if (ops.length < 1 || ops.length > MAX_BATCH_OPERATIONS) {
      throw invalid('operations', `must hold 1 to ${MAX_BATCH_OPERATIONS} operations`);
    }
    const results = ops.map((op) => {
      try {
        const staff = runOperation(org.id, op, origin);
        counters.writes++;
        return { ok: true, staff };
      } catch (err) {
        if (err instanceof ApiError) return { ok: false, error: err.toBody().error };
        throw err;
      }
    });
    res.json({ results });
  });

  function runOperation(orgId: string, op: unknown, origin: string | null): StaffRecord | null {
    if (!isPlainObject(op)) throw invalid('operation', 'must be an object');
    const allowed = new Set(['op', 'id', 'ifMatch', 'staff']);
    for (const key of Object.keys(op)) {
      if (!allowed.has(key))
        throw invalid(key, 'is not an operation field (op, id, ifMatch, staff)');
    }
    if (op.ifMatch !== undefined && (!Number.isInteger(op.ifMatch) || (op.ifMatch as number) < 1)) {
      throw invalid('ifMatch', 'must be a positive integer version');
    }
    const ifMatch = op.ifMatch as number | undefined;
    if (op.op === 'create') {
      if (op.id !== undefined) throw invalid('id', 'must not be given for create');
      return store.createStaff(orgId, parseStaffWrite(op.staff, 'create'), { origin });
    }
    if (op.op !== 'update' && op.op !== 'archive' && op.op !== 'delete') {
      throw invalid('op', 'must be create, update, archive or delete');
    }
    if (typeof op.id !== 'string' || op.id === '') throw invalid('id', 'is required');
    switch (op.op) {
      case 'update':
        return store.updateStaff(orgId, op.id, parseStaffWrite(op.staff, 'patch'), {
          origin,
          ifMatch,
        });
      case 'archive':
        if (op.staff !== undefined) throw invalid('staff', 'must not be given for archive');
        return store.updateStaff(orgId, op.id, { status: 'archived' }, { origin, ifMatch });
      case 'delete':
        if (op.staff !== undefined) throw invalid('staff', 'must not be given for delete');
        store.deleteStaff(orgId, op.id, { origin, ifMatch });
        return null;
    }
  }

  api('get', '/organizations/:orgId/staff/:id', ({ req, res, org }) => {
    sendStaff(res, store.getStaff(org.id, String(req.params.id)));
  });

  api('post', '/organizations/:orgId/staff', ({ res, org, origin, body }) => {
    const staff = store.createStaff(org.id, parseStaffWrite(body, 'create'), { origin });
    counters.writes++;
    res.set('Location', `${API_PREFIX}/organizations/${org.id}/staff/${staff.id}`);
    sendStaff(res, staff, 201);
  });

  api('patch', '/organizations/:orgId/staff/:id', ({ req, res, org, origin, body }) => {
    const ifMatch = parseIfMatch(req.get('If-Match'));
    const patch = parseStaffWrite(body ?? {}, 'patch');
    const staff = store.updateStaff(org.id, String(req.params.id), patch, { origin, ifMatch });
    counters.writes++;
    sendStaff(res, staff);
  });

  api('delete', '/organizations/:orgId/staff/:id', ({ req, res, org, origin }) => {
    const ifMatch = parseIfMatch(req.get('If-Match'));
    store.deleteStaff(org.id, String(req.params.id), { origin, ifMatch });
    counters.writes++;
    res.status(204).end();
  });

  api('post', '/organizations/:orgId/webhooks', ({ res, org, body }) => {
    if (!isPlainObject(body)) throw invalid('body', 'must be a JSON object {url, secret}');
    const problems: Record<string, string> = {};
    let url: URL | undefined;
    try {
      url = typeof body.url === 'string' ? new URL(body.url) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      problems.url = 'must be an http(s) URL';
    }
    if (typeof body.secret !== 'string' || body.secret.length < 8 || body.secret.length > 200) {
      problems.secret = 'must be a string of 8 to 200 characters';
    }
    for (const key of Object.keys(body)) {
      if (key !== 'url' && key !== 'secret') problems[key] = 'is not a webhook field';
    }
    if (Object.keys(problems).length > 0) {
      throw new ApiError(400, 'invalid_request', 'Invalid webhook', problems);
    }
    const hook = store.addWebhook(org.id, String(body.url), String(body.secret));
    deps.markDirty();
    res.status(201).json({ id: hook.id, url: hook.url });
  });

  api('delete', '/organizations/:orgId/webhooks/:id', ({ req, res, org }) => {
    store.removeWebhook(org.id, String(req.params.id));
    deps.markDirty();
    res.status(204).end();
  });

  mountControl(app, deps, (req) => authenticate(req));

  app.use((req: Request) => {
    if (req.path.startsWith(`${API_PREFIX}/`) || req.path === API_PREFIX) authenticate(req);
    throw new ApiError(404, 'not_found', `No route ${req.method} ${req.path}`, {
      method: req.method,
      path: req.path,
    });
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    let error: ApiError;
    if (err instanceof ApiError) error = err;
    else if ((err as { type?: unknown }).type === 'entity.too.large') {
      error = invalid('body', `must be at most ${BODY_LIMIT}`);
    } else {
      deps.logger.error('initlive sandbox handler failed', { err });
      error = new ApiError(500, 'internal', 'Internal error');
    }
    if (res.headersSent) return;
    res.status(error.status).json(error.toBody());
  });

  return app;
}

/**
 * Sandbox-only routes (not part of InitLive): test and demo hooks, authenticated with an
 * organization's key and acting on that organization. Never rate limited or counted.
 * `POST /__sandbox/orgs` (any organization's key) creates another organization and answers it,
 * its key included.
 */
function mountControl(
  app: express.Express,
  deps: AppDeps,
  authenticate: (req: Request) => SandboxOrg,
): void {
  const { control } = deps;
  const route = (
    method: 'get' | 'post' | 'patch' | 'put' | 'delete',
    path: string,
    handler: (ctx: { req: Request; res: Response; org: SandboxOrg; body: unknown }) => void,
  ): void => {
    app[method](CONTROL_PREFIX + path, (req: Request, res: Response) => {
      const org = authenticate(req);
      handler({ req, res, org, body: parseJsonBody(req) });
    });
  };
  const object = (body: unknown): Record<string, unknown> => {
    if (body === undefined) return {};
    if (!isPlainObject(body)) throw invalid('body', 'must be a JSON object');
    return body;
  };
  const count = (value: unknown, name: string): number => {
    if (!Number.isInteger(value) || (value as number) < 0)
      throw invalid(name, 'must be an integer >= 0');
    return value as number;
  };

  app.get(`${CONTROL_PREFIX}/health`, (_req, res) => {
    res.json({ ok: true });
  });
  route('get', '/counters', ({ res }) => {
    res.json(control.counters());
  });
  route('post', '/counters/reset', ({ res }) => {
    control.resetCounters();
    res.status(204).end();
  });
  route('post', '/faults', ({ res, org, body }) => {
    const b = object(body);
    if (b.rateLimit !== undefined) {
      const r = object(b.rateLimit);
      const retryAfterSeconds =
        r.retryAfterSeconds === undefined
          ? undefined
          : count(r.retryAfterSeconds, 'rateLimit.retryAfterSeconds');
      control.failNextWithRateLimit(count(r.count, 'rateLimit.count'), {
        retryAfterSeconds,
        orgId: org.id,
      });
    }
    if (b.serverError !== undefined) {
      const s = object(b.serverError);
      const status = s.status === undefined ? undefined : count(s.status, 'serverError.status');
      if (status !== undefined && (status < 500 || status > 599))
        throw invalid('serverError.status', 'must be 5xx');
      control.failNextWithServerError(count(s.count, 'serverError.count'), {
        status,
        orgId: org.id,
      });
    }
    res.status(204).end();
  });
  route('post', '/feed/expire', ({ res, org }) => {
    res.json({ purged: control.expireFeed({ orgId: org.id }) });
  });
  route('post', '/clock/advance', ({ res, body }) => {
    const ms = object(body).ms;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
      throw invalid('ms', 'must be a number >= 0');
    res.json({ now: new Date(control.advanceClock(ms)).toISOString() });
  });
  route('post', '/webhooks/mode', ({ res, body }) => {
    const b = object(body);
    const mode: Partial<WebhookMode> = {};
    for (const key of ['duplicate', 'reorder'] as const) {
      if (b[key] === undefined) continue;
      if (typeof b[key] !== 'boolean') throw invalid(key, 'must be a boolean');
      mode[key] = b[key];
    }
    res.json(control.setWebhookMode(mode));
  });
  route('get', '/webhooks/deliveries', ({ res }) => {
    res.json({ data: control.webhookAttempts() });
  });
  route('post', '/staff', ({ res, org, body }) => {
    res.status(201).json(control.createStaff(body, { orgId: org.id }));
  });
  route('patch', '/staff/:id', ({ req, res, org, body }) => {
    res.json(control.updateStaff(String(req.params.id), body ?? {}, { orgId: org.id }));
  });
  route('delete', '/staff/:id', ({ req, res, org }) => {
    control.deleteStaff(String(req.params.id), { orgId: org.id });
    res.status(204).end();
  });
  route('put', '/staff/:id/hours-worked', ({ req, res, org, body }) => {
    const hours = object(body).hoursWorked;
    if (typeof hours !== 'number') throw invalid('hoursWorked', 'must be a number >= 0');
    res.json(control.setHoursWorked(String(req.params.id), hours, { orgId: org.id }));
  });
  route('post', '/orgs', ({ res, body }) => {
    const b = object(body);
    const text = (key: string): string | undefined => {
      if (b[key] === undefined) return undefined;
      if (typeof b[key] !== 'string' || b[key] === '') throw invalid(key, 'must be a string');
      return b[key];
    };
    const seed = b.seed;
    if (seed !== undefined && typeof seed !== 'string' && typeof seed !== 'number') {
      throw invalid('seed', 'must be a string or number');
    }
    const staffCount = b.staffCount === undefined ? 0 : count(b.staffCount, 'staffCount');
    if (staffCount > 100_000) throw invalid('staffCount', 'must be at most 100000');
    const org = control.createOrg({
      id: text('id'),
      name: text('name'),
      timezone: text('timezone'),
      apiKey: text('apiKey'),
      staffCount,
      seed,
    });
    res.status(201).json(org);
  });
  route('post', '/seed', ({ res, org, body }) => {
    const b = object(body);
    const seed = b.seed;
    if (seed !== undefined && typeof seed !== 'string' && typeof seed !== 'number') {
      throw invalid('seed', 'must be a string or number');
    }
    const n = count(b.count, 'count');
    if (n > 100_000) throw invalid('count', 'must be at most 100000');
    res.status(201).json({ created: control.seedStaff(n, { orgId: org.id, seed }).length });
  });
}
