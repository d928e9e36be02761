import { defaultMapping, resolveMapping } from '../../src/core/mapping';
import type { CanonicalValues } from '../../src/core/mapping';
import type { PairState } from '../../src/core/pair-state';
import { decodePairState, encodePairState } from '../../src/core/pair-state-codec';
import { decide, type ObservedChange, type ReconcileSettings } from '../../src/core/reconcile';

const ctx = (now = 1_000) => ({ orgId: 'org_demo', pairId: 'p1', now });
const settings = (over: Partial<ReconcileSettings> = {}): ReconcileSettings => ({
  direction: 'two_way',
  defaultSystem: 'initlive',
  deletePolicy: 'archive',
  mapping: defaultMapping,
  ...over,
});

const staff = (over: CanonicalValues = {}): CanonicalValues => ({
  initliveId: 'stf_1',
  firstName: 'Dana',
  lastName: 'Lee',
  email: 'dana@example.org',
  phone: '+1 415 555 0100',
  status: 'active',
  ...over,
});

let ilVersion = 0;
let sfVersion = 10_000;
let sfReplay = 100;
const il = (values: CanonicalValues, over: Partial<ObservedChange> = {}): ObservedChange => ({
  side: 'initlive',
  recordId: 'stf_1',
  otherId: null,
  op: 'upsert',
  full: true,
  values,
  version: ++ilVersion,
  position: String(ilVersion + 1000),
  ours: false,
  ...over,
});
const sf = (values: CanonicalValues, over: Partial<ObservedChange> = {}): ObservedChange => ({
  side: 'salesforce',
  recordId: '003000000000001AAA',
  otherId: 'stf_1',
  op: 'upsert',
  full: false,
  values,
  version: (sfVersion += 5),
  position: String((sfReplay += 3)),
  ours: false,
  ...over,
});

/** Applies a change and returns the decision, threading the state like the store would. */
function step(state: PairState | null, change: ObservedChange, s = settings(), now = 1_000) {
  return decide(state, change, s, ctx(now));
}

/** A pair already in sync on both sides with `staff()` values. */
function linkedPair(s = settings()): PairState {
  let d = step(null, il(staff()), s);
  expect(d.writes).toHaveLength(1);
  const w = d.writes[0]!;
  // The Salesforce echo of our create.
  d = step(d.next, sf(w.values, { ours: true, full: true, op: 'upsert' }), s);
  expect(d.outcome).toBe('echo');
  return d.next;
}

describe('reconcile: first sight and linking', () => {
  it('creates the Contact with every mapped InitLive value and the external id', () => {
    const d = step(null, il(staff({ tags: ['Greeter', 'First Aid'], birthdate: '1990-04-01' })));
    expect(d.outcome).toBe('applied');
    expect(d.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        op: 'create',
        values: expect.objectContaining({
          initliveId: 'stf_1',
          lastName: 'Lee',
          email: 'dana@example.org',
          tags: ['Greeter', 'First Aid'],
          birthdate: '1990-04-01',
        }),
      }),
    ]);
  });

  it('refuses a record Salesforce would refuse, before any API call, and keeps the state', () => {
    const d = step(null, il(staff({ email: 'not-an-email', lastName: null })));
    expect(d.outcome).toBe('rejected');
    expect(d.writes).toEqual([]);
    expect(d.problems.map((p) => p.code).sort()).toEqual([
      'INVALID_EMAIL_ADDRESS',
      'REQUIRED_FIELD_MISSING',
    ]);
    expect(d.next.seen.initlive).toBe(0);
  });
});

describe('reconcile: part of a record no pair knows', () => {
  it('decides nothing from a partial update of an unknown Contact naming no volunteer', () => {
    const d = step(null, sf({ lastName: 'Changed' }, { otherId: null }));
    expect(d.outcome).toBe('incomplete');
    expect(d.writes).toEqual([]);
    expect(d.next.salesforceId).toBeNull();
  });

  it('reads a partial update naming its volunteer whole too, and decides a whole record as usual', () => {
    // Naming its volunteer says who it is, not what the fields it leaves out hold.
    expect(step(null, sf({ lastName: 'Changed' })).outcome).toBe('incomplete');
    const whole = step(null, sf(staff(), { otherId: null, full: true }));
    expect(whole.outcome).toBe('applied');
    expect(whole.writes).toEqual([expect.objectContaining({ side: 'initlive', op: 'create' })]);
  });
});

