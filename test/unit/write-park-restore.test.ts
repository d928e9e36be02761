import type { ConsumedRecord } from '../../src/core/transport';
import { MemoryParkedWriteStore } from '../../src/infra/memory/memory-parked-write-store';
import { MemoryTransport } from '../../src/infra/memory/memory-transport';
import { SyncError } from '../../src/errors';
import { silentLogger } from '../../src/logger';
import {
  StateWitness,
  stateWitnessTopic,
  stateWitnessTopicSpec,
} from '../../src/pipeline/state-witness';
import type { ParkMarks } from '../../src/sink/park-marks';
import { WritePark } from '../../src/sink/write-park';
import { waitFor, waitUntil } from './sink-salesforce-fixture';

/**
 * Parked writes when the store comes back empty (a Redis restarted without its data): the
 * marks kept on the state witness say where in the writes topic the lost lists started, and
 * WritePark reads them again from there, in order, ahead of whatever was parked since. The
 * memory store's clear() is the loss; the memory transport stands in for Kafka (readFrom and
 * readLatest are held to one transport conformance suite).
 */

const TOPIC = 'writes';
const SINK = 'test';

interface Env {
  record: ConsumedRecord;
  value: string;
}

describe('WritePark after the store lost its data', () => {
  let transport: MemoryTransport;
  let witness: StateWitness;
  let store: MemoryParkedWriteStore;
  let written: string[];
  const parks: Array<WritePark<Env>> = [];

  beforeEach(async () => {
    transport = new MemoryTransport();
    const topic = stateWitnessTopic('test');
    await transport.ensureTopics([stateWitnessTopicSpec(topic), { name: TOPIC, partitions: 3 }]);
    witness = new StateWitness({ transport, topic, logger: silentLogger });
    store = new MemoryParkedWriteStore();
    written = [];
  });
  afterEach(async () => {
    await Promise.all(parks.splice(0).map((p) => p.stop()));
    await transport.close();
  });

  /** A process's WritePark; `held` says whether the org is held there. */
  const park = (held: () => boolean, marks: ParkMarks = witness): WritePark<Env> => {
    const p = new WritePark<Env>({
      store,
      sink: SINK,
      logger: silentLogger,
      heldFor: (orgId) => (orgId === 'org' && held() ? 'api_limit' : null),
      decode: async (record) => ({ record, value: record.value.toString() }),
      write: async (_orgId, envs) => {
        written.push(...envs.map((e) => e.value));
      },
      drainStep: 100,
      retryMs: 10,
      marks,
      reread: (from, keep) => transport.readFrom(TOPIC, from, keep),
    });
    parks.push(p);
    return p;
  };

  /** Writes decided for pairs, as the reconciler puts them on the topic: `<org>/<pair>:<n>`. */
  const decided = async (values: string[]): Promise<Env[]> => {
    const before = await transport.readFrom(TOPIC, new Map([0, 1, 2].map((p) => [p, '0'])));
    await transport.send(
      TOPIC,
      values.map((v) => ({ key: v.slice(0, v.indexOf(':')), value: Buffer.from(v) })),
    );
    const after = await transport.readFrom(TOPIC, before.ends);
    return after.records.map((record) => ({ record, value: record.value.toString() }));
  };

  /** What a sink does with a batch: the org's writes go to the park (held), others are written. */
  const deliver = async (p: WritePark<Env>, envs: Env[]): Promise<void> => {
    for (const e of envs) {
      const orgId = e.record.key.slice(0, e.record.key.indexOf('/'));
      await p.submit(orgId, [e], async () => {
        written.push(e.value);
      });
    }
  };

  /** Each pair's writes, in the order they were written. */
  const perPair = (values: string[]): Map<string, string[]> => {
    const out = new Map<string, string[]>();
    for (const v of values) {
      const pair = v.slice(0, v.indexOf(':'));
      out.set(pair, [...(out.get(pair) ?? []), v]);
    }
    return out;
  };

  it('reads the lost parked writes again from the topic and writes them in order once the hold ends', async () => {
    let held = true;
    const a = park(() => held);
    const envs = await decided([
      'org/p1:1',
      'other/q1:1',
      'org/p2:1',
      'org/p1:2',
      'org/p3:1',
      'other/q2:1',
      'org/p2:2',
      'org/p1:3',
    ]);
    await deliver(a, envs);
    expect(await store.count('org')).toBe(6);
    expect(written.filter((v) => v.startsWith('other/'))).toHaveLength(2);
    // Kept outside the store before the batches committed.
    expect((await witness.marksOf(SINK)).map((m) => m.orgId)).toContain('org');

    store.clear();
    held = false;
    a.drain('org');
    await waitFor('the parked writes written', () => written.length === 8);
    expect(perPair(written.filter((v) => v.startsWith('org/')))).toEqual(
      new Map([
        ['org/p1', ['org/p1:1', 'org/p1:2', 'org/p1:3']],
        ['org/p2', ['org/p2:1', 'org/p2:2']],
        ['org/p3', ['org/p3:1']],
      ]),
    );
    await waitFor('the list settled', () => a.countOf('org') === 0);
    // Written: no mark is left that a later loss would read again from.
    await waitUntil('the marks forgotten', async () => (await witness.marksOf(SINK)).length === 0);
  });

  it('without the marks on the witness, the same loss loses them (the test can fail)', async () => {
    let held = true;
    const forgetful: ParkMarks = {
      mark: async () => undefined,
      clear: async () => undefined,
      marksOf: async () => [],
    };
    const a = park(() => held, forgetful);
    await deliver(a, await decided(['org/p1:1', 'org/p2:1']));
    store.clear();
    held = false;
    a.drain('org');
    await waitFor('the drain found the list gone', () => a.countOf('org') === 0);
    expect(written).toEqual([]);
  });

  it('a process that never parked restores on the state-lost trigger; two at once leave one list', async () => {
    const a = park(() => true);
    const envs = await decided(['org/p1:1', 'org/p2:1', 'org/p1:2', 'org/p3:1']);
    await deliver(a, envs);
    const parked = await store.peek('org', 100);
    store.clear();
    // Two other processes find the loss (StateEpoch) at the same moment.
    const b = park(() => true);
    const c = park(() => true);
    await Promise.all([b.restoreAll(), c.restoreAll()]);
    expect(await store.peek('org', 100)).toEqual(parked);
    // Its new marks are kept, the lost generation's are gone.
    const marks = await witness.marksOf(SINK);
    expect(new Set(marks.map((m) => m.generation))).toEqual(
      new Set([(await store.marks('org')).generation]),
    );
    // Once done, another trigger finds nothing to do.
    await store.drop('org', 1, parked[0]!);
    await park(() => true).restoreAll();
    expect(await store.peek('org', 100)).toEqual(parked.slice(1));
    // Nor does a second trigger in a process that restored, with marks it read before its
    // restore cleared them (the state epoch and its own drain both found the loss).
    const lost = await witness.marksOf(SINK);
    store.clear();
    const d = park(() => true);
    await d.restore('org', lost);
    const again = await store.peek('org', 100);
    await store.drop('org', 1, again[0]!);
    await d.restore('org', lost);
    expect(await store.peek('org', 100)).toEqual(again.slice(1));
  });

  it('writes parked after the loss, before it was found, stay behind those read again; a redelivery is not parked twice', async () => {
    let held = true;
    const a = park(() => held);
    await deliver(a, await decided(['org/p1:1', 'org/p1:2', 'org/p2:1']));
    store.clear();
    // Another process, which has not found the loss, parks the pairs' next writes.
    const b = park(() => true);
    const late = await decided(['org/p1:3', 'org/p2:2']);
    await deliver(b, late);
    await b.restoreAll();
    // Read again: every write of the org from the marks to the end, each partition in order.
    const topic = await transport.readFrom(TOPIC, new Map([0, 1, 2].map((p) => [p, '0'])), (r) =>
      r.key.startsWith('org/'),
    );
    const values = async () =>
      (await store.peek('org', 100)).map((r) => Buffer.from(r.value, 'base64').toString());
    expect(await values()).toEqual(topic.records.map((r) => r.value.toString()));
    // The consumer delivers the late batch again (it had not committed): nothing is added.
    await deliver(b, late);
    expect(await store.count('org')).toBe(5);
    held = false;
    a.drain('org');
    await waitFor('written', () => written.length === 5);
    expect(perPair(written)).toEqual(
      new Map([
        ['org/p1', ['org/p1:1', 'org/p1:2', 'org/p1:3']],
        ['org/p2', ['org/p2:1', 'org/p2:2']],
      ]),
    );
  });

  it('a mark written late by a process that parked after the loss does not undo the mark a restore lowered', async () => {
    const a = park(() => true);
    await deliver(a, await decided(['org/p1:1', 'org/p1:2']));
    store.clear();
    // Process B parks the pair's next write after the loss; its copy of the mark is slow.
    let release: () => void = () => undefined;
    let reached: () => void = () => undefined;
    const atGate = new Promise<void>((r) => (reached = r));
    const gate = new Promise<void>((r) => (release = r));
    const slow: ParkMarks = {
      mark: async (...args) => {
        reached();
        await gate;
        return witness.mark(...args);
      },
      clear: (...args) => witness.clear(...args),
      marksOf: (sink) => witness.marksOf(sink),
    };
    const b = park(() => true, slow);
    const late = await decided(['org/p1:3']);
    const parking = deliver(b, late);
    await atGate;
    // Meanwhile another process restores: the mark goes down to the first write read again.
    await park(() => true).restoreAll();
    const generation = (await store.marks('org')).generation;
    release();
    await parking;
    const first = (await store.peek('org', 1))[0]!;
    expect(await witness.marksOf(SINK)).toEqual([
      { orgId: 'org', generation, partition: first.partition, offset: first.offset },
    ]);
    expect(BigInt(first.offset)).toBeLessThan(BigInt(late[0]!.record.offset));
  });

  it('a batch whose marks the witness did not take does not commit; delivered again, they are kept', async () => {
    const a = park(() => true, {
      mark: async () => {
        throw new SyncError('TRANSPORT_UNAVAILABLE', 'broker down', { retriable: true });
      },
      clear: async () => undefined,
      marksOf: async () => [],
    });
    const envs = await decided(['org/p1:1']);
    await expect(deliver(a, envs)).rejects.toMatchObject({ code: 'TRANSPORT_UNAVAILABLE' });
    // The consumer delivers it again to a process whose witness answers.
    const b = park(() => true);
    await deliver(b, envs);
    expect((await witness.marksOf(SINK)).map((m) => [m.orgId, m.offset])).toEqual([
      ['org', envs[0]!.record.offset],
    ]);
  });
});
