import { emptyPair, fingerprint } from '../../src/core/pair-state';
import type { PairState } from '../../src/core/pair-state';
import type {
  DeadLetter,
  InitLiveStaffChange,
  InitLiveWrite,
  SalesforceWrite,
} from '../../src/core/records';
import { recordKey } from '../../src/core/topics';
import { produce } from '../../src/pipeline/deps';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox } from '../../src/sandbox/initlive';
import { InitLiveSink } from '../../src/sink/initlive-sink';
import {
  ORG_ID,
  ORIGIN,
  client,
  collect,
  eventually,
  fastBackoff,
  orgRuntime,
  testPipeline,
} from './source-initlive-helpers';
import type { Collected, TestPipeline } from './source-initlive-helpers';

const CONTACT_ID = '003000000000001AAA';
const BATCH_ROUTE = 'POST /organizations/:orgId/staff/batch';

function write(
  w: Partial<InitLiveWrite> & Pick<InitLiveWrite, 'pairId' | 'operation'>,
): InitLiveWrite {
  return {
    orgId: ORG_ID,
    initliveId: null,
    salesforceId: null,
    ifMatch: null,
    fields: {},
    fingerprint: 'fp',
    causedBy: 'test',
    decidedAt: Date.now(),
    attempt: 1,
    ...w,
  };
}