describe('reconcile: a counterpart named but never seen', () => {
  it('sends a streamed change to the volunteer it names, for a pair nobody stored', () => {
    const d = step(null, sf(staff({ lastName: 'Changed' }), { full: true, changed: ['lastName'] }));
    expect(d.writes).toEqual([
      expect.objectContaining({
        side: 'initlive',
        op: 'update',
        recordId: 'stf_1',
        values: expect.objectContaining({ lastName: 'Changed' }),
      }),
    ]);
  });

  it('leaves a full sync read of the same Contact until the run has read the volunteer too', () => {
    const d = step(null, sf(staff({ lastName: 'Changed' }), { full: true, runId: 'run_1' }));
    expect(d.writes).toEqual([]);
    expect(d.next.initliveId).toBe('stf_1');
  });
});

describe('reconcile: a pair whose history is gone (the store lost its data)', () => {
  const contactId = '003000000000001AAA';

  it('a streamed change flows only the fields it changed, and a later read of the other side flows what changed there', () => {
    // Dana's Contact gets a new last name; in InitLive her phone changed meanwhile.
    const d = step(
      null,
      sf(staff({ lastName: 'ChangedInSF' }), { full: true, changed: ['lastName'] }),
    );
    expect(d.writes).toEqual([
      expect.objectContaining({
        side: 'initlive',
        op: 'update',
        values: { lastName: 'ChangedInSF' },
      }),
    ]);
    const read = step(
      d.next,
      il(staff({ lastName: 'ChangedInSF', phone: '+1 415 555 0199' }), {
        otherId: contactId,
        position: null,
        runId: 'run_repair',
      }),
    );
    expect(read.conflicts).toEqual([]);
    expect(read.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: expect.objectContaining({ phone: '+1 415 555 0199' }),
      }),
    ]);
    expect(read.writes[0]!.values).not.toHaveProperty('lastName');
  });

  it("a run's read of the other side from before the streamed change does not undo it", () => {
    // Chaos seed 20261208: Contacts edited seconds before Redis came back empty were decided
    // blind after it; the repair run read their volunteers before our writes landed, took the
    // old last names for InitLive edits in conflict, and the default system put them back on
    // both sides.
    const d = step(
      null,
      sf(staff({ lastName: 'ChangedInSF' }), {
        full: true,
        changed: ['lastName'],
        modifiedAt: 50_000,
      }),
    );
    const stale = step(d.next, ilRead('Lee', 10_000, { otherId: contactId }));
    expect(stale.conflicts).toEqual([]);
    expect(stale.writes).toEqual([]);
    // Our write lands: its echo is ours, and nothing flows back.
    const landed = step(
      stale.next,
      il(staff({ lastName: 'ChangedInSF' }), {
        ours: true,
        changed: ['lastName'],
        modifiedAt: 51_000,
      }),
    );
    expect(landed.outcome).toBe('echo');
    expect(landed.writes).toEqual([]);
    // An InitLive edit made after the Contact's is a conflict, as before: the default system.
    const edited = step(d.next, ilRead('EditedInIL', 60_000, { otherId: contactId }));
    expect(edited.conflicts).toEqual([
      expect.objectContaining({ field: 'lastName', winner: 'initlive' }),
    ]);
  });

  it('takes the other record to hold the values that did not change, so later changes of either side flow', () => {
    // Found by chaos seed 202: after the loss, the next Salesforce edit met a volunteer whose
    // values were unknown (read as empty), lost to them as the default system, and a Contact
    // without a last name was written.
    const blind = step(
      null,
      sf(staff({ phone: '+1 415 555 0111' }), { full: true, changed: ['phone'] }),
    );
    expect(blind.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { phone: '+1 415 555 0111' } }),
    ]);
    const later = step(blind.next, sf({ lastName: 'ChangedInSF' }, { changed: ['lastName'] }));
    expect(later.conflicts).toEqual([]);
    expect(later.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { lastName: 'ChangedInSF' } }),
    ]);
    // A volunteer edit in InitLive meanwhile flows the other way, and only that.
    const ilEdit = step(
      later.next,
      il(staff({ lastName: 'ChangedInSF', phone: '+1 415 555 0111', firstName: 'Dee' }), {
        otherId: contactId,
        changed: ['firstName'],
      }),
    );
    expect(ilEdit.conflicts).toEqual([]);
    expect(ilEdit.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: { firstName: 'Dee', initliveId: 'stf_1' },
      }),
    ]);
  });

  it('sends a field the streamed change emptied, though what the other record holds is unknown', () => {
    // Found by chaos seed 202: the Contact's phone was cleared just before the loss; the
    // volunteer's phone, unknown, read as empty, "equal", and was kept.
    const d = step(
      null,
      sf(staff({ firstName: 'F1646', phone: null }), {
        full: true,
        changed: ['firstName', 'phone'],
      }),
    );
    expect(d.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { firstName: 'F1646', phone: null } }),
    ]);
  });

  it('decides nothing on our own write coming back for a pair nobody stored', () => {
    // Found by chaos seed 202: after the loss the InitLive feed was read again from a restored
    // cursor, and the echo of a write we had made from the Contact became a "new" volunteer
    // whose old values were written over a later edit of that Contact.
    const echo = step(null, il(staff(), { ours: true, changed: ['firstName'] }));
    expect(echo.outcome).toBe('echo');
    expect(echo.writes).toEqual([]);
    const sfEcho = step(null, sf(staff(), { ours: true, full: true, changed: ['status'] }));
    expect(sfEcho.outcome).toBe('echo');
    expect(sfEcho.writes).toEqual([]);
    // A full sync's read is not an echo: it reads what the record holds now.
    const read = step(null, il(staff(), { ours: true, position: null, runId: 'run_repair' }));
    expect(read.outcome).not.toBe('echo');
  });

  it('a create for a streamed edit carries the fields it emptied, so a Contact matched by email loses them too', () => {
    // Found by chaos seed 202: after the loss a volunteer's edit that cleared her phone became
    // a create, the sink matched it to her Contact by email, and the phone stayed there.
    const d = step(null, il(staff({ phone: null }), { changed: ['lastName', 'phone'] }));
    expect(d.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        op: 'create',
        values: expect.objectContaining({ lastName: 'Lee', phone: null }),
      }),
    ]);
    // A volunteer created without a phone says nothing about a Contact's phone.
    const created = step(null, il(staff({ phone: null }), { changed: ['firstName', 'lastName'] }));
    expect(created.writes[0]!.values).not.toHaveProperty('phone');
  });

  const repair = (first: ObservedChange, second: ObservedChange) =>
    step(step(null, first).next, second);
  const ilRead = (lastName: string, modifiedAt: number, over: Partial<ObservedChange> = {}) =>
    il(staff({ lastName }), {
      // InitLive holds no Salesforce id: the run's read names none; the Contact named the staff.
      otherId: null,
      position: null,
      runId: 'run_repair',
      modifiedAt,
      ...over,
    });
  const sfRead = (lastName: string, modifiedAt: number, over: Partial<ObservedChange> = {}) =>
    sf(staff({ lastName }), {
      full: true,
      position: null,
      runId: 'run_repair',
      modifiedAt,
      ...over,
    });

  it('a repair run settles a field the two records hold differently by the record modified last', () => {
    // Edited in Salesforce (not the default system) after InitLive last changed.
    const sfLater = repair(sfRead('ChangedInSF', 50_000), ilRead('Lee', 10_000));
    expect(sfLater.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { lastName: 'ChangedInSF' } }),
    ]);
    // Edited in InitLive after Salesforce: InitLive's value. (A run reads the Contacts first.)
    const ilLater = repair(sfRead('Lee', 10_000), ilRead('ChangedInIL', 50_000));
    expect(ilLater.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: expect.objectContaining({ lastName: 'ChangedInIL' }),
      }),
    ]);
  });

  it('a value cleared on the record modified last stays cleared', () => {
    const cleared = step(
      step(
        null,
        sf(staff(), { full: true, position: null, runId: 'run_repair', modifiedAt: 10_000 }),
      ).next,
      il(staff({ phone: null }), { position: null, runId: 'run_repair', modifiedAt: 50_000 }),
    );
    expect(cleared.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: expect.objectContaining({ phone: null }),
      }),
    ]);
    expect(cleared.writes.some((w) => w.side === 'initlive')).toBe(false);
  });

  it('never sends a volunteer a Contact status InitLive cannot hold, from the record modified last', () => {
    // Chaos seed 202: the Contact, modified last (by our own write), had no status; the repair
    // run sent InitLive an empty status, refused and dead-lettered.
    const d = repair(
      sfRead('ChangedInSF', 50_000, { values: staff({ lastName: 'ChangedInSF', status: null }) }),
      ilRead('Lee', 10_000),
    );
    expect(d.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { lastName: 'ChangedInSF' } }),
    ]);
  });

  it('edits within SIMULTANEOUS_EDIT_MS of each other, and records paired by email, go to the default system', () => {
    const close = repair(sfRead('ChangedInSF', 11_500), ilRead('ChangedInIL', 10_000));
    expect(close.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: expect.objectContaining({ lastName: 'ChangedInIL' }),
      }),
    ]);
    expect(close.conflicts.map((c) => c.winner)).toEqual(['initlive']);
    // First connection: the run paired them by email, nothing was ever synced.
    const first = repair(
      sfRead('Other', 50_000, { matchedByEmail: true }),
      ilRead('Lee', 10_000, { matchedByEmail: true }),
    );
    expect(first.conflicts.map((c) => c.winner)).toEqual(['initlive']);
    expect(first.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: expect.objectContaining({ lastName: 'Lee' }),
      }),
    ]);
  });

  it('keeps the modification times across the store (codec round trip)', () => {
    const d = step(null, sfRead('ChangedInSF', 50_000));
    expect(d.next.merge!.modified).toEqual({ initlive: null, salesforce: 50_000 });
    const back = decodePairState(encodePairState(d.next), { orgId: 'org_demo', pairId: 'p1' });
    expect(back.merge!.modified).toEqual({ initlive: null, salesforce: 50_000 });
  });
});

