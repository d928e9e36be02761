import type { SyncError } from '../../errors';
import type { ContactFields, SalesforceItemError } from '../../infra/salesforce/salesforce-api';
import type { ContactFieldWatch } from '../../pipeline/field-watch';

/**
 * The Salesforce sink's side of field drift (see src/orgs/contact-fields.ts): bodies leave out
 * the fields held back, and a write refused because of a field gets a fresh look at Contact;
 * when that holds the field, the write goes again without it instead of being dead-lettered.
 * With nothing held (the usual case) a body passes through untouched.
 */

/** Codes with which Salesforce refuses a write for a field it does not have or lets us write. */
const FIELD_CODES = new Set(['INVALID_FIELD', 'INVALID_FIELD_FOR_INSERT_UPDATE']);

/** Writes re-sent after a recheck held one of their fields, at most, before they fail as usual. */
const MAX_DRIFT_RETRIES = 2;

export function withoutHeld<T extends ContactFields>(body: T, held: ReadonlySet<string> | null): T {
  if (held === null) return body;
  let out: T | null = null;
  for (const key of Object.keys(body)) {
    if (!held.has(key.toLowerCase())) continue;
    out ??= { ...body };
    delete out[key];
  }
  return out ?? body;
}

/** The Contact fields a refusal names: its field list, else `No such column 'X'` in its text. */
function namedFields(message: string, fields: readonly string[]): string[] {
  if (fields.length > 0) return [...fields];
  const m = /No such column '([^']+)'|Field name not found : (\S+)/.exec(message);
  const name = m?.[1] ?? m?.[2];
  return name ? [name] : [];
}

/** Is this (request or item) failure Salesforce refusing a field? */
export function fieldRefusal(
  error: SyncError,
  items: readonly SalesforceItemError[] = [],
): { fields: string[] } | null {
  const upstream = error.context.upstreamCode;
  const item = items.find((i) => FIELD_CODES.has(i.statusCode));
  if (item) return { fields: namedFields(item.message, item.fields) };
  if (typeof upstream !== 'string' || !FIELD_CODES.has(upstream)) return null;
  const listed = typeof error.context.fields === 'string' ? error.context.fields.split(',') : [];
  return { fields: namedFields(error.message, listed) };
}

/** A write that Salesforce refused, with what it said. */
export interface Refused<E> {
  entry: E;
  error: SyncError;
  items?: readonly SalesforceItemError[];
}

/** One org writer's view of drift: what to leave out, and which refused writes go again. */
export class FieldDrift<
  E extends { op: { fields: Record<string, unknown> }; driftRetries?: number },
> {
  constructor(
    private readonly watch: ContactFieldWatch | undefined,
    private readonly orgId: string,
  ) {}

  /** Lower-cased fields to leave out of bodies right now; null when none. */
  held(): ReadonlySet<string> | null {
    return this.watch?.held(this.orgId) ?? null;
  }

  /** A whole call refused at `sentAt`: true when every write in it may go again. */
  async resendAll(entries: readonly E[], error: SyncError, sentAt: number): Promise<boolean> {
    const { again } = await this.resend(
      entries.map((entry) => ({ entry, error })),
      sentAt,
    );
    return again.length === entries.length;
  }

  /**
   * Splits writes refused at `sentAt` into those to send again (a fresh look at Contact, one for
   * all of them, held a field they carry and the refusal named, or any of theirs when it named
   * none; the next body leaves it out) and those that failed for good. A write goes again at
   * most MAX_DRIFT_RETRIES times, so a field that keeps failing ends as a dead letter.
   */
  async resend(
    refused: ReadonlyArray<Refused<E>>,
    sentAt: number,
  ): Promise<{ again: E[]; failed: Array<Refused<E>> }> {
    const candidates = refused.map((r) => ({ r, refusal: fieldRefusal(r.error, r.items) }));
    const worth = candidates.some(
      (c) => c.refusal !== null && (c.r.entry.driftRetries ?? 0) < MAX_DRIFT_RETRIES,
    );
    if (!this.watch || !worth) return { again: [], failed: [...refused] };
    const held = await this.watch.recheck(this.orgId, 'write refused a field', sentAt);
    const again: E[] = [];
    const failed: Array<Refused<E>> = [];
    for (const { r, refusal } of candidates) {
      const carried = Object.keys(r.entry.op.fields).map((f) => f.toLowerCase());
      const named = refusal?.fields.length ? refusal.fields.map((f) => f.toLowerCase()) : carried;
      const ok =
        refusal !== null &&
        (r.entry.driftRetries ?? 0) < MAX_DRIFT_RETRIES &&
        named.some((f) => held.has(f) && carried.includes(f));
      if (ok) {
        r.entry.driftRetries = (r.entry.driftRetries ?? 0) + 1;
        again.push(r.entry);
      } else failed.push(r);
    }
    return { again, failed };
  }
}
