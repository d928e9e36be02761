import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { sendError } from './http';
import type { Principal, Session, SessionStore } from './session-store';
import { parseApiToken, secretMatches, type ApiTokenStore } from './token-store';
import { hashSessionId, isSessionSecret } from './session-store';

/**
 * Who may call `/api`: a bearer token (scripts, curl) or a console session cookie (browsers).
 *
 * The console signs in once with a bearer token (`POST /api/session`) and from then on sends
 * only the HttpOnly, SameSite=Strict session cookie plus, on unsafe methods, the session's
 * CSRF token in `X-CSRF-Token`. Both doors end at the same Authenticator, so a new kind of
 * token (issue 17's per-organization tokens) signs in to the console the way it calls the API.
 */
export interface Authenticator {
  /** The principal a bearer token stands for, or null when it stands for none. */
  authenticate(token: string): Promise<Principal | null>;
  /** Whether a signed-in principal's credential still stands (not rotated or revoked). */
  isCurrent(principal: Principal): Promise<boolean>;
}

/** Fixed-length MAC of a token, so comparisons neither leak content nor length by timing. */
function fingerprint(key: Buffer, token: string): Buffer {
  return createHmac('sha256', key).update(token, 'utf8').digest();
}

/**
 * The deployment's admin token. `key` keys the credential fingerprint kept in sessions: derived
 * from ENCRYPTION_KEY when processes share sessions, so every process computes the same one,
 * and a session store read at rest does not offer an offline guess at a weak ADMIN_TOKEN.
 */
export function adminTokenAuthenticator(token: string, key: Buffer): Authenticator {
  const expected = fingerprint(key, token);
  const credentialId = expected.subarray(0, 16).toString('base64url');
  return {
    authenticate: async (candidate) =>
      timingSafeEqual(fingerprint(key, candidate), expected)
        ? { kind: 'admin', credentialId }
        : null,
    isCurrent: async (principal) =>
      principal.kind === 'admin' && principal.credentialId === credentialId,
  };
}

/** How stale a token's recorded last use may get before a request writes it again. */
const LAST_USED_PRECISION_MS = 60_000;

/**
 * The root token or an organization's API token (`ilt_<id>_<secret>`, looked up in `tokens`
 * on every request, so a revocation holds at once in every process sharing the store).
 */
export function apiTokenAuthenticator(
  root: Authenticator,
  tokens: ApiTokenStore,
  now: () => number,
): Authenticator {
  return {
    authenticate: async (candidate) => {
      const parsed = parseApiToken(candidate);
      if (!parsed) return root.authenticate(candidate);
      const token = await tokens.get(parsed.id);
      if (!token || !secretMatches(token, parsed.secret)) return null;
      const at = now();
      if (token.lastUsedAt === null || at - token.lastUsedAt >= LAST_USED_PRECISION_MS) {
        await tokens.touch(token.orgId, token.id, at);
      }
      return {
        kind: 'org',
        orgId: token.orgId,
        role: token.role,
        tokenId: token.id,
        name: token.name,
        credentialId: token.id,
      };
    },
    isCurrent: async (principal) => {
      if (principal.kind === 'admin') return root.isCurrent(principal);
      return (await tokens.get(principal.tokenId))?.orgId === principal.orgId;
    },
  };
}

/**
 * What a principal may do with one organization: root everything; an organization's token
 * only its own, and a viewer's only reads. `403 FORBIDDEN` otherwise, saying which.
 */
export function requireOrgAccess(): RequestHandler {
  return (req, res, next) => {
    const { principal } = authOf(res);
    if (principal.kind === 'admin') return next();
    const orgId = typeof req.params.orgId === 'string' ? req.params.orgId : '';
    if (orgId !== principal.orgId) {
      sendError(
        res,
        'FORBIDDEN',
        `token "${principal.name}" belongs to organization ${principal.orgId} and cannot see or change another`,
      );
      return;
    }
    if (principal.role === 'viewer' && !SAFE_METHODS.has(req.method)) {
      sendError(
        res,
        'FORBIDDEN',
        `token "${principal.name}" is a viewer token: it cannot change anything`,
      );
      return;
    }
    next();
  };
}