describe('reconcile: echo suppression', () => {
  it('recognises our echo on either side and writes nothing back', () => {
    const state = linkedPair();
    const d1 = step(state, sf({ phone: '+1 555 0199' }));
    expect(d1.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { phone: '+1 555 0199' } }),
    ]);
    const echo = step(d1.next, il(staff({ phone: '+1 555 0199' }), { ours: true }));
    expect(echo.outcome).toBe('echo');
    expect(echo.writes).toEqual([]);
    expect(echo.next.merge!.pending.initlive).toEqual([]);
  });

  it('an echo of merged writes confirms all of them, so a later foreign edit is not a conflict', () => {
    const state = linkedPair();
    const d1 = step(state, il(staff({ phone: '+1 555 0001' })));
    const d2 = step(d1.next, il(staff({ phone: '+1 555 0009', firstName: 'Dee' })));
    expect(d2.next.merge!.pending.salesforce).toHaveLength(2);
    // The sink merged both writes into one call: one echo with the final values.
    const echo = step(d2.next, sf({ phone: '+1 555 0009', firstName: 'Dee' }, { ours: true }));
    expect(echo.outcome).toBe('echo');
    expect(echo.next.merge!.pending.salesforce).toEqual([]);
    // A Salesforce user then edits the phone: an ordinary change, not a conflict.
    const edit = step(echo.next, sf({ phone: '+1 555 0002' }));
    expect(edit.conflicts).toEqual([]);
    expect(edit.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { phone: '+1 555 0002' } }),
    ]);
  });

  it('an echo of merged writes confirms one that put a field back, which the event leaves out (chaos seed 202)', () => {
    const state = linkedPair();
    const d1 = step(state, il(staff({ firstName: 'Dee' })));
    const d2 = step(d1.next, il(staff({ firstName: 'Dee', phone: '+1 555 0009' })));
    const d3 = step(d2.next, il(staff({ firstName: 'Dee' })));
    expect(d3.next.merge!.pending.salesforce).toHaveLength(3);
    // One call: the phone ended as it was, so the change event names only the first name.
    const echo = step(d3.next, sf({ firstName: 'Dee' }, { ours: true }));
    expect(echo.outcome).toBe('echo');
    expect(echo.next.merge!.pending.salesforce).toEqual([]);
    const edit = step(echo.next, sf({ phone: '+1 555 0002' }));
    expect(edit.conflicts).toEqual([]);
    expect(edit.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { phone: '+1 555 0002' } }),
    ]);
  });

  it('an echo leaves a write decided after it pending', () => {
    const state = linkedPair();
    const d1 = step(state, il(staff({ firstName: 'Dee' })));
    const d2 = step(
      d1.next,
      il(staff({ firstName: 'Dee', phone: '+1 555 0009' })),
      settings(),
      1e12,
    );
    const echo = step(d2.next, sf({ firstName: 'Dee' }, { ours: true }), settings(), 1e12);
    expect(echo.next.merge!.pending.salesforce).toEqual([
      expect.objectContaining({ fields: expect.objectContaining({ phone: '+1 555 0009' }) }),
    ]);
  });

  it('still syncs a foreign change that arrives in place of our echo', () => {
    const state = linkedPair();
    const d1 = step(state, sf({ phone: '+1 555 0199' }));
    // Someone else edits InitLive before our write lands: not ours, different value.
    const d2 = step(d1.next, il(staff({ firstName: 'Danielle' })));
    expect(d2.writes.map((w) => [w.side, w.values])).toContainEqual([
      'salesforce',
      expect.objectContaining({ firstName: 'Danielle' }),
    ]);
  });

  it('a tagged change carrying more than we wrote is a real change', () => {
    const state = linkedPair();
    const d1 = step(state, il(staff({ phone: '+1 555 0111' })));
    // A trigger in the same transaction also changed the email.
    const d2 = step(
      d1.next,
      sf({ phone: '+1 555 0111', email: 'trigger@example.org' }, { ours: true }),
    );
    expect(d2.outcome).toBe('applied');
    expect(d2.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { email: 'trigger@example.org' } }),
    ]);
  });
});

