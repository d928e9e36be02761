import type { DeadLetter } from '../../src/core/records';
import { recordKey } from '../../src/core/topics';
import { produce } from '../../src/pipeline/deps';
import { collect } from '../fixtures/pipeline-deps';
import { eventually, startE2E, ORG, type E2E } from '../fixtures/e2e';

/**
 * The streaming pipeline end to end on real Kafka, the real registry and real Redis, between
 * the two sandboxes. Users edit each side (the InitLive UI, another Salesforce API client);
 * assertions look only at what ends up in the two systems and on the topics.
 */

jest.setTimeout(120_000);

const il = (e: E2E) => e.il.control;
const sf = (e: E2E) => e.sf.control;
const byEmail = (e: E2E, email: string) =>
  sf(e)
    .listContacts()
    .find((c) => String(c.Email).toLowerCase() === email.toLowerCase());
const staffByEmail = (e: E2E, email: string) =>
  il(e)
    .listStaff()
    .find((s) => s.email?.toLowerCase() === email.toLowerCase());

function person(n: number, extra: Record<string, unknown> = {}) {
  return {
    firstName: `Vol${n}`,
    lastName: `Unteer${n}`,
    email: `vol${n}-${Date.now() % 100000}@example.org`,
    ...extra,
  };
}

describe('streaming sync: directions', () => {
  let e: E2E | null = null;
  afterEach(async () => {
    await e?.close();
    e = null;
  });

  it('InitLive -> Salesforce pushes InitLive changes and never writes to InitLive', async () => {
    e = await startE2E({ real: true, direction: 'initlive_to_salesforce' });
    const staff = il(e).createStaff(
      person(1, { phone: '+1 555 0101', tags: ['Greeter', 'First Aid'], birthdate: '1990-04-01' }),
    );
    await eventually(() => {
      const c = byEmail(e!, staff.email!);
      expect(c).toMatchObject({
        LastName: staff.lastName,
        Phone: '+1 555 0101',
        InitLive_Staff_Id__c: staff.id,
        Birthdate: '1990-04-01',
      });
      expect(String(c!.InitLive_Tags__c).split(';').sort()).toEqual(['First Aid', 'Greeter']);
    });
    const contactId = String(byEmail(e, staff.email!)!.Id);
    await e.sfUser.sobject('Contact').update({ Id: contactId, Phone: '+1 555 0999' });
    il(e).updateStaff(staff.id, { firstName: 'Renamed' });
    await eventually(() =>
      expect(sf(e!).getContact(contactId)).toMatchObject({ FirstName: 'Renamed' }),
    );
    // Salesforce's edit never reached InitLive: no write from us there at all.
    expect(il(e).getStaff(staff.id).phone).toBe(staff.phone);
    expect(
      il(e)
        .feed()
        .filter((f) => f.origin === 'salesforce-sync'),
    ).toEqual([]);
  });

  it('Salesforce -> InitLive pushes Salesforce changes and never writes to Salesforce', async () => {
    e = await startE2E({ real: true, direction: 'salesforce_to_initlive' });
    const writesBefore = sf(e).counters().writes;
    const email = `sf2il-${Date.now()}@example.org`;
    const created = await e.sfUser
      .sobject('Contact')
      .create({ FirstName: 'Sam', LastName: 'Rivera', Email: email, MailingCity: 'Oakland' });
    const contactId = (created as { id: string }).id;
    await eventually(() =>
      expect(staffByEmail(e!, email)).toMatchObject({
        firstName: 'Sam',
        lastName: 'Rivera',
        address: expect.objectContaining({ city: 'Oakland' }),
      }),
    );
    const staffId = staffByEmail(e, email)!.id;
    il(e).updateStaff(staffId, { phone: '+1 555 0303' });
    await e.sfUser.sobject('Contact').update({ Id: contactId, MailingCity: 'Berkeley' });
    await eventually(() =>
      expect(il(e!).getStaff(staffId).address).toMatchObject({ city: 'Berkeley' }),
    );
    // Only the user's own two writes ever touched Salesforce.
    expect(sf(e).counters().writes - writesBefore).toBe(2);
    expect(sf(e).getContact(contactId)!.Phone ?? null).toBeNull();
  });

  it('two-way sends each side\u2019s changes to the other', async () => {
    e = await startE2E({ real: true, direction: 'two_way', defaultSystem: 'salesforce' });
    const staff = il(e).createStaff(person(3));
    await eventually(() => expect(byEmail(e!, staff.email!)).toBeDefined());
    const contactId = String(byEmail(e, staff.email!)!.Id);
    await e.sfUser.sobject('Contact').update({ Id: contactId, Phone: '+1 555 0404' });
    await eventually(() => expect(il(e!).getStaff(staff.id).phone).toBe('+1 555 0404'));
    il(e).updateStaff(staff.id, { lastName: 'Changed' });
    await eventually(() =>
      expect(sf(e!).getContact(contactId)).toMatchObject({ LastName: 'Changed' }),
    );
  });
});

