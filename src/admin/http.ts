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

/** Last handler: SyncErrors answer with their code; anything else is a 500 with no internals. */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const type = (err as { type?: unknown }).type;
    if (type === 'entity.parse.failed') {
      sendError(res, 'INVALID_INPUT', 'the body is not valid JSON', {
        fields: [{ path: '(body)', message: 'is not valid JSON' }],
      });
      return;
    }
    if (type === 'entity.too.large') {
      sendError(res, 'INVALID_INPUT', 'the body is too large', undefined, 413);
      return;
    }
    if (isSyncError(err)) {
      const fields = err.context.fields;
      const details: Record<string, unknown> = {};
      if (Array.isArray(fields)) details.fields = fields;
      for (const [k, v] of Object.entries(err.context)) if (k !== 'fields') details[k] = v;
      if (err.httpStatus >= 500) logger.error('admin request failed', { path: req.path, err });
      sendError(res, err.code, err.message, Object.keys(details).length > 0 ? details : undefined);
      return;
    }
    logger.error('admin request failed', { method: req.method, path: req.path, err });
    sendError(res, 'INTERNAL', 'internal error');
  };
}