describe('reconcile: refused writes', () => {
  it('decides a write again when InitLive refused it (stale If-Match), against the record as it is', () => {
    const state = linkedPair();
    const d1 = step(state, sf({ city: 'Berkeley' }));
    expect(d1.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { city: 'Berkeley' } }),
    ]);
    // A user changed the phone in InitLive meanwhile; our write got 412 and the sink re-read it.
    const reread = il(staff({ phone: '+1 555 0303' }), { writeRejected: true, position: null });
    const d2 = step(d1.next, reread);
    expect(d2.writes).toContainEqual(
      expect.objectContaining({
        side: 'initlive',
        values: { city: 'Berkeley' },
        ifMatch: reread.version,
      }),
    );
    expect(d2.next.base).toMatchObject({ city: 'Berkeley' });
    expect(d2.next.seen.initlive).toBe(reread.version);
  });
});

describe('reconcile: refused writes after some landed', () => {
  it('rolls back only the writes the record read does not show (chaos seed 303)', () => {
    // Two Salesforce edits of the first name; the first write landed, the second was refused
    // as stale. Taking the first back too made our own write look like a volunteer's edit,
    // which won as the default system and put the older name on the Contact.
    const state = linkedPair();
    const d1 = step(state, sf({ firstName: 'F656' }));
    const d2 = step(d1.next, sf({ firstName: 'F686' }));
    const reread = il(staff({ firstName: 'F656' }), { writeRejected: true, position: null });
    const d3 = step(d2.next, reread);
    expect(d3.conflicts).toEqual([]);
    expect(d3.writes).toEqual([
      expect.objectContaining({
        side: 'initlive',
        values: { firstName: 'F686' },
        ifMatch: reread.version,
      }),
    ]);
  });
});

