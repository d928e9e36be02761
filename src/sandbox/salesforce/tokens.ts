import { createHash } from 'node:crypto';
import { randomToken } from './ids';
import type { AccessTokenInfo } from './model';

export interface AccessTokenRecord {
  token: string;
  userId: string;
  clientId: string;
  issuedAt: number;
  expiresAt: number;
  /** The grant it came from; revoking that grant kills this token. */
  refreshToken: string | null;
}

export interface RefreshTokenRecord {
  token: string;
  userId: string;
  clientId: string;
  scope: string;
  issuedAt: number;
}

export interface AuthorizationCode {
  code: string;
  clientId: string;
  redirectUri: string;
  userId: string;
  scope: string;
  challenge: string | null;
  challengeMethod: 'S256' | 'plain';
  expiresAt: number;
}

export interface TokenSnapshot {
  access: AccessTokenRecord[];
  refresh: RefreshTokenRecord[];
}

export interface TokenRegistryOptions {
  orgId: string;
  now: () => number;
  accessTokenTtlMs: number;
  /** Salesforce keeps at most 5 refresh tokens per app and user; the oldest is revoked. */
  maxRefreshTokensPerUser: number;
  /** Authorization codes live 15 minutes in Salesforce. */
  codeTtlMs?: number;
}

/**
 * The org's OAuth grants: authorization codes (single use), refresh tokens and access tokens.
 * Access tokens look like Salesforce session ids (`<orgId>!<random>`).
 */
export class TokenRegistry {
  private access = new Map<string, AccessTokenRecord>();
  private refresh = new Map<string, RefreshTokenRecord>();
  private codes = new Map<string, AuthorizationCode>();
  private revokedListeners = new Set<(token: string) => void>();

  constructor(private readonly opts: TokenRegistryOptions) {}

  issueAccess(userId: string, clientId: string, refreshToken: string | null): AccessTokenRecord {
    const now = this.opts.now();
    const rec: AccessTokenRecord = {
      token: `${this.opts.orgId.slice(0, 15)}!${randomToken(48)}`,
      userId,
      clientId,
      issuedAt: now,
      expiresAt: now + this.opts.accessTokenTtlMs,
      refreshToken,
    };
    this.access.set(rec.token, rec);
    return rec;
  }

  issueRefresh(userId: string, clientId: string, scope: string): RefreshTokenRecord {
    const rec: RefreshTokenRecord = {
      token: `5Aep861${randomToken(60)}`,
      userId,
      clientId,
      scope,
      issuedAt: this.opts.now(),
    };
    this.refresh.set(rec.token, rec);
    const mine = [...this.refresh.values()].filter(
      (r) => r.userId === userId && r.clientId === clientId,
    );
    mine.sort((a, b) => a.issuedAt - b.issuedAt);
    while (mine.length > this.opts.maxRefreshTokensPerUser) this.revoke(mine.shift()!.token);
    return rec;
  }

  /** The live refresh token, or undefined when unknown or revoked. */
  findRefresh(token: string): RefreshTokenRecord | undefined {
    return this.refresh.get(token);
  }

  /** Resolves a live access token; null when unknown, expired or revoked. */
  authenticate(token: string): (AccessTokenInfo & { clientId: string }) | null {
    const rec = this.access.get(token);
    if (!rec) return null;
    if (rec.expiresAt <= this.opts.now()) return null;
    return { userId: rec.userId, orgId: this.opts.orgId, clientId: rec.clientId };
  }

  /**
   * Revokes an access or refresh token. A refresh token takes every access token issued from
   * it along. Returns false when the token is unknown.
   */
  revoke(token: string): boolean {
    if (this.access.has(token)) {
      this.access.delete(token);
      this.fireRevoked([token]);
      return true;
    }
    if (this.refresh.delete(token)) {
      const dead = [...this.access.values()]
        .filter((a) => a.refreshToken === token)
        .map((a) => a.token);
      for (const t of dead) this.access.delete(t);
      this.fireRevoked(dead);
      return true;
    }
    return false;
  }

  /** Every grant ends (an admin revoked the connected app's access). */
  revokeAll(): void {
    const dead = [...this.access.keys()];
    this.access.clear();
    this.refresh.clear();
    this.codes.clear();
    this.fireRevoked(dead);
  }

  /** Every access token expires now; refresh tokens still work. */
  expireAllAccessTokens(): void {
    const now = this.opts.now();
    const dead: string[] = [];
    for (const a of this.access.values()) {
      if (a.expiresAt > now) dead.push(a.token);
      a.expiresAt = now;
    }
    this.fireRevoked(dead);
  }

  onRevoked(listener: (token: string) => void): () => void {
    this.revokedListeners.add(listener);
    return () => this.revokedListeners.delete(listener);
  }

  issueCode(c: Omit<AuthorizationCode, 'code' | 'expiresAt'>): string {
    const code = `aPrx${randomToken(36)}`;
    this.codes.set(code, {
      ...c,
      code,
      expiresAt: this.opts.now() + (this.opts.codeTtlMs ?? 15 * 60_000),
    });
    return code;
  }

  /** Returns the code's grant and forgets it (codes are single-use); undefined when invalid. */
  consumeCode(code: string): AuthorizationCode | undefined {
    const c = this.codes.get(code);
    this.codes.delete(code);
    if (!c || c.expiresAt <= this.opts.now()) return undefined;
    return c;
  }

  counts(): { accessTokens: number; refreshTokens: number } {
    return { accessTokens: this.access.size, refreshTokens: this.refresh.size };
  }

  snapshot(): TokenSnapshot {
    return { access: [...this.access.values()], refresh: [...this.refresh.values()] };
  }

  restore(s: TokenSnapshot): void {
    this.access = new Map(s.access.map((a) => [a.token, { ...a }]));
    this.refresh = new Map(s.refresh.map((r) => [r.token, { ...r }]));
  }

  private fireRevoked(tokens: string[]): void {
    for (const t of tokens) {
      for (const l of this.revokedListeners) {
        try {
          l(t);
        } catch {
          // Listener failures must not stop the revocation.
        }
      }
    }
  }
}

/** PKCE check (RFC 7636): S256 compares base64url(sha256(verifier)) with the challenge. */
export function pkceMatches(
  verifier: string,
  challenge: string,
  method: 'S256' | 'plain',
): boolean {
  const derived =
    method === 'plain' ? verifier : createHash('sha256').update(verifier).digest('base64url');
  return derived === challenge;
}