describe('streaming sync: conflicts, echo, duplicates', () => {
  let e: E2E | null = null;
  afterEach(async () => {
    await e?.close();
    e = null;
  });

  it.each(['initlive', 'salesforce'] as const)(
    'concurrent edits of the same field resolve to the default system (%s); different fields merge',
    async (defaultSystem) => {
      e = await startE2E({ real: true, direction: 'two_way', defaultSystem });
      const staff = il(e).createStaff(person(4, { phone: '+1 555 0000' }));
      await eventually(() => expect(byEmail(e!, staff.email!)?.Phone).toBe('+1 555 0000'));
      const contactId = String(byEmail(e, staff.email!)!.Id);
      // Stop the pipeline so both edits happen "before a sync", then let it see both.
      await e.pipeline.stop();
      il(e).updateStaff(staff.id, { phone: '+1 555 1111', firstName: 'FromInitLive' });
      await e.sfUser
        .sobject('Contact')
        .update({ Id: contactId, Phone: '+1 555 2222', MailingCity: 'FromSalesforce' });
      await e.pipeline.start();
      const winner = defaultSystem === 'initlive' ? '+1 555 1111' : '+1 555 2222';
      await eventually(() => {
        expect(il(e!).getStaff(staff.id)).toMatchObject({
          phone: winner,
          firstName: 'FromInitLive',
          address: expect.objectContaining({ city: 'FromSalesforce' }),
        });
        expect(sf(e!).getContact(contactId)).toMatchObject({
          Phone: winner,
          FirstName: 'FromInitLive',
          MailingCity: 'FromSalesforce',
        });
      }, 30_000);
      const conflicts = e.pipeline.reconciler.recentConflicts(ORG);
      expect(conflicts).toContainEqual(
        expect.objectContaining({ field: 'phone', winner: defaultSystem }),
      );
    },
  );

  it('after a burst of 1,000 changes settles, nothing more is written on either side for 10 s', async () => {
    e = await startE2E({ real: true, direction: 'two_way' });
    const stamp = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 500; i++)
      ids.push(
        il(e).createStaff({
          firstName: 'Burst',
          lastName: `B${i}`,
          email: `burst${i}-${stamp}@example.org`,
        }).id,
      );
    for (let i = 0; i < 500; i++)
      il(e).updateStaff(ids[i]!, { phone: `+1 555 ${String(i).padStart(4, '0')}` });
    await eventually(() => {
      const contacts = sf(e!)
        .listContacts()
        .filter((c) => String(c.Email).includes(`-${stamp}@`));
      expect(contacts).toHaveLength(500);
      expect(contacts.filter((c) => c.Phone === null || c.Phone === undefined)).toHaveLength(0);
    }, 60_000);
    // Let echoes drain, then watch both sides stay still.
    await new Promise((r) => setTimeout(r, 3000));
    const sfCalls = sf(e).counters().apiCallsUsed;
    const sfWrites = sf(e).counters().writes;
    const ilWrites = il(e).counters().writes;
    await new Promise((r) => setTimeout(r, 10_000));
    expect(sf(e).counters().apiCallsUsed).toBe(sfCalls);
    expect(sf(e).counters().writes).toBe(sfWrites);
    expect(il(e).counters().writes).toBe(ilWrites);
  });

  it('duplicated and replayed change records change nothing', async () => {
    e = await startE2E({ real: true, direction: 'two_way' });
    const staff = il(e).createStaff(person(6));
    await eventually(() => expect(byEmail(e!, staff.email!)).toBeDefined());
    const changes = await collect(e.runtime.deps, 'staffChanges');
    await changes.until(1);
    await new Promise((r) => setTimeout(r, 1000));
    const writes = sf(e).counters().writes;
    // Replay everything the source ever produced, twice.
    const all = changes.records.slice();
    for (let i = 0; i < 2; i++) {
      await produce(
        e.runtime.deps,
        'staffChanges',
        all.map((value) => ({ key: recordKey(value.orgId, value.initliveId), value })),
      );
    }
    await new Promise((r) => setTimeout(r, 3000));
    expect(sf(e).counters().writes).toBe(writes);
    await changes.stop();
  });
});

