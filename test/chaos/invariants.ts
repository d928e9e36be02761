import { contactMatches, staffMatches, type Person, type View } from './workload';

export interface Findings {
  /** People whose final values, on either side, are not the model's. */
  lost: string[];
  /** Records present more than once, or present when they should not be. */
  duplicated: string[];
  /** Contacts naming a staff member who does not exist (and was not deleted by us). */
  orphans: string[];
}

/**
 * Compares both systems with the model: every person holds the model's values on each side
 * (nothing lost), exists once on each side, linked (nothing duplicated), and no link names a
 * volunteer who is gone without a reason.
 */
export function checkPeople(
  view: View,
  people: readonly Person[],
  when: (p: Person) => string = () => '',
): Findings {
  const lost: string[] = [];
  const duplicated: string[] = [];
  const orphans: string[] = [];
  const known = new Set(people.map((p) => p.email));
  for (const p of people) {
    const who = `person ${p.key} (${p.owner}, ${p.fate}${p.bad ? `, ${p.bad}` : ''}; il ${p.ilId ?? '?'}, sf ${p.sfId ?? '?'}${when(p)})`;
    const staff = view.staffOf(p);
    const contact = view.contactOf(p);
    if (p.bad === 'refused-by-salesforce') {
      if (!staff) lost.push(`${who}: staff member missing`);
      if (view.contactsByEmail.has(p.email) || (p.ilId && view.contactsByStaffId.has(p.ilId)))
        duplicated.push(`${who}: a Contact exists for a volunteer Salesforce refuses`);
      continue;
    }
    if (p.bad === 'refused-by-initlive') {
      if (!contact) lost.push(`${who}: Contact missing`);
      if (view.staffByEmail.has(p.email))
        duplicated.push(`${who}: a staff member exists for a Contact InitLive refuses`);
      continue;
    }
    if (p.fate === 'il-deleted') {
      if (staff) lost.push(`${who}: deleted staff member is back`);
    } else if (!staffMatches(p, staff)) {
      lost.push(`${who}: staff ${staff ? describe(staff, p) : 'missing'}`);
    }
    if (p.fate === 'sf-deleted') {
      if (contact) lost.push(`${who}: deleted Contact is back`);
    } else if (!contactMatches(p, contact)) {
      lost.push(`${who}: Contact ${contact ? describe(contact, p) : 'missing'}`);
    } else if (staff && contact && contact.InitLive_Staff_Id__c !== staff.id) {
      lost.push(`${who}: Contact not linked to its staff member`);
    }
  }
  for (const [email, list] of view.staffByEmail) {
    if (list.length > 1) duplicated.push(`${list.length} staff members share ${email}`);
    if (!known.has(email)) duplicated.push(`staff member ${list[0]!.id} is nobody the model made`);
  }
  for (const [email, list] of view.contactsByEmail) {
    if (list.length > 1) duplicated.push(`${list.length} Contacts share ${email}`);
    if (!known.has(email))
      duplicated.push(`Contact ${String(list[0]!.Id)} is nobody the model made`);
  }
  const ilDeleted = new Set(people.filter((p) => p.fate === 'il-deleted').map((p) => p.ilId));
  for (const [staffId, list] of view.contactsByStaffId) {
    if (list.length > 1) duplicated.push(`${list.length} Contacts link staff member ${staffId}`);
    if (!view.staffById.has(staffId) && !ilDeleted.has(staffId))
      orphans.push(`Contact ${String(list[0]!.Id)} links missing staff member ${staffId}`);
  }
  return { lost, duplicated, orphans };
}

/** Which fields differ from the model (names, not values: the run's log stays value-free). */
function describe(found: object, p: Person): string {
  const record = found as Record<string, unknown>;
  const pairs: Array<[string, string, unknown]> = [
    ['firstName', 'FirstName', p.values.firstName],
    ['lastName', 'LastName', p.values.lastName],
    ['phone', 'Phone', p.values.phone],
  ];
  const off = pairs
    .filter(([il, sf, want]) => {
      const got = il in record ? record[il] : record[sf];
      return (got ?? null) !== want;
    })
    .map(([il]) => il);
  const status = record.status ?? record.InitLive_Status__c;
  return `differs in [${off.join(', ')}] (status ${String(status)})`;
}

export interface DeadLetterItem {
  id: string;
  code: string;
  reason: string;
  initliveId: string | null;
  salesforceId: string | null;
  occurrences: number;
}

/** Each intentionally bad record has exactly one dead letter, and nothing else has any. */
export function checkDeadLetters(
  items: readonly DeadLetterItem[],
  people: readonly Person[],
): { missing: string[]; unexpected: string[] } {
  const missing: string[] = [];
  const claimed = new Set<string>();
  for (const p of people) {
    if (!p.bad) continue;
    const mine = items.filter((d) =>
      p.bad === 'refused-by-salesforce'
        ? d.initliveId !== null && d.initliveId === p.ilId
        : d.salesforceId !== null && d.salesforceId === p.sfId,
    );
    if (mine.length !== 1) missing.push(`person ${p.key} (${p.bad}): ${mine.length} dead letters`);
    for (const d of mine) claimed.add(d.id);
  }
  const unexpected = items
    .filter((d) => !claimed.has(d.id))
    .map((d) => `${d.code}: ${d.reason.slice(0, 160)} (il ${d.initliveId}, sf ${d.salesforceId})`);
  return { missing, unexpected };
}