describe('InitLiveSink', () => {
  let sandbox: InitLiveSandbox;
  let pipeline: TestPipeline;
  let sink: InitLiveSink;
  let deadLetters: Collected<DeadLetter>;
  let snapshots: Collected<InitLiveStaffChange>;
  let links: Collected<SalesforceWrite>;

  beforeEach(async () => {
    sandbox = await startInitLiveSandbox({ rateLimit: false });
    pipeline = await testPipeline([orgRuntime(client(sandbox.baseUrl))]);
    sink = new InitLiveSink(pipeline.deps, { holdBackoff: fastBackoff });
    deadLetters = await collect(pipeline.deps, 'deadLetters');
    snapshots = await collect(pipeline.deps, 'staffChanges');
    links = await collect(pipeline.deps, 'salesforceWrites');
  });

  afterEach(async () => {
    await sink.stop();
    await Promise.all([deadLetters.stop(), snapshots.stop(), links.stop()]);
    await pipeline.memory.close();
    await sandbox.close();
  });

  const send = (writes: InitLiveWrite[]): Promise<void> =>
    produce(
      pipeline.deps,
      'initliveWrites',
      writes.map((value) => ({ key: recordKey(ORG_ID, value.pairId), value })),
    );

  const addPair = async (
    pairId: string,
    ids: { initliveId?: string; salesforceId?: string },
  ): Promise<void> => {
    const state = {
      ...emptyPair(ORG_ID, pairId, Date.now()),
      initliveId: ids.initliveId ?? null,
      salesforceId: ids.salesforceId ?? null,
    };
    expect(await pipeline.store.compareAndApply(state, 0)).toMatchObject({ applied: true });
  };

  const lastFeed = () => {
    const feed = sandbox.control.feed();
    return feed[feed.length - 1]!;
  };

  it('creates, updates, archives, restores and deletes with our change origin', async () => {
    const written: number[] = [];
    const latencies: number[] = [];
    pipeline.events.on('sink.records', (e) => written.push(e.count));
    pipeline.events.on('sync.latency', (e) => latencies.push(e.ms));
    await addPair('p1', { salesforceId: CONTACT_ID });
    await sink.start();

    await send([
      write({
        pairId: 'p1',
        operation: 'CREATE',
        salesforceId: CONTACT_ID,
        fields: {
          firstName: 'Ana',
          lastName: 'Silva',
          email: 'ana@example.org',
          city: 'Lisbon',
          country: 'PT',
          tags: null,
        },
      }),
    ]);
    await eventually(() => sink.stats().written === 1, 'the create');
    const [ana] = sandbox.control.listStaff();
    expect(ana).toMatchObject({
      firstName: 'Ana',
      lastName: 'Silva',
      email: 'ana@example.org',
      tags: [],
      address: { street: null, city: 'Lisbon', region: null, postalCode: null, country: 'PT' },
    });
    expect(lastFeed()).toMatchObject({ type: 'created', origin: ORIGIN });
    const pair = await pipeline.store.get(ORG_ID, 'p1');
    expect(pair?.state.initliveId).toBe(ana!.id);
    await eventually(() => links.values.length === 1, 'the Contact link write');
    expect(links.values[0]).toMatchObject({
      key: `${ORG_ID}/p1`,
      operation: 'UPSERT',
      externalId: null,
      salesforceId: CONTACT_ID,
      fields: { InitLive_Staff_Id__c: ana!.id },
      causedBy: 'initlive-sink:link',
      pairId: 'p1',
    });

    // The write names no staff id: the sink finds it on the pair. Only the city changes; the
    // rest of the address is read first, since InitLive replaces the whole address.
    await send([
      write({
        pairId: 'p1',
        operation: 'UPDATE',
        ifMatch: 1,
        fields: { phone: '+351 555 0100', city: 'Porto' },
      }),
    ]);
    await eventually(() => sink.stats().written === 2, 'the update');
    expect(sandbox.control.getStaff(ana!.id)).toMatchObject({
      version: 2,
      phone: '+351 555 0100',
      address: { city: 'Porto', country: 'PT' },
    });
    expect(lastFeed()).toMatchObject({ type: 'updated', origin: ORIGIN });

    await send([write({ pairId: 'p1', operation: 'ARCHIVE', initliveId: ana!.id, ifMatch: 2 })]);
    await eventually(() => sink.stats().written === 3, 'the archive');
    expect(sandbox.control.getStaff(ana!.id).status).toBe('archived');
    expect(lastFeed()).toMatchObject({ type: 'archived', origin: ORIGIN });

    await send([write({ pairId: 'p1', operation: 'RESTORE', initliveId: ana!.id, ifMatch: 3 })]);
    await eventually(() => sink.stats().written === 4, 'the restore');
    expect(sandbox.control.getStaff(ana!.id).status).toBe('active');
    expect(lastFeed()).toMatchObject({ type: 'restored', origin: ORIGIN });

    await send([write({ pairId: 'p1', operation: 'DELETE', initliveId: ana!.id, ifMatch: 4 })]);
    await eventually(() => sink.stats().written === 5, 'the delete');
    expect(sandbox.control.listStaff()).toHaveLength(0);
    expect(lastFeed()).toMatchObject({ type: 'deleted', origin: ORIGIN });

    expect(written).toEqual([1, 1, 1, 1, 1]);
    expect(latencies).toHaveLength(5);
    expect(deadLetters.values).toHaveLength(0);
    expect(sink.stats()).toMatchObject({ created: 1, deadLettered: 0, resynced: 0 });
  });

  it('answers a stale ifMatch with a fresh snapshot instead of a dead letter', async () => {
    const bo = sandbox.control.createStaff({ firstName: 'Bo', lastName: 'Berg' });
    await addPair('p2', { initliveId: bo.id, salesforceId: CONTACT_ID });
    // A user edits the record in InitLive after the reconciler decided against version 1.
    sandbox.control.updateStaff(bo.id, { phone: '+46 555 0101' });
    await send([
      write({
        pairId: 'p2',
        operation: 'UPDATE',
        initliveId: bo.id,
        salesforceId: CONTACT_ID,
        ifMatch: 1,
        fields: { firstName: 'Robert' },
      }),
    ]);
    await sink.start();

    await eventually(() => snapshots.values.length === 1, 'a snapshot');
    expect(snapshots.values[0]).toMatchObject({
      key: `${ORG_ID}/${bo.id}`,
      orgId: ORG_ID,
      initliveId: bo.id,
      salesforceId: CONTACT_ID,
      operation: 'SNAPSHOT',
      changedFields: [],
      sourceVersion: 2,
      sourcePosition: 'snapshot',
      origin: null,
      values: { initliveId: bo.id, firstName: 'Bo', lastName: 'Berg', phone: '+46 555 0101' },
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(deadLetters.values).toHaveLength(0);
    expect(sandbox.control.getStaff(bo.id)).toMatchObject({ firstName: 'Bo', version: 2 });
    expect(sink.stats()).toMatchObject({ resynced: 1, written: 0, deadLettered: 0 });
  });

  it('dead-letters a duplicate email and an invalid record with clear reasons while the rest lands', async () => {
    const failed: string[] = [];
    pipeline.events.on('sink.failed', (e) => failed.push(`${e.sink}:${e.code}:${e.count}`));
    const holder = sandbox.control.createStaff({ lastName: 'Holder', email: 'taken@example.org' });
    // Another person holds the email: their pair links them.
    await addPair('holder', { initliveId: holder.id });
    await addPair('dup', {});
    await send([
      write({
        pairId: 'dup',
        operation: 'CREATE',
        fields: { lastName: 'Copy', email: 'TAKEN@example.org' },
      }),
      write({
        pairId: 'fine',
        operation: 'CREATE',
        fields: { lastName: 'Fine', email: 'fine@example.org' },
      }),
      write({ pairId: 'bad', operation: 'CREATE', fields: { firstName: 'NoLastName' } }),
      write({
        pairId: 'holder',
        operation: 'UPDATE',
        initliveId: holder.id,
        fields: { firstName: 'Held' },
      }),
    ]);
    // Bytes no schema can read: dead-lettered, and the flow goes on.
    await pipeline.deps.transport.send(pipeline.deps.topics.initliveWrites, [
      { key: `${ORG_ID}/garbage`, value: Buffer.from('not avro at all') },
    ]);
    sandbox.control.resetCounters();
    await sink.start();

    await eventually(() => deadLetters.values.length === 3, 'three dead letters');
    expect(deadLetters.values.find((d) => d.originalKey === `${ORG_ID}/garbage`)).toMatchObject({
      orgId: ORG_ID,
      errorCode: 'SCHEMA_MISMATCH',
      originalValue: Buffer.from('not avro at all'),
    });
    const dup = deadLetters.values.find((d) => d.upstreamCode === 'duplicate_email');
    expect(dup).toMatchObject({
      orgId: ORG_ID,
      errorCode: 'INITLIVE_REJECTED',
      message: `the email is already used by staff ${holder.id} in InitLive`,
      recordType: 'InitLiveWrite',
      sourceTopic: pipeline.deps.topics.initliveWrites,
      originalKey: `${ORG_ID}/dup`,
    });
    const bad = deadLetters.values.find((d) => d.upstreamCode === 'invalid_request');
    expect(bad?.errorCode).toBe('INITLIVE_REJECTED');
    expect(bad?.message).toMatch(/lastName/);
    expect(bad?.originalKey).toBe(`${ORG_ID}/bad`);

    await eventually(() => sink.stats().written === 2, 'the two good writes');
    const names = sandbox.control
      .listStaff()
      .map((s) => `${s.firstName} ${s.lastName}`)
      .sort();
    expect(names).toEqual([' Fine', 'Held Holder']);
    expect(sandbox.control.counters().requests[BATCH_ROUTE]).toBe(1);
    expect(failed.sort()).toEqual([
      'initlive:INITLIVE_REJECTED:1',
      'initlive:INITLIVE_REJECTED:1',
      'initlive:SCHEMA_MISMATCH:1',
    ]);
  });

  it('takes the staff member holding the email when the person was entered in InitLive at the same moment, and decides again on them', async () => {
    // The reconciler met the Contact first and asked for a staff member; meanwhile someone
    // entered the same person in InitLive, whose change it had not met yet.
    await addPair('both', { salesforceId: CONTACT_ID });
    const same = sandbox.control.createStaff({ lastName: 'Same', email: 'same@example.org' });
    await send([
      write({
        pairId: 'both',
        operation: 'CREATE',
        salesforceId: CONTACT_ID,
        fields: { lastName: 'Same', email: 'SAME@example.org', phone: '+1 555 0100' },
      }),
    ]);
    await sink.start();

    await eventually(() => snapshots.values.length === 1, 'a snapshot of the holder');
    expect(snapshots.values[0]).toMatchObject({
      initliveId: same.id,
      salesforceId: CONTACT_ID,
      operation: 'SNAPSHOT',
    });
    expect(await pipeline.store.findPairId(ORG_ID, 'initlive', same.id)).toBe('both');
    await new Promise((r) => setTimeout(r, 100));
    expect(deadLetters.values).toHaveLength(0);
    expect(sandbox.control.listStaff()).toHaveLength(1);
  });

  it('still refuses the create when the staff member holding the email belongs to another pair', async () => {
    const held = sandbox.control.createStaff({ lastName: 'Held', email: 'held@example.org' });
    await addPair('owner', { initliveId: held.id, salesforceId: CONTACT_ID });
    await addPair('other', { salesforceId: '003000000000002AAA' });
    await send([
      write({
        pairId: 'other',
        operation: 'CREATE',
        salesforceId: '003000000000002AAA',
        fields: { lastName: 'Other', email: 'held@example.org' },
      }),
    ]);
    await sink.start();

    await eventually(() => deadLetters.values.length === 1, 'a dead letter');
    expect(deadLetters.values[0]).toMatchObject({
      upstreamCode: 'duplicate_email',
      message: `the email is already used by staff ${held.id} in InitLive`,
    });
    expect(await pipeline.store.findPairId(ORG_ID, 'initlive', held.id)).toBe('owner');
    expect(snapshots.values).toHaveLength(0);
  });

  it('drops a create refused as a duplicate whose pair the store no longer holds, without a dead letter', async () => {
    // The create landed once; the store then lost its data, and the write came again.
    const landed = sandbox.control.createStaff({ lastName: 'Landed', email: 'landed@example.org' });
    await send([
      write({
        pairId: 'lost',
        operation: 'CREATE',
        salesforceId: CONTACT_ID,
        fields: { lastName: 'Landed', email: 'landed@example.org' },
      }),
    ]);
    const outcomes = await collect(pipeline.deps, 'outcomes');
    await sink.start();

    const dropped = () => outcomes.values.flatMap((o) => o.items).find((i) => i.pairId === 'lost');
    await eventually(() => dropped() !== undefined, 'the create dropped');
    await outcomes.stop();
    expect(dropped()).toMatchObject({ result: 'SUPERSEDED', side: 'INITLIVE' });
    expect(deadLetters.values).toHaveLength(0);
    expect(snapshots.values).toHaveLength(0);
    expect(await pipeline.store.findPairId(ORG_ID, 'initlive', landed.id)).toBeNull();
    expect(sandbox.control.listStaff()).toHaveLength(1);
  });

  it('does not send again a create its pair no longer awaits, so an edit made since stays (chaos seed 202)', async () => {
    // The create was refused as a duplicate and its staff member adopted; the process died
    // before the re-read, the reconciler then saw the staff member holding the create's values
    // (nothing pending), and the volunteer edited their name. The create comes again.
    const staff = sandbox.control.createStaff({ firstName: 'Cleo', lastName: 'L800' });
    const edited = sandbox.control.updateStaff(staff.id, { firstName: 'F1010', lastName: 'L1010' });
    const pending = {
      fields: { firstName: 'Cleo', lastName: 'L800' },
      preBase: {},
      decidedAt: Date.now(),
    };
    const state: PairState = {
      ...emptyPair(ORG_ID, 'adopted', Date.now()),
      initliveId: staff.id,
      salesforceId: CONTACT_ID,
      status: 'linked',
      merge: {
        current: { initlive: { firstName: 'F1010', lastName: 'L1010' }, salesforce: null },
        pending: { initlive: [], salesforce: [] },
        position: { initlive: null, salesforce: null },
        exists: { initlive: true, salesforce: true },
      },
    };
    expect(await pipeline.store.compareAndApply(state, 0)).toMatchObject({ applied: true });
    await send([
      write({
        pairId: 'adopted',
        operation: 'CREATE',
        salesforceId: CONTACT_ID,
        fields: pending.fields,
        fingerprint: fingerprint(pending.fields),
      }),
    ]);
    const outcomes = await collect(pipeline.deps, 'outcomes');
    sandbox.control.resetCounters();
    await sink.start();

    const dropped = () =>
      outcomes.values.flatMap((o) => o.items).find((i) => i.pairId === 'adopted');
    await eventually(() => dropped() !== undefined, 'the create dropped');
    await outcomes.stop();
    expect(dropped()).toMatchObject({ result: 'SUPERSEDED', side: 'INITLIVE' });
    expect(sandbox.control.counters().writes).toBe(0);
    expect(sandbox.control.listStaff()).toEqual([
      expect.objectContaining({ id: staff.id, firstName: 'F1010', version: edited.version }),
    ]);
    expect(deadLetters.values).toHaveLength(0);

    // Still awaited (it landed, its echo has not come back): sent, as an update.
    state.merge!.pending.initlive = [pending];
    expect(await pipeline.store.compareAndApply(state, 1)).toMatchObject({ applied: true });
    await send([
      write({
        pairId: 'adopted',
        operation: 'CREATE',
        salesforceId: CONTACT_ID,
        fields: pending.fields,
        fingerprint: fingerprint(pending.fields),
      }),
    ]);
    await eventually(() => sink.stats().written === 1, 'the awaited create written');
    expect(sandbox.control.listStaff()).toEqual([
      expect.objectContaining({ id: staff.id, firstName: 'Cleo', lastName: 'L800' }),
    ]);
  });

  it('drops an update to a staff member deleted in InitLive meanwhile, without a dead letter', async () => {
    const gone = sandbox.control.createStaff({ lastName: 'Gone', email: 'gone@example.org' });
    await addPair('gone', { initliveId: gone.id, salesforceId: CONTACT_ID });
    sandbox.control.deleteStaff(gone.id);
    await send([
      write({
        pairId: 'gone',
        operation: 'UPDATE',
        initliveId: gone.id,
        salesforceId: CONTACT_ID,
        fields: { firstName: 'Late' },
      }),
    ]);
    await sink.start();
    await eventually(() => sink.stats().batchCalls === 1, 'the update tried');
    await new Promise((r) => setTimeout(r, 300));
    expect(deadLetters.values).toHaveLength(0);
    expect(snapshots.values).toHaveLength(0);
  });

  it('writes 1,000 commands in 5 batch calls', async () => {
    const writes = Array.from({ length: 1000 }, (_, i) =>
      write({ pairId: `bulk-${i}`, operation: 'CREATE', fields: { lastName: `Bulk${i}` } }),
    );
    await send(writes);
    sandbox.control.resetCounters();
    await sink.start();
    await eventually(() => sink.stats().written === 1000, '1,000 writes', 30_000);
    const counters = sandbox.control.counters();
    expect(counters.requests[BATCH_ROUTE]).toBe(5);
    expect(counters.writes).toBe(1000);
    expect(sandbox.control.listStaff()).toHaveLength(1000);
    expect(sandbox.control.feed().every((f) => f.origin === ORIGIN)).toBe(true);
  });

  it('holds the batch through 429s and drops nothing', async () => {
    const paused: string[] = [];
    const resumed: string[] = [];
    // The pause is reported at every wait; one pause, one `since`.
    pipeline.events.on('sink.paused', (e) => {
      if (!paused.includes(`${e.reason}@${e.since}`)) paused.push(`${e.reason}@${e.since}`);
    });
    pipeline.events.on('sink.resumed', (e) => resumed.push(e.orgId));
    // Three 429s outlast the client's three attempts, so the sink itself must wait and retry.
    sandbox.control.failNextWithRateLimit(3, { retryAfterSeconds: 1 });
    await send([write({ pairId: 'slow', operation: 'CREATE', fields: { lastName: 'Patient' } })]);
    const started = Date.now();
    await sink.start();
    await eventually(() => sink.stats().written === 1, 'the held write', 15_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(sandbox.control.listStaff().map((s) => s.lastName)).toEqual(['Patient']);
    expect(paused.map((p) => p.split('@')[0])).toEqual(['RATE_LIMITED']);
    expect(resumed).toEqual([ORG_ID]);
    expect(deadLetters.values).toHaveLength(0);
  });

  it('never creates twice for one pair: a create for a linked pair becomes an update', async () => {
    const existing = sandbox.control.createStaff({ lastName: 'Once' });
    await addPair('p3', { initliveId: existing.id });
    await send([
      // Redelivered create after a crash, then an update decided against the same version.
      write({
        pairId: 'p3',
        operation: 'CREATE',
        fields: { lastName: 'Once', firstName: 'Again' },
      }),
      write({ pairId: 'p4', operation: 'CREATE', fields: { lastName: 'New' } }),
      write({ pairId: 'p4', operation: 'UPDATE', fields: { firstName: 'Brand' } }),
    ]);
    sandbox.control.resetCounters();
    await sink.start();
    await eventually(() => sink.stats().written === 3, 'three writes');
    const staff = sandbox.control.listStaff();
    expect(staff.map((s) => `${s.firstName} ${s.lastName}`).sort()).toEqual([
      'Again Once',
      'Brand New',
    ]);
    // The update of p4 was folded into its create: two operations in one call.
    expect(sandbox.control.counters().writes).toBe(2);
    expect(deadLetters.values).toHaveLength(0);
  });
});