describe('streaming sync: linking, deletes, bad records', () => {
  let e: E2E | null = null;
  afterEach(async () => {
    await e?.close();
    e = null;
  });

  it('links an existing Contact by email instead of creating a duplicate; an ambiguous match is reported', async () => {
    e = await startE2E({ real: true, direction: 'initlive_to_salesforce' });
    const stamp = Date.now();
    const existing = (await e.sfUser.sobject('Contact').create({
      FirstName: 'Existing',
      LastName: 'Person',
      Email: `Link-${stamp}@Example.org`,
    })) as { id: string };
    await e.sfUser
      .sobject('Contact')
      .create({ FirstName: 'Twin', LastName: 'One', Email: `twin-${stamp}@example.org` });
    await e.sfUser
      .sobject('Contact')
      .create({ FirstName: 'Twin', LastName: 'Two', Email: `twin-${stamp}@example.org` });
    // The connector has seen the Salesforce side (as streaming or a full sync would show it).
    await eventually(async () => {
      expect(await e!.runtime.deps.emailIndex.find(ORG, `link-${stamp}@example.org`)).toHaveLength(
        1,
      );
      expect(await e!.runtime.deps.emailIndex.find(ORG, `twin-${stamp}@example.org`)).toHaveLength(
        2,
      );
    });
    const dead = await collect(e.runtime.deps, 'deadLetters');
    const staff = il(e).createStaff({
      firstName: 'Existing',
      lastName: 'Person',
      email: `link-${stamp}@example.org`,
      phone: '+1 555 4242',
    });
    await eventually(() =>
      expect(sf(e!).getContact(existing.id)).toMatchObject({
        InitLive_Staff_Id__c: staff.id,
        Phone: '+1 555 4242',
      }),
    );
    expect(
      sf(e)
        .listContacts()
        .filter((c) => String(c.Email).toLowerCase() === `link-${stamp}@example.org`),
    ).toHaveLength(1);
    // Two contacts share an email: the connector must not pick one.
    const twin = il(e).createStaff({
      firstName: 'Twin',
      lastName: 'Three',
      email: `twin-${stamp}@example.org`,
    });
    await eventually(() =>
      expect(dead.records).toContainEqual(
        expect.objectContaining({
          errorCode: 'AMBIGUOUS_MATCH',
          recordType: 'InitLiveStaffChange',
        }),
      ),
    );
    const ambiguous = dead.records.find((d: DeadLetter) => d.errorCode === 'AMBIGUOUS_MATCH')!;
    expect(ambiguous.message).toContain('matches 2 Salesforce Contacts');
    // Ids, not the email: the reason goes to logs and record status.
    expect(ambiguous.message).not.toContain(`twin-${stamp}@example.org`);
    expect(
      sf(e)
        .listContacts()
        .filter((c) => c.InitLive_Staff_Id__c === twin.id),
    ).toEqual([]);
    await dead.stop();
  });

  it('deletes follow the policy: archive marks, never deletes', async () => {
    e = await startE2E({ real: true, direction: 'two_way', deletePolicy: 'archive' });
    const staff = il(e).createStaff(person(8));
    await eventually(() => expect(byEmail(e!, staff.email!)).toBeDefined());
    const contactId = String(byEmail(e, staff.email!)!.Id);
    il(e).deleteStaff(staff.id);
    await eventually(() =>
      expect(sf(e!).getContact(contactId)).toMatchObject({ InitLive_Status__c: 'deleted' }),
    );
    expect(sf(e).getContact(contactId)!.IsDeleted).toBeFalsy();
  });

  it('deletes follow the policy: propagate deletes the other side; a Salesforce delete archives under archive', async () => {
    e = await startE2E({ real: true, direction: 'two_way', deletePolicy: 'propagate' });
    const staff = il(e).createStaff(person(9));
    await eventually(() => expect(byEmail(e!, staff.email!)).toBeDefined());
    const contactId = String(byEmail(e, staff.email!)!.Id);
    await e.sfUser.sobject('Contact').destroy(contactId);
    await eventually(() => expect(() => il(e!).getStaff(staff.id)).toThrow());
  });

  it('a record Salesforce would refuse goes to the dead letters with its reason, the rest syncs', async () => {
    e = await startE2E({ real: true, direction: 'initlive_to_salesforce' });
    const dead = await collect(e.runtime.deps, 'deadLetters');
    const good = il(e).createStaff(person(10));
    il(e).createStaff({
      firstName: 'X'.repeat(41),
      lastName: 'TooLong',
      email: `long-${Date.now()}@example.org`,
    });
    const good2 = il(e).createStaff(person(11));
    await eventually(() => {
      expect(byEmail(e!, good.email!)).toBeDefined();
      expect(byEmail(e!, good2.email!)).toBeDefined();
    });
    await eventually(() =>
      expect(dead.records).toContainEqual(
        expect.objectContaining({
          errorCode: 'SALESFORCE_REJECTED',
          upstreamCode: 'STRING_TOO_LONG',
        }),
      ),
    );
    await dead.stop();
  });
});

