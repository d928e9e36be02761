import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The `X-InitLive-Signature` scheme, in one place: the sandbox signs with `signWebhookBody`,
 * the connector checks with `verifyWebhookSignature`, so the two cannot drift apart.
 *
 * Header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the secret>`.
 * Several `v1=` entries may appear (a sender rotating secrets); any match is accepted.
 */
export const WEBHOOK_SIGNATURE_HEADER = 'X-InitLive-Signature';

/** Five minutes either way, as the contract states. */
export const DEFAULT_SIGNATURE_TOLERANCE_MS = 300_000;

export type SignatureCheck =
  | { ok: true }
  | {
      ok: false;
      reason:
        'missing_header' | 'malformed_header' | 'timestamp_out_of_tolerance' | 'signature_mismatch';
    };

function hmacHex(secret: string, timestampSeconds: number, rawBody: Buffer | string): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestampSeconds}.`);
  mac.update(rawBody);
  return mac.digest('hex');
}

/**
 * Builds the header value for `rawBody` (the exact bytes that will be sent) at
 * `timestampSeconds`. Deterministic: the same inputs give the same header.
 */
export function signWebhookBody(
  rawBody: Buffer | string,
  secret: string,
  timestampSeconds: number,
): string {
  const t = Math.floor(timestampSeconds);
  return `t=${t},v1=${hmacHex(secret, t, rawBody)}`;
}

/**
 * Checks a webhook request. `rawBody` must be the bytes as received (before any JSON parse:
 * re-serialising changes whitespace and breaks the MAC). Rejects a missing or malformed
 * header, a `t` more than `toleranceMs` away from `nowMs` (replays), and a MAC that matches
 * none of the `v1` entries. Comparison is constant-time.
 */
export function verifyWebhookSignature(
  rawBody: Buffer | string,
  header: string | undefined,
  secret: string,
  nowMs: number,
  toleranceMs: number = DEFAULT_SIGNATURE_TOLERANCE_MS,
): SignatureCheck {
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing_header' };
  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'malformed_header' };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (!/^\d{1,15}$/.test(value) || timestamp !== undefined) {
        return { ok: false, reason: 'malformed_header' };
      }
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(value)) return { ok: false, reason: 'malformed_header' };
      candidates.push(value.toLowerCase());
    }
    // Unknown schemes (v0, v2...) are ignored so a sender can add one without breaking us.
  }
  if (timestamp === undefined || candidates.length === 0) {
    return { ok: false, reason: 'malformed_header' };
  }
  if (Math.abs(nowMs - timestamp * 1000) > toleranceMs) {
    return { ok: false, reason: 'timestamp_out_of_tolerance' };
  }
  const expected = Buffer.from(hmacHex(secret, timestamp, rawBody), 'hex');
  let matched = false;
  for (const candidate of candidates) {
    // Every candidate is compared, so timing does not reveal which one (if any) matched.
    if (timingSafeEqual(expected, Buffer.from(candidate, 'hex'))) matched = true;
  }
  return matched ? { ok: true } : { ok: false, reason: 'signature_mismatch' };
}
