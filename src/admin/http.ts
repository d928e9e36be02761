import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { ErrorCode } from '../errors';
import { ErrorCodes, SyncError, isSyncError } from '../errors';
import type { Logger } from '../logger';
import { assertOrgId } from '../orgs/connection-store';

/**
 * HTTP plumbing shared by the admin routes: the one error shape, bearer-token checking, and
 * zod validation that names every bad field.
 *
 * Every error answers `{ error: { code, message, details? } }` with the status of its code.
 */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export function sendError(
  res: Response,
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
  status: number = ErrorCodes[code].httpStatus,
): void {
  const body: ErrorBody = { error: { code, message, ...(details ? { details } : {}) } };
  res.status(status).json(body);
}

/** A 400 listing each bad field as `{ path, message }`. */
export function invalidInput(
  message: string,
  fields: Array<{ path: string; message: string }>,
): SyncError {
  return new SyncError('INVALID_INPUT', message, { context: { fields } });
}

/** Parses `input` with `schema` or throws INVALID_INPUT naming every bad field. */
export function validate<T extends z.ZodType>(
  schema: T,
  input: unknown,
  what: string,
): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fields: Array<{ path: string; message: string }> = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        fields.push({
          path: [...issue.path, key].map(String).join('.'),
          message: 'is not a known field',
        });
    } else {
      fields.push({ path: issue.path.map(String).join('.') || '(body)', message: issue.message });
    }
  }
  throw invalidInput(
    `invalid ${what}: ${fields.map((f) => `${f.path} ${f.message}`).join('; ')}`,
    fields,
  );
}

/** The :orgId parameter, checked. */
export function orgIdOf(req: Request): string {
  const orgId = String(req.params.orgId ?? '');
  assertOrgId(orgId);
  return orgId;
}

/** A random admin token (used when ADMIN_TOKEN is unset). */
export function generateAdminToken(): string {
  return randomBytes(24).toString('base64url');
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Requires `Authorization: Bearer <token>`. The comparison is constant-time over fixed-length
 * digests, so neither the token's content nor its length leaks through timing.
 */
export function requireBearer(token: string): RequestHandler {
  const expected = digest(token);
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      sendError(
        res,
        'AUTH_FAILED',
        'missing bearer token: send Authorization: Bearer <ADMIN_TOKEN>',
      );
      return;
    }
    if (!timingSafeEqual(digest(match[1]), expected)) {
      res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
      sendError(res, 'AUTH_FAILED', 'wrong bearer token');
      return;
    }
    next();
  };
}

/** Whether a request carries a body (a length above zero, or a chunked one). */
function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(req.headers['content-length'] ?? 0);
  return Number.isFinite(length) && length > 0;
}

/**
 * The API speaks JSON: a request that carries a body of another type (a form, text, no type at
 * all) is refused with 415 before anything reads it, so a proxy or form that sends the wrong
 * type can never be taken for an empty request and change something.
 */
export function requireJsonBodies(): RequestHandler {
  return (req, res, next) => {
    if (!hasBody(req) || req.is(['application/json', 'application/*+json'])) {
      next();
      return;
    }
    const got = req.headers['content-type'];
    sendError(
      res,
      'UNSUPPORTED_MEDIA_TYPE',
      `send the body as application/json (got ${got ? `Content-Type ${got.slice(0, 100)}` : 'no Content-Type'})`,
    );
  };
}

/** The JSON object a route needs as its body: 400 when there is none, or it is not an object. */
export function jsonObjectBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined || (req as { emptyBody?: boolean }).emptyBody === true) {
    throw invalidInput('the body is empty: send a JSON object', [
      { path: '(body)', message: 'is required' },
    ]);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidInput('the body must be a JSON object', [
      { path: '(body)', message: 'must be a JSON object' },
    ]);
  }
  return body as Record<string, unknown>;
}

/** Why the request could not be read, for what express and its body parser refuse. */
function unreadable(err: unknown): { status: number; code: ErrorCode; message: string } | null {
  const e = err as { type?: unknown; status?: unknown; statusCode?: unknown; name?: unknown };
  const status = Number(e.status ?? e.statusCode);
  switch (e.type) {
    case 'entity.parse.failed':
      return { status: 400, code: 'INVALID_INPUT', message: 'the body is not valid JSON' };
    case 'entity.too.large':
      return { status: 413, code: 'INVALID_INPUT', message: 'the body is too large' };
    case 'encoding.unsupported':
      return {
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'the Content-Encoding is not supported: send identity, gzip, deflate or br',
      };
    case 'charset.unsupported':
      return {
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'the charset is not supported: send UTF-8',
      };
  }
  // The router cannot decode a path parameter (a malformed %-escape), or the body stream broke.
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    const message =
      e.name === 'URIError' ? 'the path has a malformed %-escape' : 'the request could not be read';
    return { status, code: status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'INVALID_INPUT', message };
  }
  return null;
}

/** Last handler: SyncErrors answer with their code; anything else is a 500 with no internals. */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const bad = unreadable(err);
    if (bad) {
      sendError(res, bad.code, bad.message, undefined, bad.status);
      return;
    }
    if (isSyncError(err)) {
      const fields = err.context.fields;
      const details: Record<string, unknown> = {};
      if (Array.isArray(fields)) details.fields = fields;
      for (const [k, v] of Object.entries(err.context)) if (k !== 'fields') details[k] = v;
      if (err.httpStatus >= 500) {
        logger.error('admin request failed', {
          path: req.path,
          requestId: res.locals.requestId,
          err,
        });
      }
      sendError(res, err.code, err.message, Object.keys(details).length > 0 ? details : undefined);
      return;
    }
    logger.error('admin request failed', {
      method: req.method,
      path: req.path,
      requestId: res.locals.requestId,
      err,
    });
    sendError(res, 'INTERNAL', 'internal error');
  };
}