describe('reconcile: duplicates and order', () => {
  it('a duplicate or replayed event changes nothing', () => {
    const state = linkedPair();
    const change = sf({ phone: '+1 555 0123' });
    const d1 = step(state, change);
    expect(d1.writes).toHaveLength(1);
    const echo = step(d1.next, il(staff({ phone: '+1 555 0123' }), { ours: true }));
    const again = step(echo.next, change);
    expect(again.outcome).toBe('duplicate');
    expect(again.next).toBe(echo.next);
    expect(again.writes).toEqual([]);
  });

  it('a change redelivered after a crash sends its unconfirmed writes again, and only those', () => {
    const state = linkedPair();
    const change = il(staff({ phone: '+1 555 0456' }));
    const d1 = step(state, change);
    expect(d1.writes).toHaveLength(1);
    // The process died after saving d1.next but before the write reached its topic.
    const again = step(d1.next, change);
    expect(again.outcome).toBe('duplicate');
    expect(again.next).toBe(d1.next);
    expect(again.writes).toEqual([
      expect.objectContaining({ side: 'salesforce', values: d1.writes[0]!.values, op: 'update' }),
    ]);
    // Once the echo confirmed the write, a redelivery sends nothing.
    const echo = step(d1.next, sf({ phone: '+1 555 0456' }, { ours: true }));
    expect(step(echo.next, change).writes).toEqual([]);
  });

  it('an older InitLive version never overwrites a newer one', () => {
    const state = linkedPair();
    const newer = il(staff({ phone: 'new' }));
    const older = {
      ...il(staff({ phone: 'old' })),
      version: newer.version - 1,
      position: String(Number(newer.position) - 1),
    };
    const d1 = step(state, newer);
    const d2 = step(d1.next, older);
    expect(d2.outcome).toBe('duplicate');
    expect(d2.writes).toEqual([]);
    expect(d1.next.base!.phone).toBe('new');
  });

  it('a CDC event older than a snapshot already applied is stale', () => {
    const state = linkedPair();
    const snapshot = sf(staff({ phone: 'snap' }), { full: true, position: null, version: 50_000 });
    const d1 = step(state, snapshot);
    const late = sf({ phone: 'late' }, { version: 40_000 });
    expect(step(d1.next, late).outcome).toBe('stale');
  });
});

