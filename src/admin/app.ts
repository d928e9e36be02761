import express from 'express';
import type { RequestHandler } from 'express';
import { ApiBudgetBook } from './api-budget';
import { randomBytes } from 'node:crypto';
import {
  adminTokenAuthenticator,
  apiTokenAuthenticator,
  requireAuth,
  requireOrgAccess,
} from './auth';
import { consoleRouter, defaultConsoleDir, securityHeaders } from './console';
import type { AdminContext, AdminDeps, RouteDef } from './context';
import { errorHandler, generateAdminToken, requireJsonBodies, sendError } from './http';
import { failedAuthLimit, requestIdOf, requestIds } from './request-guards';
import { recordAdminAction } from './audit';
import { routes } from './routes';

export type { AdminDeps, AdminOAuthSettings } from './context';

const TOKEN_KEY = 'adminToken';
const CLOSE_KEY = 'adminClose';

/**
 * The admin HTTP API (express 5, JSON): `/api/...` behind `Authorization: Bearer <token>` or a
 * console session, the OAuth callback, `/metrics`, `/healthz`, `/readyz`, and the admin
 * console at `/` (src/admin/console.ts). The token is ADMIN_TOKEN, or a random
 * one when it is unset: read it with `adminTokenOf(app)` to print it. It is registered with the
 * logger, so it never appears in a log line.
 */
export function createAdminApp(deps: AdminDeps): express.Express {
  const token = deps.config.ADMIN_TOKEN ?? generateAdminToken();
  deps.logger.redact(token);
  const now = deps.now ?? Date.now;
  const ctx: AdminContext = {
    ...deps,
    now,
    apiBudget: new ApiBudgetBook(deps.events, now),
    oauthStateTtlMs: deps.oauthStateTtlMs ?? 10 * 60_000,
    salesforceApiVersion: deps.salesforceApiVersion ?? '62.0',
    authenticator: apiTokenAuthenticator(
      adminTokenAuthenticator(token, deps.sessionKey ?? randomBytes(32)),
      deps.tokens,
      now,
    ),
    sessionTtlMs: deps.sessionTtlMs ?? 8 * 3_600_000,
  };
  const logger = deps.logger.child({ component: 'admin' });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.locals[TOKEN_KEY] = token;
  const authLimit = failedAuthLimit(deps.failedAuthLimit);
  app.locals[CLOSE_KEY] = () => {
    ctx.apiBudget.close();
    authLimit.close();
  };
  app.use(requestIds);
  app.use((req, res, next) => {
    const started = Date.now();
    // The path only: the OAuth callback's query carries the code and state.
    res.on('finish', () =>
      logger.debug('http', {
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Date.now() - started,
        requestId: requestIdOf(res),
      }),
    );
    next();
  });
  app.use(securityHeaders);
  // Before any route that reads a credential (sign-in included).
  app.use('/api', authLimit);
  app.use('/api', (_req, res, next) => {
    // Answers carry the organization's data and the session's CSRF token: never cached.
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  // The API speaks JSON: another body type is refused before anything reads it (415).
  app.use('/api', requireJsonBodies());
  const json = (limit: string): express.RequestHandler =>
    express.json({
      limit,
      type: ['application/json', 'application/*+json'],
      // A chunked body of no bytes parses as {}: remember it was empty (see jsonObjectBody).
      verify: (req, _res, buf) => {
        if (buf.length === 0) (req as { emptyBody?: boolean }).emptyBody = true;
      },
    });
  // Routes without a token (health, metrics, the OAuth callback, sign-in) come before the
  // check; sign-in is the only one with a body, and a small one.
  const small = json('16kb');
  // A route's audit entry first, so refused attempts are on record too; then, for one
  // organization's routes, whether the caller may use that organization.
  const orgAccess = requireOrgAccess();
  const guards = (route: RouteDef): RequestHandler[] => [
    ...(route.audit ? [recordAdminAction(deps.audit, logger, now, route.audit)] : []),
    ...(route.path.startsWith('/api/orgs/:orgId') ? [orgAccess] : []),
  ];
  for (const route of routes.filter((r) => !r.auth))
    app[route.method](route.path, small, ...guards(route), route.handler(ctx));
  app.use('/api', requireAuth(ctx.authenticator, ctx.sessions));
  app.use(json('1mb'));
  for (const route of routes.filter((r) => r.auth))
    app[route.method](route.path, ...guards(route), route.handler(ctx));
  app.use(consoleRouter(deps.consoleDir === undefined ? defaultConsoleDir() : deps.consoleDir));
  app.use((req, res) => sendError(res, 'NOT_FOUND', `no route ${req.method} ${req.path}`));
  app.use(errorHandler(logger));
  return app;
}

/** The bearer token the app accepts (generated when ADMIN_TOKEN was unset). */
export function adminTokenOf(app: express.Express): string {
  return String(app.locals[TOKEN_KEY]);
}

/** Stops the app's event listeners (the HTTP server is closed by its owner). */
export function closeAdminApp(app: express.Express): void {
  const close = app.locals[CLOSE_KEY] as (() => void) | undefined;
  close?.();
}