describe('streaming sync: faults', () => {
  let e: E2E | null = null;
  afterEach(async () => {
    await e?.close();
    e = null;
  });

  it('refreshes an expired token invisibly', async () => {
    e = await startE2E({ real: true, direction: 'initlive_to_salesforce' });
    const first = il(e).createStaff(person(12));
    await eventually(() => expect(byEmail(e!, first.email!)).toBeDefined());
    sf(e).expireAccessTokens();
    const second = il(e).createStaff(person(13));
    await eventually(() => expect(byEmail(e!, second.email!)).toBeDefined());
  });

  it('pauses on an exhausted API allocation and resumes with nothing lost', async () => {
    e = await startE2E({
      real: true,
      direction: 'initlive_to_salesforce',
      pipeline: { salesforceSink: { lingerMs: 30, pauseCheckMs: 200 } },
    });
    sf(e).exhaustApiLimit();
    const staff = [person(14), person(15), person(16)].map((p) => il(e!).createStaff(p));
    await new Promise((r) => setTimeout(r, 1500));
    for (const s of staff) expect(byEmail(e, s.email!)).toBeUndefined();
    sf(e).resetApiUsage();
    await eventually(() => {
      for (const s of staff) expect(byEmail(e!, s.email!)).toBeDefined();
    }, 30_000);
  });

  it('a GAP event repairs the record from Salesforce', async () => {
    e = await startE2E({ real: true, direction: 'salesforce_to_initlive' });
    const email = `gap-${Date.now()}@example.org`;
    const created = (await e.sfUser
      .sobject('Contact')
      .create({ FirstName: 'Gap', LastName: 'Case', Email: email })) as { id: string };
    await eventually(() => expect(staffByEmail(e!, email)).toBeDefined());
    // A change Salesforce could not describe: only a GAP event is sent for it.
    const staffId = staffByEmail(e, email)!.id;
    sf(e).updateContact(created.id, { Title: 'x', Phone: '+1 555 7777' }, { gapOnly: true });
    await eventually(() => expect(il(e!).getStaff(staffId).phone).toBe('+1 555 7777'));
  });

  it('an expired replay id leads to a full-sync request', async () => {
    e = await startE2E({ real: true, direction: 'salesforce_to_initlive' });
    const runs = await collect(e.runtime.deps, 'syncRuns');
    await e.sfUser
      .sobject('Contact')
      .create({ FirstName: 'Before', LastName: 'Purge', Email: `purge-${Date.now()}@example.org` });
    await new Promise((r) => setTimeout(r, 1000));
    await e.pipeline.salesforceSource.stop();
    await e.sfUser.sobject('Contact').create({
      FirstName: 'While',
      LastName: 'Stopped',
      Email: `purge2-${Date.now()}@example.org`,
    });
    sf(e).purgeReplayRetention();
    await e.pipeline.salesforceSource.start();
    await eventually(() =>
      expect(runs.records).toContainEqual(
        expect.objectContaining({
          kind: 'REQUESTED',
          trigger: 'RECOVERY',
          reason: 'replay_id_invalid',
        }),
      ),
    );
    await runs.stop();
  });
});