describe('reconcile: two-way merge', () => {
  it('merges edits of different fields from both sides', () => {
    const state = linkedPair();
    const d1 = step(state, il(staff({ phone: '+1 555 0001' })));
    const d2 = step(d1.next, sf({ email: 'dana.lee@example.org' }));
    expect(d1.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: expect.objectContaining({ phone: '+1 555 0001' }),
      }),
    ]);
    expect(d2.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { email: 'dana.lee@example.org' } }),
    ]);
    expect(d2.conflicts).toEqual([]);
    expect(d2.next.base).toMatchObject({ phone: '+1 555 0001', email: 'dana.lee@example.org' });
  });

  it.each(['initlive', 'salesforce'] as const)(
    'concurrent edits of the same field resolve to the default system (%s)',
    (defaultSystem) => {
      const s = settings({ defaultSystem });
      const state = linkedPair(s);
      // InitLive sets phone A and is processed first; Salesforce set phone B before our write landed.
      const d1 = step(state, il(staff({ phone: 'A' })), s);
      const d2 = step(d1.next, sf({ phone: 'B' }), s);
      expect(d2.conflicts).toEqual([
        { pairId: 'p1', field: 'phone', initlive: 'A', salesforce: 'B', winner: defaultSystem },
      ]);
      const winner = defaultSystem === 'initlive' ? 'A' : 'B';
      expect(d2.next.base!.phone).toBe(winner);
      if (defaultSystem === 'salesforce') {
        // B goes to InitLive, and back to Salesforce, where our pending write would leave A.
        expect(d2.writes.map((w) => [w.side, w.values.phone]).sort()).toEqual([
          ['initlive', 'B'],
          ['salesforce', 'B'],
        ]);
      } else {
        expect(d2.writes).toEqual([]);
      }
      // Echoes of every write settle with no further writes.
      let state2 = d2.next;
      const echoSf = step(state2, sf({ phone: 'A' }, { ours: true }), s);
      expect(echoSf.writes).toEqual([]);
      state2 = echoSf.next;
      for (const w of d2.writes) {
        const echo =
          w.side === 'initlive'
            ? il(staff({ phone: w.values.phone }), { ours: true })
            : sf({ phone: w.values.phone }, { ours: true });
        const d = step(state2, echo, s);
        expect(d.writes).toEqual([]);
        state2 = d.next;
      }
      expect(state2.merge!.current.initlive!.phone).toBe(winner);
      expect(state2.merge!.current.salesforce!.phone).toBe(winner);
    },
  );

  it('compares emails case-insensitively and tags as sets', () => {
    const state = linkedPair();
    expect(step(state, sf({ email: 'DANA@EXAMPLE.ORG' })).writes).toEqual([]);
    const withTags = step(state, il(staff({ tags: ['a', 'b'] })));
    const echo = step(withTags.next, sf({ tags: 'b;a' }, { ours: true }));
    expect(echo.writes).toEqual([]);
  });

  it('keeps a birthdate as the same calendar day whatever form it arrives in', () => {
    const state = linkedPair();
    const d = step(state, sf({ birthdate: '1990-04-01T00:00:00.000+0000' }));
    expect(d.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { birthdate: '1990-04-01' } }),
    ]);
  });
});

