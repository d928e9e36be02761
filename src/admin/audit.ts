import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logger';
import type { AuditActor, AuditChange, AuditLog } from './audit-log';
import type { AuthLocals } from './auth';
import { requestIdOf } from './request-guards';

/** State-changing routes under `/api/orgs/:orgId`, by method and the path below it. */
const ACTIONS: Array<[string, RegExp, string]> = [
  ['POST', /^\/salesforce\/connect$/, 'connect.started'],
  ['POST', /^\/salesforce\/disconnect$/, 'disconnected'],
  ['PUT', /^\/salesforce\/settings$/, 'settings.changed'],
  ['POST', /^\/salesforce\/sync$/, 'sync.requested'],
  ['POST', /^\/salesforce\/errors\/retry$/, 'dead-letters.retried'],
  ['POST', /^\/salesforce\/errors\/[^/]+\/retry$/, 'dead-letter.retried'],
  ['DELETE', /^\/salesforce\/errors\/[^/]+$/, 'dead-letter.dismissed'],
  ['POST', /^\/tokens$/, 'token.created'],
  ['DELETE', /^\/tokens\/[^/]+$/, 'token.revoked'],
];

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
 * Records every state-changing admin call once its answer is sent: the organization, the
 * action, who (a token's name and id, never a secret), the outcome, the request id, and what
 * the route noted (a settings change's fields before and after). Refused attempts (403, 400)
 * are recorded too. A log that cannot be written costs a warning, never the request.
 */
export function recordAdminActions(
  log: AuditLog,
  logger: Logger,
  now: () => number,
  fixedAction?: string,
): RequestHandler {
  return (req: Request, res: Response, next) => {
    const action =
      fixedAction ?? ACTIONS.find(([m, path]) => m === req.method && path.test(req.path))?.[2];
    if (!action) return next();
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
