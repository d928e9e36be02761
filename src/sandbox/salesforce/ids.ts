import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/** Key prefixes of the objects the sandbox hands out ids for. */
export const KeyPrefix = {
  contact: '003',
  account: '001',
  user: '005',
  org: '00D',
  job: '750',
  queryLocator: '01g',
  customField: '00N',
  channelMember: '0v8',
  permissionSet: '0PS',
  permissionSetAssignment: '0Pa',
} as const;

/**
 * The 3-character case-insensitivity suffix Salesforce appends to a 15-character id: one
 * character per 5-character chunk, encoding which of its characters are upper-case letters.
 */
export function checksumSuffix(id15: string): string {
  let out = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charCodeAt(chunk * 5 + i);
      if (c >= 65 && c <= 90) bits |= 1 << i;
    }
    out += SUFFIX[bits] ?? 'A';
  }
  return out;
}

/** Turns a 15- or 18-character id into its 18-character form; null when it is not an id. */
export function to18(id: string): string | null {
  if (!/^[a-zA-Z0-9]{15}(?:[A-Za-z0-5]{3})?$/.test(id)) return null;
  const id15 = id.slice(0, 15);
  const suffix = checksumSuffix(id15);
  if (id.length === 18 && id.slice(15).toUpperCase() !== suffix) return null;
  return id15 + suffix;
}

/** True when `id` is a well-formed 15/18-character id with the given key prefix. */
export function isIdOf(prefix: string, id: string): boolean {
  const full = to18(id);
  return full !== null && full.startsWith(prefix);
}

function base62(n: number, width: number): string {
  let out = '';
  let v = n;
  for (let i = 0; i < width; i++) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

/**
 * Generates realistic ids: key prefix, a 2-character pod ("Dn"), a reserved "0", then a
 * base-62 counter; 18 characters with the checksum suffix. A random start keeps ids from
 * two sandbox runs apart.
 */
export class IdGenerator {
  private counters = new Map<string, number>();
  private readonly start: number;

  constructor(start?: number) {
    this.start = start ?? randomBytes(4).readUInt32BE(0) % 1_000_000_000;
  }

  next(prefix: string): string {
    const n = (this.counters.get(prefix) ?? this.start) + 1;
    this.counters.set(prefix, n);
    const id15 = `${prefix}Dn0${base62(n, 9)}`;
    return id15 + checksumSuffix(id15);
  }

  /** Counter state for snapshots. */
  state(): Record<string, number> {
    return Object.fromEntries(this.counters);
  }

  restore(state: Record<string, number>): void {
    for (const [k, v] of Object.entries(state)) this.counters.set(k, v);
  }
}

/** A random opaque token (URL-safe). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
