import type { Side } from '../core/pair-state';
import type { InitLiveStaffChange, SalesforceContactChange } from '../core/records';
import type { PairLinks, StoredPair, VersionStore } from '../core/version-store';
import { isSyncError } from '../errors';
import type { SalesforceApi } from '../infra/salesforce/salesforce-api';
import type { OrgRuntime } from '../orgs/org-directory';
import type { RunStore } from './run-store';
import type { RunRecord } from './run-types';
import { contactGoneOf, staffGoneOf } from './snapshots';

export interface MissingPage {
  staffGone: InitLiveStaffChange[];
  contactsGone: SalesforceContactChange[];
  /** Pass back for the next page; null after the last. */
  cursor: string | null;
}

/**
 * One page of the full sync's missing-records pass: of the org's linked records this run did not
 * read, those really gone from their system, as DELETE changes for the reconciler to apply the
 * delete policy to. Each candidate is checked against its system, so a record created after the
 * read passed it is never taken for deleted.
 *
 * Only records known before this run can have gone missing while offline: an id never observed
 * from its side was learnt from our own create, and a Contact observed since the run started is
 * one of our writes or a live edit. Ids and versions are read first (cheap); whole states only
 * for pairs that may hold a record gone missing, which after a healthy run is none.
 *
 * A recovery run (the store may have lost its links) also checks volunteers never observed: a
 * Contact naming one this run did not read was linked before the loss, so InitLive deleting them
 * for good is the one way they went missing (a Contact already marked deleted is left alone).
 */
export async function findMissingPage(
  deps: { store: VersionStore; runStore: RunStore },
  org: OrgRuntime,
  api: SalesforceApi,
  record: RunRecord,
  cursor: string | null,
  pageSize: number,
  now: number,
): Promise<MissingPage> {
  const { store, runStore } = deps;
  const { orgId } = org;
  const page = await store.listPairIds(orgId, cursor, pageSize);
  const links = await store.getLinks(orgId, page.pairIds);
  const idsOn = (side: Side): string[] =>
    links.flatMap((l) => {
      const id = l && (side === 'initlive' ? l.initliveId : l.salesforceId);
      return id ? [id] : [];
    });
  const [ilCandidates, sfCandidates] = await Promise.all([
    runStore.unseen(orgId, record.runId, 'initlive', idsOn('initlive')),
    runStore.unseen(orgId, record.runId, 'salesforce', idsOn('salesforce')),
  ]);
  const unseenIds = { initlive: new Set(ilCandidates), salesforce: new Set(sfCandidates) };
  const startedAt = record.startedAt;
  // Volunteers never observed count too after a loss (see above); InitLive is asked either way.
  const unobserved = (side: Side): boolean => side === 'initlive' && record.trigger === 'recovery';
  // The versions kept beside the ids let most pairs skip reading their state.
  const mayBeGone = (l: PairLinks, side: Side): boolean => {
    const id = side === 'initlive' ? l.initliveId : l.salesforceId;
    if (!id || !unseenIds[side].has(id)) return false;
    if (!l.seen) return true;
    if (l.seen[side] === 0) return unobserved(side);
    return !(side === 'salesforce' && startedAt !== null && l.seen[side] >= startedAt);
  };
  const suspectPairs = page.pairIds.filter((_, i) => {
    const l = links[i];
    return l != null && (mayBeGone(l, 'initlive') || mayBeGone(l, 'salesforce'));
  });
  const pairs = (await store.getMany(orgId, suspectPairs)).filter((p) => p !== null);
  // The same rules on whole states.
  const holders = (side: Side): Map<string, StoredPair> => {
    const out = new Map<string, StoredPair>();
    for (const p of pairs) {
      const id = side === 'initlive' ? p.state.initliveId : p.state.salesforceId;
      if (!id || p.state.status === 'deleted') continue;
      const seen = p.state.seen[side];
      // Named by its Contact only: not known to exist, which is why it is asked about.
      if (seen === 0) {
        if (!unobserved(side) || markedDeleted(p)) continue;
      } else if (p.state.merge?.exists[side] === false) continue;
      if (side === 'salesforce' && startedAt !== null && seen >= startedAt) continue;
      out.set(id, p);
    }
    return out;
  };
  const ilHolders = holders('initlive');
  const sfHolders = holders('salesforce');
  const staffGone: InitLiveStaffChange[] = [];
  for (const id of ilCandidates) {
    const pair = ilHolders.get(id);
    if (pair && (await staffIsGone(org, id)))
      staffGone.push(staffGoneOf(record.runId, pair.state, now));
  }
  const contactsGone: SalesforceContactChange[] = [];
  const sfUnseen = sfCandidates.filter((id) => sfHolders.has(id));
  if (sfUnseen.length > 0) {
    const alive = new Set(
      (await api.getContactsByIds(sfUnseen, ['Id'])).map((r) => r.Id.slice(0, 15)),
    );
    for (const id of sfUnseen) {
      if (alive.has(id.slice(0, 15))) continue;
      contactsGone.push(contactGoneOf(record.runId, sfHolders.get(id)!.state, now));
    }
  }
  return { staffGone, contactsGone, cursor: page.cursor };
}

/** The pair's Contact already carries the deletion (the archive policy's status). */
function markedDeleted(p: StoredPair): boolean {
  return p.state.merge?.current.salesforce?.status === 'deleted';
}

async function staffIsGone(org: OrgRuntime, id: string): Promise<boolean> {
  try {
    await org.initlive.getStaff(id);
    return false;
  } catch (err) {
    if (isSyncError(err) && err.code === 'NOT_FOUND') return true;
    throw err;
  }
}
