import type { Connection } from 'jsforce';
import type { VersionStore } from '../core/version-store';
import type { ContactRow } from '../infra/salesforce/salesforce-api';
import { readDeletedContactsNamingStaff } from './salesforce-reader';

/**
 * After the store lost its links, a volunteer whose Contact was deleted since the last sync
 * looks like someone Salesforce never had: the run would create their Contact again, and the
 * deletion's own event, when it comes, names a Contact the pair no longer holds. The recycle bin
 * still has that Contact, naming the volunteer: read as the run reads any Contact, it links the
 * two again, and the missing-records pass then finds it gone and applies the delete policy, as
 * it would have had the links survived.
 *
 * Returns, per volunteer no pair knows, the newest deleted Contact naming them (a Contact naming
 * a volunteer some pair holds is another's; a deleted Contact a pair holds is known already).
 */
export async function deletedCounterparts(
  deps: { store: VersionStore },
  orgId: string,
  conn: Connection,
  fields: readonly string[],
): Promise<ContactRow[]> {
  const newest = new Map<string, ContactRow>();
  for await (const rows of readDeletedContactsNamingStaff(conn, fields)) {
    for (const row of rows) {
      const staffId = row.InitLive_Staff_Id__c;
      if (typeof staffId !== 'string' || staffId === '') continue;
      const seen = newest.get(staffId);
      if (!seen || modifiedAt(row) > modifiedAt(seen)) newest.set(staffId, row);
    }
  }
  const out: ContactRow[] = [];
  for (const [staffId, row] of newest) {
    const [byStaff, byContact] = await Promise.all([
      deps.store.findPairId(orgId, 'initlive', staffId),
      deps.store.findPairId(orgId, 'salesforce', row.Id),
    ]);
    if (!byStaff && !byContact) out.push(row);
  }
  return out;
}

function modifiedAt(row: ContactRow): number {
  const t = typeof row.LastModifiedDate === 'string' ? Date.parse(row.LastModifiedDate) : NaN;
  return Number.isFinite(t) ? t : 0;
}
