import type { Side } from '../../src/core/pair-state';
import type { SyncDirection } from '../../src/core/reconcile';
import { ORG_ID, newRunId, startWorld, type World } from './batch-fixture';

/**
 * A full sync repairs drift: values that changed with no change event and no new modified date,
 * and the links a package reinstall wiped. Streaming never sees these; the batch job compares
 * what it reads with what the pair knows.
 */

jest.setTimeout(60_000);

const worlds: World[] = [];
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()));
});

async function converged(
  direction: SyncDirection,
  defaultSystem: Side = 'initlive',
): Promise<World> {
  const w = await startWorld(
    { staff: 6, contacts: 6, shared: 6 },
    { settings: { direction, defaultSystem } },
  );
  worlds.push(w);
  // The second run reads back what the first wrote (no streaming here to confirm it): from then
  // on the pairs know each record's version and values.
  for (let i = 0; i < 2; i++) {
    const run = await w.job().run(ORG_ID, newRunId());
    expect(run.status).toBe('succeeded');
    await w.drained();
  }
  return w;
}

/** A linked person: the staff member and the Contact with the same email. */
function linked(w: World, i: number): { staffId: string; contactId: string } {
  const staff = w.il.control.listStaff()[i]!;
  const contact = w.sf.control.listContacts().find((c) => c.Email === staff.email)!;
  return { staffId: staff.id, contactId: String(contact.Id) };
}

describe('full sync repairs drift', () => {
  const cases: Array<[SyncDirection, Side, 'salesforce' | 'initlive']> = [
    // [direction, default system, the side the Contact's drifted phone is settled from]
    ['initlive_to_salesforce', 'initlive', 'initlive'],
    ['salesforce_to_initlive', 'initlive', 'salesforce'],
    ['two_way', 'initlive', 'initlive'],
    ['two_way', 'salesforce', 'salesforce'],
  ];
  it.each(cases)(
    '%s (default %s): a Contact phone changed under the API is settled from %s',
    async (direction, defaultSystem, winner) => {
      const w = await converged(direction, defaultSystem);
      const { staffId, contactId } = linked(w, 0);
      const before = w.sf.control.getContact(contactId)!;
      const staffPhone = w.il.control.getStaff(staffId).phone;
      expect(before.Phone).toBe(staffPhone);
      w.sf.control.driftContact(contactId, { Phone: '+1 604 555 0999' });
      expect(w.sf.control.getContact(contactId)!.LastModifiedDate).toBe(before.LastModifiedDate);

      const run = await w.job().run(ORG_ID, newRunId());
      await w.drained();
      expect(run.status).toBe('succeeded');
      const expected = winner === 'initlive' ? staffPhone : '+1 604 555 0999';
      expect(w.sf.control.getContact(contactId)!.Phone).toBe(expected);
      expect(w.il.control.getStaff(staffId).phone).toBe(expected);
      const repairedSide = winner === 'initlive' ? 'salesforce' : 'initlive';
      expect(run.counts.repaired).toEqual({
        initlive: repairedSide === 'initlive' ? 1 : 0,
        salesforce: repairedSide === 'salesforce' ? 1 : 0,
      });
      // Repaired means in sync: the next run finds nothing to do.
      const quiet = await w.job().run(ORG_ID, newRunId());
      await w.drained();
      expect(quiet.counts.repaired).toEqual({ initlive: 0, salesforce: 0 });
      expect(quiet.counts.updated).toEqual({ initlive: 0, salesforce: 0 });
    },
  );

  it('an InitLive value changed without a new version reaches Salesforce one-way', async () => {
    const w = await converged('initlive_to_salesforce');
    const { staffId, contactId } = linked(w, 1);
    w.il.control.driftStaff(staffId, { lastName: 'Restored' });
    const run = await w.job().run(ORG_ID, newRunId());
    await w.drained();
    expect(w.sf.control.getContact(contactId)!.LastName).toBe('Restored');
    expect(run.counts.repaired).toEqual({ initlive: 0, salesforce: 1 });
  });

  it.each([
    ['initlive_to_salesforce', 'initlive'],
    ['two_way', 'salesforce'],
  ] as Array<[SyncDirection, Side]>)(
    '%s (default %s): a package reinstall wipes our fields; Sync now brings every link and value back, duplicating nothing',
    async (direction, defaultSystem) => {
      const w = await converged(direction, defaultSystem);
      const before = w.sf.control
        .listContacts()
        .map((c) => [String(c.Id), c.InitLive_Staff_Id__c, c.InitLive_Status__c])
        .sort();
      expect(before.every(([, staffId]) => typeof staffId === 'string')).toBe(true);
      const tagsBefore = w.il.control.listStaff().map((s) => [s.id, s.tags]);
      w.sf.control.uninstallPackage();
      w.sf.control.installPackage();
      expect(w.sf.control.listContacts().every((c) => c.InitLive_Staff_Id__c === null)).toBe(true);

      const run = await w.job().run(ORG_ID, newRunId());
      await w.drained();
      expect(run.status).toBe('succeeded');
      const after = w.sf.control
        .listContacts()
        .map((c) => [String(c.Id), c.InitLive_Staff_Id__c, c.InitLive_Status__c])
        .sort();
      expect(after).toEqual(before);
      expect(w.il.control.listStaff()).toHaveLength(6);
      // A wiped value is restored, never spread: InitLive keeps its tags even when Salesforce wins.
      expect(w.il.control.listStaff().map((s) => [s.id, s.tags])).toEqual(tagsBefore);
      expect(run.counts.repaired.salesforce).toBe(6);
      expect(run.counts.created).toEqual({ initlive: 0, salesforce: 0 });
    },
  );
});

