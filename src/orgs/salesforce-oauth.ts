import { createHash, createHmac, createSign, randomBytes } from 'node:crypto';
import { OAuth2 } from 'jsforce';
import type { TokenResponse } from 'jsforce';
import { SyncError, isSyncError } from '../errors';

/**
 * The connector's side of Salesforce OAuth 2.0: the web-server flow with PKCE (S256), the JWT
 * bearer flow, and revocation. Token calls go through jsforce's OAuth2 client, so the sandbox
 * and real Salesforce are spoken to the same way.
 */

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const OAUTH_SCOPE = 'api refresh_token';

export interface OAuthClient {
  /** e.g. https://login.salesforce.com, a My Domain, or the sandbox URL. */
  loginUrl: string;
  clientId: string;
  clientSecret?: string;
}

export interface TokenSet {
  accessToken: string;
  refreshToken: string | null;
  instanceUrl: string;
  userId: string | null;
  organizationId: string | null;
}

/** 32 random bytes, base64url: an unguessable one-time `state`. */
export function newState(): string {
  return randomBytes(32).toString('base64url');
}

/** RFC 7636: a 43-character verifier and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function base(loginUrl: string): string {
  return loginUrl.replace(/\/+$/, '');
}

/** The URL the admin's browser opens to approve the connected app. */
export function authorizeUrl(
  client: OAuthClient,
  options: { redirectUri: string; challenge: string; state: string },
): string {
  const url = new URL(`${base(client.loginUrl)}/services/oauth2/authorize`);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', options.redirectUri);
  url.searchParams.set('code_challenge', options.challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', options.state);
  url.searchParams.set('scope', OAUTH_SCOPE);
  return url.toString();
}

/**
 * Is this the token endpoint saying the grant is gone (revoked, expired refresh token, user
 * deactivated)? jsforce names OAuth errors after the `error` field; our own wrapping keeps it
 * as `upstreamCode`.
 */
export function isInvalidGrant(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; errorCode?: unknown; context?: Record<string, unknown> };
  if (e.name === 'invalid_grant' || e.errorCode === 'invalid_grant') return true;
  return isSyncError(err) && err.context.upstreamCode === 'invalid_grant';
}

/** A failed token call as a SyncError; OAuth `error` kept as upstreamCode, never the tokens. */
export function oauthError(err: unknown, what: string): SyncError {
  if (isSyncError(err)) return err;
  const e = err as { name?: unknown; message?: unknown };
  const upstream = typeof e.name === 'string' ? e.name : 'unknown';
  const message = typeof e.message === 'string' ? e.message : String(err);
  // No HTTP answer at all (refused, reset) is worth retrying; an OAuth error is not.
  const network = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|fetch failed|socket hang up/i.test(message);
  if (network || /^ERROR_HTTP_5\d\d$/.test(upstream)) {
    return new SyncError('UPSTREAM_UNAVAILABLE', `Salesforce ${what} failed: ${message}`, {
      cause: err,
      context: { upstreamCode: upstream },
    });
  }
  return new SyncError('AUTH_FAILED', `Salesforce ${what} refused: ${message}`, {
    cause: err,
    context: { upstreamCode: upstream },
  });
}

/** `.../id/<orgId>/<userId>` -> both ids. */
function idsOf(idUrl: string | undefined): {
  userId: string | null;
  organizationId: string | null;
} {
  const parts = (idUrl ?? '').split('/').filter((p) => p !== '');
  if (parts.length < 2) return { userId: null, organizationId: null };
  return {
    organizationId: parts[parts.length - 2] ?? null,
    userId: parts[parts.length - 1] ?? null,
  };
}

function tokenSet(res: TokenResponse): TokenSet {
  return {
    accessToken: res.access_token,
    refreshToken: res.refresh_token ?? null,
    instanceUrl: res.instance_url,
    ...idsOf(res.id),
  };
}

