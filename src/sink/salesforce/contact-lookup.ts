import { normalizeEmail } from '../../core/email-index';
import { SyncError } from '../../errors';
import { soqlString, type SalesforceApi } from '../../infra/salesforce/salesforce-api';
import type { PairOp } from './plan';
import { routeOf } from './plan';

/** Emails per lookup query: a query goes in the URL, and 200 emails keep it under 16,384 characters. */
export const EMAILS_PER_QUERY = 200;

export interface EmailMatchFields {
  email: string;
  externalId: string;
}

/**
 * The creates of a flush to look up by email. Not a full sync's own (the run matched every
 * Contact it read; per op, so a streamed create sharing a batch with a run's writes is looked
 * up). Until a full sync has met every Contact (`linked`), all the others. After it, only a
 * trickle, one query's worth: a person entered in Salesforce at the same moment as in InitLive,
 * whose change event the reconciler had not met yet. A larger batch is an import whose people
 * the stream has met, and a query per 200 of them would cost more calls than its writes.
 */
export async function createsToMatch<T extends { op: PairOp }>(
  entries: readonly T[],
  linked: () => Promise<boolean>,
): Promise<T[]> {
  const fromRun = (op: PairOp): boolean => op.sources.every((s) => Boolean(s.write.runId));
  const creates = entries.filter(
    (e) => !fromRun(e.op) && e.op.kind === 'save' && !e.op.salesforceId,
  );
  if (creates.length > EMAILS_PER_QUERY && (await linked())) {
    return [];
  }
  return creates;
}

/** What became of one create: a Contact to update instead, or several it cannot choose from. */
export type EmailMatch = { contactId: string } | { ambiguous: string[] };

/**
 * Before a create, the Contact that already holds its email and no other volunteer's external
 * id. A person who exists in Salesforce before the connector has met them there (the Contacts an
 * organization had before connecting, a Contact added at the same moment as its volunteer, or
 * links lost with the state store) would otherwise get a second Contact, since Salesforce does
 * not hold emails unique. One query per EMAILS_PER_QUERY creates.
 *
 * Returns, by op index, the match of each create that has one. A Contact carrying this op's own
 * external id is the upsert's target already and needs no match.
 */
export async function matchCreatesByEmail(
  api: SalesforceApi,
  ops: readonly PairOp[],
  fields: EmailMatchFields,
): Promise<Map<number, EmailMatch>> {
  const wanted = new Map<string, number[]>();
  ops.forEach((op, i) => {
    if (op.kind !== 'save' || routeOf(op) !== 'upsert') return;
    const email = op.fields[fields.email];
    if (typeof email !== 'string' || email.trim() === '') return;
    const key = normalizeEmail(email);
    wanted.set(key, [...(wanted.get(key) ?? []), i]);
  });
  const out = new Map<number, EmailMatch>();
  if (wanted.size === 0) return out;
  const holders = new Map<string, Array<{ id: string; externalId: string | null }>>();
  const emails = [...wanted.keys()];
  for (let i = 0; i < emails.length; i += EMAILS_PER_QUERY) {
    const list = emails
      .slice(i, i + EMAILS_PER_QUERY)
      .map(soqlString)
      .join(', ');
    const soql = `SELECT Id, ${fields.email}, ${fields.externalId} FROM Contact WHERE ${fields.email} IN (${list})`;
    for await (const page of api.queryContacts(soql)) {
      for (const row of page.records) {
        const email = row[fields.email];
        if (typeof email !== 'string') continue;
        const ext = row[fields.externalId];
        const key = normalizeEmail(email);
        holders.set(key, [
          ...(holders.get(key) ?? []),
          { id: row.Id, externalId: typeof ext === 'string' && ext !== '' ? ext : null },
        ]);
      }
    }
  }
  for (const [email, indexes] of wanted) {
    const found = holders.get(email) ?? [];
    // InitLive holds emails unique, so two creates sharing one are a rename racing a create:
    // only the first may take the Contact, the others are created as asked.
    const i = indexes[0]!;
    const own = ops[i]!.externalId?.toLowerCase() ?? null;
    // The upsert by external id finds its own Contact: nothing to match.
    if (found.some((c) => c.externalId !== null && c.externalId.toLowerCase() === own)) continue;
    const free = found.filter((c) => c.externalId === null);
    if (free.length === 1) out.set(i, { contactId: free[0]!.id });
    else if (free.length > 1) out.set(i, { ambiguous: free.map((c) => c.id) });
  }
  return out;
}

/**
 * A matched create updates its Contact by Id (and links it once written); returns the creates
 * refused because several Contacts could be the person, each with its error.
 */
export function applyEmailMatches<T extends { op: PairOp }>(
  creates: readonly T[],
  matches: ReadonlyMap<number, EmailMatch>,
): Array<[T, SyncError]> {
  const refused: Array<[T, SyncError]> = [];
  for (const [i, match] of matches) {
    const entry = creates[i]!;
    if ('contactId' in match) {
      entry.op = { ...entry.op, salesforceId: match.contactId, matched: true };
    } else refused.push([entry, ambiguousEmailError(match.ambiguous)]);
  }
  return refused;
}

/** The refusal of a create whose email several unlinked Contacts hold. */
export function ambiguousEmailError(candidates: readonly string[]): SyncError {
  return new SyncError(
    'AMBIGUOUS_MATCH',
    `the email matches ${candidates.length} Salesforce Contacts (${candidates.join(', ')}); link one by hand, the connector does not guess`,
    { context: { candidates: candidates.join(',') } },
  );
}
