import { createHmac } from 'node:crypto';
import express from 'express';
import type { Request, Response, Router } from 'express';
import { JwtRejected, verifyJwtAssertion } from './jwt';
import type { Org } from './org';
import type { OrgRegistry } from './org-registry';
import { pkceMatches } from './tokens';

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function isLoopback(uri: string): boolean {
  try {
    const u = new URL(uri);
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') &&
      ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname)
    );
  } catch {
    return false;
  }
}

/** HTTP Basic client authentication, the alternative to client_id/client_secret in the form. */
function basicCredentials(req: Request): { id?: string; secret?: string } {
  const h = req.headers.authorization;
  if (!h?.startsWith('Basic ')) return {};
  const [id, secret] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
  return { id, secret };
}

/**
 * OAuth 2.0 endpoints of the sandbox's orgs, on the login URL: authorize (auto-approves, PKCE),
 * token (authorization_code, refresh_token, JWT bearer, client_credentials, password),
 * revoke, and the identity URL. Error bodies are Salesforce's `{error, error_description}`.
 *
 * One connected app (the default org's client id and secret) serves every org, as a packaged
 * app does. Which org a grant is for follows Salesforce: the user who logs in belongs to one
 * org. The authorize request names the user with `login_hint` (the username); the password and
 * JWT grants carry the username. Mounted under `/orgs/<orgId>` as well, the org's own login
 * URL (Salesforce's My Domain), where every grant is for that org. Without either, the default
 * org's user logs in, as before there were several orgs.
 */
export function oauthRouter(orgs: OrgRegistry): Router {
  const router = express.Router({ mergeParams: true });
  const cfg = orgs.defaultOrg.config;
  const form = express.urlencoded({ extended: false, limit: '1mb' });

  /** The org of a `/orgs/<orgId>` login URL, or null on the shared one; throws when unknown. */
  const pinnedOrg = (req: Request): Org | null => {
    const orgId = (req.params as { orgId?: string }).orgId;
    if (orgId === undefined) return null;
    const org = orgs.get(orgId);
    if (!org) throw new OAuthError('invalid_request', `no org ${orgId} on this server`, 404);
    return org;
  };

  const redirectAllowed = (uri: string): boolean =>
    cfg.redirectUris.length > 0 ? cfg.redirectUris.includes(uri) : isLoopback(uri);

  router.get('/services/oauth2/authorize', (req: Request, res: Response) => {
    const q = req.query;
    let org: Org;
    try {
      org = pinnedOrg(req) ?? orgs.defaultOrg;
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      res.status(err.status).json({ error: err.error, error_description: err.description });
      return;
    }
    const clientId = str(q.client_id);
    const redirectUri = str(q.redirect_uri);
    if (clientId !== cfg.clientId) {
      res
        .status(400)
        .json({ error: 'invalid_client_id', error_description: 'client identifier invalid' });
      return;
    }
    if (!redirectUri || !redirectAllowed(redirectUri)) {
      res.status(400).json({
        error: 'redirect_uri_mismatch',
        error_description: 'redirect_uri must match configuration',
      });
      return;
    }
    const target = new URL(redirectUri);
    const state = str(q.state);
    const fail = (error: string, description: string): void => {
      target.searchParams.set('error', error);
      target.searchParams.set('error_description', description);
      if (state !== undefined) target.searchParams.set('state', state);
      res.redirect(302, target.toString());
    };
    if (q.response_type !== 'code') {
      fail('unsupported_response_type', 'response type not supported');
      return;
    }
    const challenge = str(q.code_challenge) ?? null;
    // jsforce sends a S256 challenge without naming the method; S256 is the default.
    const method = str(q.code_challenge_method) ?? 'S256';
    if (method !== 'S256' && method !== 'plain') {
      fail('invalid_request', 'unsupported code_challenge_method');
      return;
    }
    const hint = str(q.login_hint);
    if (hint !== undefined) {
      const user = orgs.byUsername(hint);
      if (!user || (pinnedOrg(req) !== null && user !== org)) {
        fail('access_denied', 'login_hint names no user of this org');
        return;
      }
      org = user;
    }
    const code = org.tokens.issueCode({
      clientId,
      redirectUri,
      userId: org.identity.userId,
      scope: 'api refresh_token',
      challenge,
      challengeMethod: method,
    });
    target.searchParams.set('code', code);
    if (state !== undefined) target.searchParams.set('state', state);
    res.redirect(302, target.toString());
  });

  router.post('/services/oauth2/token', form, (req: Request, res: Response) => {
    try {
      const body = (req.body ?? {}) as Record<string, unknown>;
      res.json(grant(orgs, pinnedOrg(req), body, basicCredentials(req)));
    } catch (err) {
      if (err instanceof OAuthError) {
        res.status(err.status).json({ error: err.error, error_description: err.description });
        return;
      }
      throw err;
    }
  });

  const revoke = (req: Request, res: Response): void => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const token = str(body.token) ?? str(req.query.token);
    if (token && orgs.revoke(token)) {
      res.status(200).end();
      return;
    }
    res.status(400).json({
      error: 'unsupported_token_type',
      error_description: 'this token type is not supported',
    });
  };
  router.post('/services/oauth2/revoke', form, revoke);
  router.get('/services/oauth2/revoke', revoke);

  const identity = (req: Request, res: Response): void => {
    const m = /^(?:Bearer|OAuth)\s+(.+)$/.exec(req.headers.authorization ?? '');
    const token = m?.[1] ?? str(req.query.oauth_token);
    const who = token ? orgs.authenticate(token) : null;
    if (!who) {
      res.status(403).type('text/plain').send('Bad_OAuth_Token');
      return;
    }
    const org = who.org;
    const username = org.config.username;
    const base = org.baseUrl;
    res.json({
      id: org.identityUrl(),
      asserted_user: true,
      user_id: org.identity.userId,
      organization_id: org.identity.orgId,
      username,
      nick_name: username.split('@')[0],
      display_name: 'Sandbox Admin',
      email: username,
      email_verified: true,
      first_name: 'Sandbox',
      last_name: 'Admin',
      timezone: 'GMT',
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: 0,
      is_app_installed: true,
      urls: {
        rest: `${base}/services/data/v{version}/`,
        sobjects: `${base}/services/data/v{version}/sobjects/`,
        query: `${base}/services/data/v{version}/query/`,
        profile: `${base}/${org.identity.userId}`,
        custom_domain: base,
      },
    });
  };
  router.get('/id/:orgId/:userId', identity);
  router.get('/services/oauth2/userinfo', identity);

  return router;
}

interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  signature: string;
  scope: string;
  instance_url: string;
  id: string;
  token_type: 'Bearer';
  issued_at: string;
}

/** Issues a grant for the org it belongs to (see oauthRouter); `pinned`: a `/orgs/<id>` login URL. */
function grant(
  orgs: OrgRegistry,
  pinned: Org | null,
  body: Record<string, unknown>,
  basic: { id?: string; secret?: string },
): TokenResponse {
  const cfg = orgs.defaultOrg.config;
  const grantType = str(body.grant_type);
  const clientId = str(body.client_id) ?? basic.id;
  const secret = str(body.client_secret) ?? basic.secret;
  const checkClient = (secretRequired: boolean): void => {
    if (clientId !== cfg.clientId)
      throw new OAuthError('invalid_client_id', 'client identifier invalid');
    if ((secretRequired || secret !== undefined) && secret !== cfg.clientSecret) {
      throw new OAuthError('invalid_client', 'invalid client credentials');
    }
  };
  const samePlace = (org: Org | undefined): org is Org =>
    org !== undefined && (pinned === null || org === pinned);
  switch (grantType) {
    case 'authorization_code': {
      const verifier = str(body.code_verifier);
      checkClient(verifier === undefined);
      const found = orgs.consumeCode(str(body.code) ?? '');
      const code = found?.code;
      const org = found?.org;
      if (!code || !samePlace(org) || code.clientId !== clientId)
        throw new OAuthError('invalid_grant', 'invalid authorization code');
      if (str(body.redirect_uri) !== code.redirectUri) {
        throw new OAuthError('invalid_grant', 'redirect_uri must match configuration');
      }
      if (
        code.challenge !== null &&
        (!verifier || !pkceMatches(verifier, code.challenge, code.challengeMethod))
      ) {
        throw new OAuthError('invalid_grant', 'invalid code verifier');
      }
      const refresh = org.tokens.issueRefresh(code.userId, cfg.clientId, code.scope);
      return respond(
        org,
        org.tokens.issueAccess(code.userId, cfg.clientId, refresh.token).token,
        code.scope,
        refresh.token,
      );
    }
    case 'refresh_token': {
      checkClient(false);
      const found = orgs.findRefresh(str(body.refresh_token) ?? '');
      const refresh = found?.refresh;
      const org = found?.org;
      if (!refresh || !samePlace(org) || refresh.clientId !== clientId)
        throw new OAuthError('invalid_grant', 'expired access/refresh token');
      return respond(
        org,
        org.tokens.issueAccess(refresh.userId, cfg.clientId, refresh.token).token,
        refresh.scope,
      );
    }
    case 'password': {
      checkClient(true);
      const org = orgs.byUsername(str(body.username) ?? '');
      if (!samePlace(org) || !(str(body.password) ?? '').startsWith(org.config.password)) {
        throw new OAuthError('invalid_grant', 'authentication failure');
      }
      return respond(
        org,
        org.tokens.issueAccess(org.identity.userId, cfg.clientId, null).token,
        'api',
      );
    }
    case 'client_credentials': {
      checkClient(true);
      // Salesforce runs this flow as the user the org's admin chose, on the org's My Domain.
      const org = pinned ?? orgs.defaultOrg;
      return respond(
        org,
        org.tokens.issueAccess(org.identity.userId, cfg.clientId, null).token,
        'api',
      );
    }
    case JWT_GRANT: {
      let claims;
      try {
        claims = verifyJwtAssertion(str(body.assertion) ?? '', {
          clientId: cfg.clientId,
          clientSecret: cfg.clientSecret,
          publicKeyPem: cfg.jwtPublicKeyPem,
          audiences: [
            orgs.defaultOrg.baseUrl,
            ...(pinned ? [`${pinned.baseUrl}/orgs/${pinned.identity.orgId}`] : []),
            'https://login.salesforce.com',
            'https://test.salesforce.com',
          ],
          now: orgs.defaultOrg.now(),
        });
      } catch (err) {
        if (err instanceof JwtRejected) throw new OAuthError(err.error, err.description);
        throw err;
      }
      const org = orgs.byUsername(claims.sub);
      if (!samePlace(org))
        throw new OAuthError('invalid_grant', "user hasn't approved this consumer");
      return respond(
        org,
        org.tokens.issueAccess(org.identity.userId, cfg.clientId, null).token,
        'api',
      );
    }
    default:
      throw new OAuthError('unsupported_grant_type', 'grant type not supported');
  }
}

function respond(
  org: Org,
  accessToken: string,
  scope: string,
  refreshToken?: string,
): TokenResponse {
  const id = org.identityUrl();
  const issuedAt = String(org.now());
  const signature = createHmac('sha256', org.config.clientSecret)
    .update(id + issuedAt)
    .digest('base64');
  return {
    access_token: accessToken,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    signature,
    scope,
    instance_url: org.baseUrl,
    id,
    token_type: 'Bearer',
    issued_at: issuedAt,
  };
}