/** Completes the web-server flow: code + PKCE verifier -> tokens. */
export async function exchangeCode(
  client: OAuthClient,
  options: { code: string; codeVerifier: string; redirectUri: string },
): Promise<TokenSet> {
  const oauth2 = new OAuth2({
    loginUrl: base(client.loginUrl),
    clientId: client.clientId,
    ...(client.clientSecret ? { clientSecret: client.clientSecret } : {}),
    redirectUri: options.redirectUri,
  });
  try {
    return tokenSet(
      await oauth2.requestToken(options.code, { code_verifier: options.codeVerifier }),
    );
  } catch (err) {
    throw oauthError(err, 'authorization code exchange');
  }
}

/** A refresh-token grant (jsforce's own refresh goes the same way). */
export async function refreshAccessToken(
  client: OAuthClient,
  refreshToken: string,
): Promise<TokenSet> {
  const oauth2 = new OAuth2({
    loginUrl: base(client.loginUrl),
    clientId: client.clientId,
    ...(client.clientSecret ? { clientSecret: client.clientSecret } : {}),
  });
  try {
    const res = await oauth2.refreshToken(refreshToken);
    return { ...tokenSet(res), refreshToken };
  } catch (err) {
    throw oauthError(err, 'token refresh');
  }
}

/**
 * A JWT bearer assertion for `username`: RS256 with the connected app's private key (what
 * Salesforce requires), or HS256 with the client secret when no key is given (the sandbox
 * accepts it; real Salesforce does not). Valid three minutes, as Salesforce allows.
 */
export function jwtAssertion(
  client: OAuthClient,
  options: { username: string; privateKeyPem?: string | null; audience?: string; now: number },
): string {
  const alg = options.privateKeyPem ? 'RS256' : 'HS256';
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${enc({ alg, typ: 'JWT' })}.${enc({
    iss: client.clientId,
    sub: options.username,
    aud: options.audience ?? base(client.loginUrl),
    exp: Math.floor(options.now / 1000) + 180,
  })}`;
  let signature: string;
  if (options.privateKeyPem) {
    signature = createSign('RSA-SHA256').update(unsigned).sign(options.privateKeyPem, 'base64url');
  } else {
    if (!client.clientSecret) {
      throw new SyncError('INVALID_INPUT', 'the JWT flow needs privateKeyPem or a client secret');
    }
    signature = createHmac('sha256', client.clientSecret).update(unsigned).digest('base64url');
  }
  return `${unsigned}.${signature}`;
}

/** Mints an access token with the JWT bearer grant (no refresh token: mint again instead). */
export async function mintJwtToken(
  client: OAuthClient,
  options: { username: string; privateKeyPem?: string | null; now: number },
): Promise<TokenSet> {
  let assertion: string;
  try {
    assertion = jwtAssertion(client, options);
  } catch (err) {
    if (isSyncError(err)) throw err;
    throw new SyncError('INVALID_INPUT', 'privateKeyPem is not a usable RSA private key', {
      cause: err,
    });
  }
  // Only loginUrl: the assertion authenticates the client, no client secret goes along.
  const oauth2 = new OAuth2({ loginUrl: base(client.loginUrl) });
  try {
    return tokenSet(await oauth2.requestToken({ grant_type: JWT_BEARER_GRANT, assertion }));
  } catch (err) {
    throw oauthError(err, 'JWT bearer grant');
  }
}

/**
 * Revokes a token at Salesforce (a refresh token takes its access tokens along). A token the
 * server no longer knows counts as revoked.
 */
export async function revokeToken(client: OAuthClient, token: string): Promise<void> {
  const oauth2 = new OAuth2({ loginUrl: base(client.loginUrl) });
  try {
    await oauth2.revokeToken(token);
  } catch (err) {
    const e = oauthError(err, 'token revocation');
    if (e.code === 'AUTH_FAILED') return;
    throw e;
  }
}