describe('reconcile: one-way directions', () => {
  it('InitLive -> Salesforce never writes to InitLive', () => {
    const s = settings({ direction: 'initlive_to_salesforce' });
    const state = linkedPair(s);
    const d = step(state, sf({ phone: 'edited in Salesforce' }), s);
    expect(d.writes).toEqual([]);
    const d2 = step(d.next, il(staff({ phone: 'from InitLive' })), s);
    expect(d2.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: expect.objectContaining({ phone: 'from InitLive' }),
      }),
    ]);
    expect(d2.conflicts).toEqual([]);
  });

  it('Salesforce -> InitLive never writes to Salesforce', () => {
    const s = settings({ direction: 'salesforce_to_initlive' });
    const created = step(
      null,
      sf(staff(), { full: true, otherId: null, values: { ...staff(), initliveId: null } }),
      s,
    );
    expect(created.writes).toEqual([expect.objectContaining({ side: 'initlive', op: 'create' })]);
    const d = step(
      created.next,
      il(staff({ phone: 'edited in InitLive' }), { recordId: 'stf_9' }),
      s,
    );
    expect(d.writes.filter((w) => w.side === 'salesforce')).toEqual([]);
  });

  it('hoursWorked only flows to Salesforce, even two-way', () => {
    const state = linkedPair();
    expect(step(state, sf({ hoursWorked: 99 })).writes).toEqual([]);
    expect(step(state, il(staff({ hoursWorked: 12.5 }))).writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: expect.objectContaining({ hoursWorked: 12.5 }),
      }),
    ]);
  });

  it('a field mapped to_initlive only is never pushed to Salesforce', () => {
    const s = settings({ mapping: resolveMapping([{ field: 'phone', direction: 'to_initlive' }]) });
    const state = linkedPair(s);
    expect(step(state, il(staff({ phone: 'x' })), s).writes).toEqual([]);
  });
});

