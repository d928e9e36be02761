import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logger';
import type { AuditActor, AuditChange, AuditLog } from './audit-log';
import type { AuthLocals } from './auth';
import { requestIdOf } from './request-guards';

/** What a route adds to its audit entry (`res.locals.audit`). */
export interface AuditNote {
  /** For routes not under /api/orgs/:orgId (the OAuth callback): whose organization. */
  orgId?: string;
  changes?: AuditChange[];
  detail?: Record<string, string>;
}

export function noteAudit(res: Response, note: AuditNote): void {
  res.locals.audit = { ...(res.locals.audit as AuditNote | undefined), ...note };
}

function actorOf(res: Response): AuditActor {
  const auth = res.locals.auth as AuthLocals | undefined;
  const p = auth?.principal;
  if (!p) return { kind: 'oauth', name: 'oauth-callback', tokenId: null };
  return p.kind === 'admin'
    ? { kind: 'admin', name: 'root', tokenId: null }
    : { kind: 'org', name: p.name, tokenId: p.tokenId };
}

/**
 * Records one state-changing admin call (`action`, a route's `audit`) once its answer is sent:
 * the organization, who (a token's name and id, never a secret), the outcome, the request id,
 * and what the route noted (a settings change's fields before and after). Placed before the
 * access check, so refused attempts (403, 400) are recorded too. A log that cannot be written
 * costs a warning, never the request.
 */
export function recordAdminAction(
  log: AuditLog,
  logger: Logger,
  now: () => number,
  action: string,
): RequestHandler {
  return (req: Request, res: Response, next) => {
    res.on('finish', () => {
      const note = res.locals.audit as AuditNote | undefined;
      const orgId = typeof req.params.orgId === 'string' ? req.params.orgId : note?.orgId;
      if (!orgId) return;
      const status = res.statusCode;
      log
        .append({
          at: now(),
          orgId,
          action,
          actor: actorOf(res),
          status,
          outcome: status < 400 ? 'succeeded' : status < 500 ? 'refused' : 'failed',
          requestId: requestIdOf(res),
          ...(note?.changes ? { changes: note.changes } : {}),
          ...(note?.detail ? { detail: note.detail } : {}),
        })
        .catch((err: unknown) =>
          logger.warn('audit entry not stored', {
            orgId,
            action,
            requestId: requestIdOf(res),
            err,
          }),
        );
    });
    next();
  };
}