describe('full sync after the store lost its links', () => {
  /** What Redis coming back empty leaves: no pair, no link, no email claim. */
  function forgetEverything(w: World): void {
    (w.deps.store as unknown as { orgs: Map<string, unknown> }).orgs.clear();
    (w.deps.emailIndex as unknown as { sets: Map<string, unknown> }).sets.clear();
  }

  it('a Contact edited, then deleted since the last sync, archives its volunteer with the edit instead of coming back', async () => {
    const w = await converged('two_way', 'initlive');
    const { staffId, contactId } = linked(w, 2);
    const email = w.il.control.getStaff(staffId).email;
    // With the history gone, the record modified last holds the later edit, when the two are
    // further apart than simultaneous edits (SIMULTANEOUS_EDIT_MS, 2 s).
    await new Promise((r) => setTimeout(r, 2_100));
    // Neither reached the connector: the store lost its links before their events were read.
    w.sf.control.updateContact(contactId, { LastName: 'Edited' });
    w.sf.control.deleteContact(contactId);
    forgetEverything(w);
    // Deleted before the run starts, as in the chaos run (the clocks count milliseconds).
    await new Promise((r) => setTimeout(r, 5));

    const run = await w.job().run(ORG_ID, newRunId(), { trigger: 'recovery' });
    await w.drained();
    expect(run.status).toBe('succeeded');
    expect(w.il.control.getStaff(staffId)).toMatchObject({
      status: 'archived',
      lastName: 'Edited',
    });
    expect(w.sf.control.listContacts().filter((c) => c.Email === email)).toHaveLength(0);
    expect(w.sf.control.listContacts()).toHaveLength(5);
    expect(run.counts.created).toEqual({ initlive: 0, salesforce: 0 });
    // The others are linked again, not duplicated.
    expect(w.il.control.listStaff()).toHaveLength(6);
  });

  it('a volunteer deleted in InitLive just before the loss archives their Contact, as the link would have', async () => {
    const w = await converged('two_way', 'initlive');
    const { staffId, contactId } = linked(w, 3);
    expect(w.sf.control.getContact(contactId)).toMatchObject({
      InitLive_Staff_Id__c: staffId,
      InitLive_Status__c: 'active',
    });
    // Deleted for good (not archived): InitLive keeps nothing of them. The deletion's write to
    // the Contact was lost with the store (parked in Redis while the org was held).
    w.il.control.deleteStaff(staffId);
    forgetEverything(w);

    const run = await w.job().run(ORG_ID, newRunId(), { trigger: 'recovery' });
    await w.drained();
    expect(run.status).toBe('succeeded');
    // The delete policy (archive): the Contact stays, marked deleted, naming whose it was.
    expect(w.sf.control.getContact(contactId)).toMatchObject({
      InitLive_Staff_Id__c: staffId,
      InitLive_Status__c: 'deleted',
    });
    expect(run.counts.created).toEqual({ initlive: 0, salesforce: 0 });
    expect(w.il.control.listStaff()).toHaveLength(5);
    // A later recovery run finds the mark and writes nothing more to that Contact.
    const marked = w.sf.control.getContact(contactId)!.LastModifiedDate;
    forgetEverything(w);
    const again = await w.job().run(ORG_ID, newRunId(), { trigger: 'recovery' });
    await w.drained();
    expect(again.status).toBe('succeeded');
    expect(w.sf.control.getContact(contactId)!.LastModifiedDate).toBe(marked);
  });
});
