import type { DeadLetter } from '../../src/core/records';
import { emptyPair } from '../../src/core/pair-state';
import { linkedMarkerName } from '../../src/core/position-store';
import { fastRetryPolicy } from '../../src/retry';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { SalesforceSink } from '../../src/sink/salesforce-sink';
import { collect } from '../fixtures/pipeline-deps';
import {
  ORG_ID,
  groupLag,
  memoryPipeline,
  orgRuntime,
  produceWrites,
  sandboxConnection,
  staffId,
  upsertWrite,
  waitUntil,
} from './sink-salesforce-fixture';
import type { MemoryPipeline } from './sink-salesforce-fixture';

/**
 * A volunteer created in InitLive whose person Salesforce already holds as a Contact the
 * connector has not met (the organization's Contacts before its first full sync, or after the
 * state store lost its links): the sink updates that Contact instead of creating a second one.
 */
describe('SalesforceSink before an organization is linked', () => {
  let sb: SalesforceSandbox;
  let p: MemoryPipeline;
  let sink: SalesforceSink | undefined;

  const run = async (
    linked: boolean,
    count: number,
    runIdOf: (i: number) => string | null = () => null,
  ): Promise<void> => {
    p = await memoryPipeline([orgRuntime(await sandboxConnection(sb))], 1, { linked });
    for (const i of [3, 250]) {
      const pair = {
        ...emptyPair(ORG_ID, `pair-${staffId(i)}`, Date.now()),
        initliveId: staffId(i),
      };
      await p.store.compareAndApply(pair, 0);
    }
    await produceWrites(
      p.deps,
      Array.from({ length: count }, (_, i) => upsertWrite(i, { runId: runIdOf(i) })),
    );
    sb.control.resetApiUsage();
    sink = new SalesforceSink(p.deps, { lingerMs: 20, retryPolicy: fastRetryPolicy });
    await sink.start();
    await waitUntil(
      'offsets committed',
      async () => (await groupLag(p.memory, sink!.groupId, p.deps.topics.salesforceWrites)) === 0,
    );
  };

  beforeEach(async () => {
    sb = await startSalesforceSandbox({ streaming: false });
  });

  afterEach(async () => {
    await sink?.stop();
    sink = undefined;
    await p?.memory.close();
    await sb.close();
  });

  it('updates the one unlinked Contact holding the email, links it, and creates the rest, with one lookup per 200 creates', async () => {
    // person3 and person250 exist already; person7's Contact belongs to another volunteer.
    const dana = sb.control.createContact({ LastName: 'Before', Email: 'PERSON3@example.org' });
    const eli = sb.control.createContact({ LastName: 'Before', Email: 'person250@example.org' });
    sb.control.createContact({
      LastName: 'Other',
      Email: 'person7@example.org',
      InitLive_Staff_Id__c: 'S-other',
    });
    await run(false, 300);

    const contacts = sb.control.listContacts();
    expect(contacts).toHaveLength(301);
    for (const [contact, i] of [
      [dana, 3],
      [eli, 250],
    ] as const) {
      const now = sb.control.getContact(String(contact.Id))!;
      expect(now.InitLive_Staff_Id__c).toBe(staffId(i));
      expect(now.LastName).toBe(`Last${i}`);
      const pair = await p.store.findPairId(ORG_ID, 'salesforce', String(contact.Id));
      expect(pair).toBe(`pair-${staffId(i)}`);
    }
    // The Contact of another volunteer is not taken: person7 gets one of their own.
    expect(contacts.filter((c) => c.Email === 'person7@example.org')).toHaveLength(2);
    // Two lookups (300 emails), then the writes.
    expect(sb.control.counters().endpoints['GET /query']).toBe(2);
  });

  it('refuses a create whose email two unlinked Contacts hold, naming them, and writes the others', async () => {
    const a = sb.control.createContact({ LastName: 'Twin', Email: 'person1@example.org' });
    const b = sb.control.createContact({ LastName: 'Twin', Email: 'person1@example.org' });
    await run(false, 3);
    const letters = await collect(p.deps, 'deadLetters');
    await letters.until(1);
    const letter: DeadLetter = letters.records[0]!;
    expect(letter.errorCode).toBe('AMBIGUOUS_MATCH');
    expect(letter.message).toContain(String(a.Id));
    expect(letter.message).toContain(String(b.Id));
    expect(letter.message).not.toContain('person1@example.org');
    const contacts = sb.control.listContacts();
    expect(contacts).toHaveLength(4);
    expect(contacts.filter((c) => c.Email === 'person1@example.org')).toHaveLength(2);
  });

  it('once a full sync has linked the organization, looks up a trickle of creates (the person entered on both sides at once), not an import', async () => {
    sb.control.createContact({ LastName: 'Before', Email: 'person3@example.org' });
    await run(true, 5);
    expect(await p.deps.positions.get(linkedMarkerName(ORG_ID))).toBe('run_fixture');
    expect(sb.control.counters().endpoints['GET /query']).toBe(1);
    expect(sb.control.listContacts()).toHaveLength(5);
    expect(sb.control.listContacts().filter((c) => c.Email === 'person3@example.org')).toHaveLength(
      1,
    );
  });

  it("looks up a streamed create even when a full sync's writes share its batch", async () => {
    // A run repairing the organization writes while a person is entered on both sides at once.
    sb.control.createContact({ LastName: 'Before', Email: 'person3@example.org' });
    await run(true, 6, (i) => (i === 3 ? null : 'run_repair'));
    const contacts = sb.control.listContacts();
    expect(contacts.filter((c) => c.Email === 'person3@example.org')).toHaveLength(1);
    expect(contacts).toHaveLength(6);
  });

  it('once linked, does not look up an import (more creates than one query holds)', async () => {
    sb.control.createContact({ LastName: 'Before', Email: 'person3@example.org' });
    await run(true, 250);
    expect(sb.control.counters().endpoints['GET /query']).toBeUndefined();
    expect(sb.control.listContacts()).toHaveLength(251);
  });
});
