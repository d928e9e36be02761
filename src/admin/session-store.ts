import { createHash, randomBytes } from 'node:crypto';
import type { TokenRole } from './token-store';

/**
 * Console sign-in sessions. A session stands for the principal whose bearer token signed in;
 * the browser holds only a random session id in an HttpOnly cookie, and the store keys each
 * session by the SHA-256 of that id, so what is at rest (a Redis dump, a memory snapshot)
 * cannot be replayed as a cookie.
 *
 * Adapters: MemorySessionStore (one process) and RedisSessionStore (processes behind one load
 * balancer share sessions), held to one conformance suite
 * (test/conformance/session-store.conformance.ts).
 */

/**
 * Who a request acts for: the deployment's root token (`admin`), or one organization's API
 * token (`org`, src/admin/token-store.ts) with its role. Both sign in to the console too.
 */
export type Principal =
  | {
      kind: 'admin';
      /** Fingerprint of the credential that signed in (never the credential), so rotating it ends its sessions. */
      credentialId: string;
    }
  | {
      kind: 'org';
      orgId: string;
      role: TokenRole;
      tokenId: string;
      /** The token's name, for the audit of who did what. */
      name: string;
      credentialId: string;
    };

export interface Session {
  /** SHA-256 (base64url) of the cookie's session id. */
  idHash: string;
  principal: Principal;
  /** Synchronizer token: unsafe requests made with the cookie must echo it in X-CSRF-Token. */
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

export interface SessionStore {
  /** Keeps a session until its expiresAt (the adapter drops it then). */
  put(session: Session): Promise<void>;
  /** The live session with this id hash, or null (unknown, ended or expired). */
  get(idHash: string): Promise<Session | null>;
  /** Ends a session; harmless when it is already gone. */
  delete(idHash: string): Promise<void>;
  close(): Promise<void>;
}

/** 32 random bytes, base64url: a session id or a CSRF token. */
export function newSessionSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSessionId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('base64url');
}

/** Session ids and their hashes are base64url of 32 bytes; anything else is not looked up. */
export function isSessionSecret(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value);
}
