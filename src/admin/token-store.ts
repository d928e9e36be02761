import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Per-organization API tokens (issue 17). A token is `ilt_<id>_<secret>`: the id (16 hex
 * characters) names the stored record, the secret (32 random bytes, base64url) is shown once
 * when the token is created and stored only as its SHA-256, compared in constant time.
 *
 * Adapters: MemoryApiTokenStore (embedded mode) and RedisApiTokenStore (every process of a
 * deployment sees a revocation on its next request), held to one conformance suite
 * (test/conformance/api-token-store.conformance.ts).
 */

export const TOKEN_ROLES = ['admin', 'viewer'] as const;
/** `admin`: everything for its organization. `viewer`: read-only. */
export type TokenRole = (typeof TOKEN_ROLES)[number];

export interface ApiToken {
  id: string;
  orgId: string;
  name: string;
  role: TokenRole;
  /** SHA-256 (hex) of the secret part; the secret itself is never stored. */
  secretHash: string;
  createdAt: number;
  /** When it last authenticated a request (kept to the minute), or null. */
  lastUsedAt: number | null;
}

export interface ApiTokenStore {
  create(token: ApiToken): Promise<void>;
  get(id: string): Promise<ApiToken | null>;
  /** The organization's tokens, oldest first. */
  list(orgId: string): Promise<ApiToken[]>;
  /** Deletes the organization's token; false when it has no such token. */
  revoke(orgId: string, id: string): Promise<boolean>;
  /** Records a use of the organization's token. */
  touch(orgId: string, id: string, at: number): Promise<void>;
  close(): Promise<void>;
}

const TOKEN = /^ilt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A new token for an organization, and the text to hand its holder (shown once). */
export function newApiToken(
  orgId: string,
  name: string,
  role: TokenRole,
  now: number,
): { token: ApiToken; secret: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return {
    token: {
      id,
      orgId,
      name,
      role,
      secretHash: hashSecret(secret),
      createdAt: now,
      lastUsedAt: null,
    },
    secret: `ilt_${id}_${secret}`,
  };
}

/** The id and secret of a text shaped like an API token, or null (maybe the root token). */
export function parseApiToken(text: string): { id: string; secret: string } | null {
  const m = TOKEN.exec(text);
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

export function secretMatches(token: ApiToken, secret: string): boolean {
  const given = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(token.secretHash, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}