/** Only the deployment's root token (ADMIN_TOKEN): token management. */
export function requireRoot(res: Response): boolean {
  if (authOf(res).principal.kind === 'admin') return true;
  sendError(res, 'FORBIDDEN', "only the deployment's root token (ADMIN_TOKEN) manages API tokens");
  return false;
}

/** A principal as answers show it: who, never a credential. */
export function principalView(p: Principal): Record<string, string> {
  return p.kind === 'admin'
    ? { kind: 'admin' }
    : { kind: 'org', orgId: p.orgId, role: p.role, name: p.name, tokenId: p.tokenId };
}

export const SESSION_COOKIE = 'ils_session';
export const CSRF_HEADER = 'x-csrf-token';
const MISSING = 'missing bearer token: send Authorization: Bearer <ADMIN_TOKEN>';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** One cookie's value from the Cookie header, or undefined. */
export function cookieValue(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Sets the session cookie: HttpOnly, SameSite=Strict, Secure when the request came over TLS. */
export function setSessionCookie(req: Request, res: Response, id: string, maxAgeMs: number): void {
  res.cookie(SESSION_COOKIE, id, {
    httpOnly: true,
    sameSite: 'strict',
    secure: req.secure,
    path: '/',
    maxAge: maxAgeMs,
  });
}

export function clearSessionCookie(req: Request, res: Response): void {
  res.clearCookie(SESSION_COOKIE, {
    httpOnly: true,
    sameSite: 'strict',
    secure: req.secure,
    path: '/',
  });
}

/** The live session the request's cookie names, or null. */
export async function sessionOf(req: Request, sessions: SessionStore): Promise<Session | null> {
  const id = cookieValue(req, SESSION_COOKIE);
  if (!id || !isSessionSecret(id)) return null;
  return sessions.get(hashSessionId(id));
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What requireAuth leaves in `res.locals` for the routes. */
export interface AuthLocals {
  principal: Principal;
  /** The console session, when the request came with its cookie rather than a bearer token. */
  session: Session | null;
}

export function authOf(res: Response): AuthLocals {
  return res.locals.auth as AuthLocals;
}

/**
 * Requires a bearer token the authenticator accepts, or a live session cookie; with the
 * cookie, unsafe methods must also carry the session's CSRF token (403 otherwise). A header
 * wins over a cookie, so a script's token is never mixed up with a browser's session.
 */
export function requireAuth(authenticator: Authenticator, sessions: SessionStore): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match?.[1]) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        sendError(res, 'AUTH_FAILED', MISSING);
        return;
      }
      const principal = await authenticator.authenticate(match[1]);
      if (!principal) {
        res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
        sendError(res, 'AUTH_FAILED', 'wrong bearer token');
        return;
      }
      res.locals.auth = { principal, session: null } satisfies AuthLocals;
      next();
      return;
    }
    const session = await sessionOf(req, sessions);
    if (session && (await authenticator.isCurrent(session.principal))) {
      if (!SAFE_METHODS.has(req.method) && !sameSecret(req.get(CSRF_HEADER), session.csrfToken)) {
        sendError(
          res,
          'AUTH_FAILED',
          `missing or wrong ${CSRF_HEADER} header: send the csrfToken of GET /api/session`,
          undefined,
          403,
        );
        return;
      }
      res.locals.auth = { principal: session.principal, session } satisfies AuthLocals;
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', 'Bearer');
    if (cookieValue(req, SESSION_COOKIE) !== undefined) {
      clearSessionCookie(req, res);
      sendError(res, 'AUTH_FAILED', 'your session has ended: sign in again', { session: 'ended' });
      return;
    }
    sendError(res, 'AUTH_FAILED', MISSING);
  };
}