describe('reconcile: deletes', () => {
  it('archive (default): an InitLive delete marks the Contact, never deletes it', () => {
    const state = linkedPair();
    const d = step(state, il({}, { op: 'delete' }));
    expect(d.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        op: 'update',
        values: { status: 'deleted', initliveId: 'stf_1' },
      }),
    ]);
  });

  it('archive: a Salesforce delete archives the staff member, and undelete restores it', () => {
    const state = linkedPair();
    const d = step(state, sf({}, { op: 'delete' }));
    expect(d.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { status: 'archived' } }),
    ]);
    const echo = step(d.next, il(staff({ status: 'archived' }), { ours: true }));
    expect(echo.outcome).toBe('echo');
    const restored = step(echo.next, sf({ ...staff() }, { op: 'undelete', full: true }));
    expect(restored.writes).toEqual([
      expect.objectContaining({
        side: 'initlive',
        values: expect.objectContaining({ status: 'active' }),
      }),
    ]);
  });

  it('archive: a Salesforce delete whose archive InitLive refused as stale is sent again, not turned into a new Contact', () => {
    const state = linkedPair();
    const d = step(state, sf({}, { op: 'delete' }));
    const archive = d.writes[0]!;
    // The volunteer changed in InitLive before the archive reached it (412): the sink re-read.
    const reread = il(staff({ phone: '+1 555 0404' }), { writeRejected: true, position: null });
    const again = step(d.next, reread);
    expect(again.writes).toEqual([
      expect.objectContaining({
        side: 'initlive',
        op: archive.op,
        values: { status: 'archived' },
        ifMatch: reread.version,
      }),
    ]);
    // Its echo settles the pair, with no Contact written.
    const echo = step(again.next, il(staff({ status: 'archived' }), { ours: true }));
    expect(echo.writes).toEqual([]);
  });

  it('archive: a Contact edited, then deleted, whose writes InitLive refused as stale sends the edit again with the archive', () => {
    const state = linkedPair();
    const edited = step(state, sf({ phone: '+1 555 0422' }));
    expect(edited.writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { phone: '+1 555 0422' } }),
    ]);
    const d = step(edited.next, sf({}, { op: 'delete' }));
    // Both refused (the volunteer's version moved, by a write of ours whose echo had not come):
    // the re-read shows neither the phone nor the archive.
    const reread = il(staff({ lastName: 'Moved' }), { writeRejected: true, position: null });
    const again = step(d.next, reread);
    expect(again.writes).toEqual([
      expect.objectContaining({
        side: 'initlive',
        values: { phone: '+1 555 0422', status: 'archived' },
        ifMatch: reread.version,
      }),
    ]);
    const echo = step(
      again.next,
      il(staff({ lastName: 'Moved', phone: '+1 555 0422', status: 'archived' }), { ours: true }),
    );
    expect(echo.writes).toEqual([]);

    // A phone the volunteer changed meanwhile is theirs: only the archive goes again.
    const theirs = il(staff({ phone: '+1 555 0999' }), { writeRejected: true, position: null });
    expect(step(d.next, theirs).writes).toEqual([
      expect.objectContaining({ side: 'initlive', values: { status: 'archived' } }),
    ]);
  });

  it('a volunteer deleted while their Contact is still being created: the Contact is marked after the create', () => {
    const created = step(null, il(staff()));
    expect(created.writes).toEqual([expect.objectContaining({ side: 'salesforce', op: 'create' })]);
    const d = step(created.next, il({}, { op: 'delete' }));
    // Keyed by the volunteer's id, as the create is: the sink upserts it onto what it made.
    expect(d.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        op: 'update',
        recordId: null,
        values: { status: 'deleted', initliveId: 'stf_1' },
      }),
    ]);
    // The create's echo, then the mark's: nothing more to write.
    const echo = step(d.next, sf(staff(), { ours: true, full: true }));
    expect(echo.writes).toEqual([]);
    const marked = step(echo.next, sf({ status: 'deleted' }, { ours: true }));
    expect(marked.writes).toEqual([]);
  });

  it('a Contact deleted while its volunteer is still being created: the volunteer is archived after the create', () => {
    const created = step(null, sf({ ...staff(), initliveId: null }, { otherId: null, full: true }));
    expect(created.writes).toEqual([expect.objectContaining({ side: 'initlive', op: 'create' })]);
    const d = step(created.next, sf({}, { op: 'delete', otherId: null }));
    expect(d.writes).toEqual([
      expect.objectContaining({ side: 'initlive', op: 'update', values: { status: 'archived' } }),
    ]);
  });

  it('a volunteer deleted before anything was written for them needs no write', () => {
    const d = step(null, il({}, { op: 'delete' }));
    expect(d.writes).toEqual([]);
    expect(d.next.status).toBe('deleted');
  });

  it('propagate deletes on the other side; ignore only unlinks', () => {
    const propagate = step(
      linkedPair(),
      sf({}, { op: 'delete' }),
      settings({ deletePolicy: 'propagate' }),
    );
    expect(propagate.writes).toEqual([
      expect.objectContaining({ side: 'initlive', op: 'delete', recordId: 'stf_1' }),
    ]);
    const ignore = step(
      linkedPair(),
      sf({}, { op: 'delete' }),
      settings({ deletePolicy: 'ignore' }),
    );
    expect(ignore.writes).toEqual([]);
    expect(ignore.next.status).toBe('unlinked');
    expect(ignore.next.salesforceId).toBeNull();
  });

  it('restoring a staff member whose Contact was deleted recreates the Contact', () => {
    const state = linkedPair();
    const deleted = step(state, sf({}, { op: 'delete' }));
    const echo = step(deleted.next, il(staff({ status: 'archived' }), { ours: true }));
    // Edits while the Contact is gone stay in InitLive.
    const edit = step(echo.next, il(staff({ status: 'archived', phone: 'x' })));
    expect(edit.writes).toEqual([]);
    const restored = step(edit.next, il(staff({ status: 'active', phone: 'x' })));
    expect(restored.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        op: 'create',
        values: expect.objectContaining({
          initliveId: 'stf_1',
          lastName: 'Lee',
          phone: 'x',
          status: 'active',
        }),
      }),
    ]);
  });

  it('restoring an archived staff member restores the Contact status', () => {
    const state = linkedPair();
    const archived = step(state, il(staff({ status: 'archived' })));
    expect(archived.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: expect.objectContaining({ status: 'archived' }),
      }),
    ]);
    const restored = step(archived.next, il(staff({ status: 'active' })));
    expect(restored.writes).toEqual([
      expect.objectContaining({
        side: 'salesforce',
        values: expect.objectContaining({ status: 'active' }),
      }),
    ]);
  });
});
