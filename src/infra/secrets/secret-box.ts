import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SyncError } from '../../errors';

/**
 * Authenticated encryption of secrets at rest (OAuth tokens, InitLive keys, JWT signing keys)
 * with AES-256-GCM. A sealed value is `v1.<iv>.<tag>.<ciphertext>` (base64url parts): a fresh
 * 96-bit IV per value, so sealing the same token twice gives two different strings.
 *
 * `aad` binds a ciphertext to where it is stored (e.g. `org_demo:salesforce.accessToken`):
 * a value copied into another organization's record no longer opens.
 */
export interface SecretBox {
  seal(plaintext: string, aad?: string): string;
  /** Throws CONFIG_INVALID when the value was sealed with another key or was tampered with. */
  open(sealed: string, aad?: string): string;
}

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A new random key, base64 (the ENCRYPTION_KEY format). */
export function generateEncryptionKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** Is `value` in the sealed format (not proof that it opens)? */
export function isSealed(value: string): boolean {
  return /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value);
}

/**
 * A SecretBox over a 32-byte key given in base64. Throws CONFIG_INVALID naming
 * ENCRYPTION_KEY (never echoing it) when the key has the wrong length.
 */
export function createSecretBox(keyBase64: string): SecretBox {
  const key = Buffer.from(keyBase64, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new SyncError('CONFIG_INVALID', 'ENCRYPTION_KEY must be 32 bytes, base64 encoded', {
      context: { variable: 'ENCRYPTION_KEY', bytes: key.length },
    });
  }
  return {
    seal(plaintext, aad) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      if (aad !== undefined) cipher.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, iv, tag, body]
        .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
        .join('.');
    },
    open(sealed, aad) {
      const parts = sealed.split('.');
      const fail = (why: string): never => {
        throw new SyncError(
          'CONFIG_INVALID',
          `a stored secret cannot be decrypted (${why}); was ENCRYPTION_KEY changed?`,
        );
      };
      if (parts.length !== 4 || parts[0] !== VERSION) return fail('unknown format');
      const [, ivText, tagText, bodyText] = parts as [string, string, string, string];
      const iv = Buffer.from(ivText, 'base64url');
      const tag = Buffer.from(tagText, 'base64url');
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return fail('malformed');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        if (aad !== undefined) decipher.setAAD(Buffer.from(aad, 'utf8'));
        decipher.setAuthTag(tag);
        return Buffer.concat([
          decipher.update(Buffer.from(bodyText, 'base64url')),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        return fail('authentication failed');
      }
    },
  };
}
