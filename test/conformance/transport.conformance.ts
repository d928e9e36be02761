import { randomBytes, randomUUID } from 'node:crypto';
import { partitionForKey } from '../../src/core/transport';
import type {
  ConsumedRecord,
  OutgoingRecord,
  RecordBatch,
  SubscribeOptions,
  Subscription,
  Transport,
} from '../../src/core/transport';

/** What a conformance run needs besides the transport: a look at the backend that bypasses it. */
export interface TransportHarness {
  transport: Transport;
  /** Partition count as the backend itself reports it (admin metadata / in-memory state). */
  partitionCount(topic: string): Promise<number | undefined>;
  /** Removes what a test created; groups have no members by then. */
  cleanup(topics: string[], groupIds: string[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConformanceOptions {
  /** Upper bound for an expected delivery to happen; only a failure guard, nothing is timed. */
  deliveryTimeoutMs: number;
}

/** Collects deliveries and lets a test wait for a condition on them. */
class Collector {
  readonly batches: RecordBatch[] = [];
  private waiters: Array<() => void> = [];

  get records(): ConsumedRecord[] {
    return this.batches.flatMap((b) => b.records);
  }

  push(batch: RecordBatch): void {
    this.batches.push(batch);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  async until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `Timed out waiting for ${what}; ${this.records.length} records in ${this.batches.length} batches so far`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

const text = (r: ConsumedRecord): string => r.value.toString('utf8');
const tp = (r: { topic: string; partition: number }): string => `${r.topic}#${r.partition}`;

/** A promise with its resolve/reject on the outside, for handlers a test holds. */
function gate<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Keys (k0, k1, ...) until every partition of `partitions` has at least `perPartition` of them. */
function keysCovering(partitions: number, perPartition = 1): string[] {
  const counts = new Array<number>(partitions).fill(0);
  const keys: string[] = [];
  for (let i = 0; counts.some((c) => c < perPartition); i++) {
    const key = `k${i}`;
    keys.push(key);
    counts[partitionForKey(key, partitions)]!++;
  }
  return keys;
}

/**
 * The transport contract, run against every adapter (src/core/transport.ts states it). Each
 * test makes its own random topics and groups and removes them afterwards.
 */
export function describeTransportConformance(
  name: string,
  factory: () => Promise<TransportHarness>,
  options: ConformanceOptions,
): void {
  describe(`Transport conformance: ${name}`, () => {
    let harness: TransportHarness;
    let transport: Transport;
    let topics: string[] = [];
    let groups: string[] = [];
    let subscriptions: Subscription[] = [];
    const wait = options.deliveryTimeoutMs;

    beforeAll(async () => {
      harness = await factory();
      transport = harness.transport;
    });

    afterAll(async () => {
      await harness?.close();
    });

    afterEach(async () => {
      await Promise.allSettled(subscriptions.map((s) => s.stop()));
      await harness.cleanup(topics, groups);
      subscriptions = [];
      topics = [];
      groups = [];
    });

    const run = randomUUID().slice(0, 8);
    let seq = 0;
    const newTopic = async (partitions: number): Promise<string> => {
      const topic = `conformance.${run}.${++seq}`;
      topics.push(topic);
      await transport.ensureTopics([{ name: topic, partitions }]);
      return topic;
    };
    const newGroup = (): string => {
      const group = `conformance-${run}-${++seq}`;
      groups.push(group);
      return group;
    };
    const subscribe = async (opts: SubscribeOptions): Promise<Subscription> => {
      const s = await transport.subscribe(opts);
      subscriptions.push(s);
      await s.ready();
      return s;
    };
    const totalLag = async (group: string, topic: string): Promise<number> =>
      (await transport.lag(group, [topic])).reduce((sum, l) => sum + l.lag, 0);

    it('ensureTopics creates topics with explicit partition counts, is idempotent and reports a mismatch instead of failing', async () => {
      const a = `conformance.${run}.${++seq}`;
      const b = `conformance.${run}.${++seq}`;
      topics.push(a, b);

      const first = await transport.ensureTopics([
        { name: a, partitions: 3 },
        { name: b, partitions: 1 },
      ]);
      expect(first.map((i) => [i.name, i.created, i.partitions, i.partitionMismatch])).toEqual([
        [a, true, 3, false],
        [b, true, 1, false],
      ]);
      expect(await harness.partitionCount(a)).toBe(3);
      expect(await harness.partitionCount(b)).toBe(1);

      const again = await transport.ensureTopics([
        { name: a, partitions: 3 },
        { name: b, partitions: 1 },
      ]);
      expect(again.map((i) => [i.name, i.created, i.partitions, i.partitionMismatch])).toEqual([
        [a, false, 3, false],
        [b, false, 1, false],
      ]);

      const mismatch = await transport.ensureTopics([{ name: a, partitions: 5 }]);
      expect(mismatch).toEqual([
        { name: a, created: false, partitions: 3, requestedPartitions: 5, partitionMismatch: true },
      ]);
      expect(await harness.partitionCount(a)).toBe(3);
    });

    it('places keyed records on the partition the partitioner predicts and keeps per-key order', async () => {
      const topic = await newTopic(6);
      const keys = ['org_1/staff_1', 'org_1/staff_2', 'org_2/contact_9'];
      const perKey = 300;
      const records: OutgoingRecord[] = [];
      for (let i = 0; i < perKey; i++) {
        for (const key of keys) records.push({ key, value: Buffer.from(`${key}|${i}`) });
      }
      // Several sends, so order must hold across produce requests too, and one send bigger
      // than the Kafka adapter puts in one produce request (500).
      for (let i = 0; i < 300; i += 150) await transport.send(topic, records.slice(i, i + 150));
      await transport.send(topic, records.slice(300));

      const got = new Collector();
      await subscribe({
        groupId: newGroup(),
        topics: [topic],
        fromBeginning: true,
        maxBatchSize: 40,
        handleBatch: async (batch) => got.push(batch),
      });
      await got.until('every record', () => got.records.length >= records.length, wait);

      expect(got.records).toHaveLength(records.length);
      for (const batch of got.batches) {
        expect(batch.records.length).toBeGreaterThan(0);
        expect(batch.records.length).toBeLessThanOrEqual(40);
        expect(
          batch.records.every((r) => r.topic === batch.topic && r.partition === batch.partition),
        ).toBe(true);
      }
      for (const key of keys) {
        const mine = got.records.filter((r) => r.key === key);
        expect(new Set(mine.map((r) => r.partition))).toEqual(new Set([partitionForKey(key, 6)]));
        expect(mine.map(text)).toEqual(Array.from({ length: perKey }, (_, i) => `${key}|${i}`));
      }
      // Offsets per partition: contiguous from 0, delivered in order.
      const byPartition = new Map<number, number[]>();
      for (const r of got.records)
        byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), Number(r.offset)]);
      for (const offsets of byPartition.values()) {
        expect(offsets).toEqual(offsets.map((_, i) => i));
      }
    });

    it('tells each batch how many records the partition already holds after it', async () => {
      const topic = await newTopic(1);
      const total = 10;
      await transport.send(
        topic,
        Array.from({ length: total }, (_, i) => ({ key: 'k', value: Buffer.from(`v${i}`) })),
      );
      const got = new Collector();
      await subscribe({
        groupId: newGroup(),
        topics: [topic],
        fromBeginning: true,
        maxBatchSize: 4,
        handleBatch: async (batch) => got.push(batch),
      });
      await got.until('every record', () => got.records.length >= total, wait);
      // Everything was produced before the group joined, so the first batch sees all of it.
      expect(got.batches[0]!.records).toHaveLength(4);
      expect(got.batches[0]!.behind).toBe(total - 4);
      for (const batch of got.batches) {
        const next = Number(batch.records[batch.records.length - 1]!.offset) + 1;
        expect(batch.behind).toBe(total - next);
      }
      expect(got.batches[got.batches.length - 1]!.behind).toBe(0);
    });

    it('round-trips binary values and headers', async () => {
      const topic = await newTopic(2);
      const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const random = randomBytes(4096);
      const sent: OutgoingRecord[] = [
        {
          key: 'bin',
          value: allBytes,
          headers: { 'content-type': 'application/vnd.avro', 'x-ünï': 'välue ✓' },
        },
        { key: 'bin', value: random, headers: { 'schema-id': '42', empty: '' } },
        { key: 'bin', value: Buffer.alloc(0) },
      ];
      await transport.send(topic, sent);

      const got = new Collector();
      await subscribe({
        groupId: newGroup(),
        topics: [topic],
        fromBeginning: true,
        handleBatch: async (batch) => got.push(batch),
      });
      await got.until('three records', () => got.records.length >= 3, wait);

      const records = got.records;
      expect(records.map((r) => r.key)).toEqual(['bin', 'bin', 'bin']);
      expect(Buffer.compare(records[0]!.value, allBytes)).toBe(0);
      expect(Buffer.compare(records[1]!.value, random)).toBe(0);
      expect(records[2]!.value.length).toBe(0);
      expect(records[0]!.headers).toEqual({
        'content-type': 'application/vnd.avro',
        'x-ünï': 'välue ✓',
      });
      expect(records[1]!.headers).toEqual({ 'schema-id': '42', empty: '' });
      expect(records[2]!.headers).toEqual({});
      for (const r of records) {
        expect(r.topic).toBe(topic);
        expect(Number.isFinite(r.timestamp) && r.timestamp > 0).toBe(true);
      }
    });

    it('readLatest reads a topic to its end outside any group: the latest value per key, on every partition', async () => {
      const topic = await newTopic(3);
      expect(await transport.readLatest(`${topic}.missing`)).toEqual(new Map());
      expect(await transport.readLatest(topic)).toEqual(new Map());
      const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
      await transport.send(
        topic,
        keys.map((key) => ({ key, value: Buffer.from(`${key}:1`) })),
      );
      await transport.send(topic, [
        { key: 'k3', value: Buffer.from('k3:2') },
        { key: 'k3', value: Buffer.from('k3:3') },
        { key: 'k7', value: Buffer.alloc(0) },
      ]);
      const read = await transport.readLatest(topic);
      expect([...read.keys()].sort()).toEqual([...keys].sort());
      expect(read.get('k0')!.toString()).toBe('k0:1');
      expect(read.get('k3')!.toString()).toBe('k3:3');
      expect(read.get('k7')!.length).toBe(0);
      // A second read sees what was sent since; nothing was committed for anyone.
      await transport.send(topic, [{ key: 'k0', value: Buffer.from('k0:2') }]);
      expect((await transport.readLatest(topic)).get('k0')!.toString()).toBe('k0:2');
    });

    it('readFrom reads partitions from given offsets to their end outside any group, keeping what is asked', async () => {
      const topic = await newTopic(3);
      expect(await transport.readFrom(`${topic}.missing`, new Map([[0, '0']]))).toEqual({
        records: [],
        ends: new Map(),
      });
      const keys = Array.from({ length: 30 }, (_, i) => `${i % 2 === 0 ? 'a' : 'b'}/${i}`);
      await transport.send(
        topic,
        keys.map((key) => ({ key, value: Buffer.from(key), headers: { h: key } })),
      );
      const partitions = [0, 1, 2].map((p) => keys.filter((k) => partitionForKey(k, 3) === p));
      // Partition 0 from its third record, partition 1 from its start, partition 2 not at all.
      const read = await transport.readFrom(
        topic,
        new Map([
          [0, '2'],
          [1, '0'],
        ]),
        (r) => r.key.startsWith('a/'),
      );
      const want = [...partitions[0]!.slice(2), ...partitions[1]!].filter((k) =>
        k.startsWith('a/'),
      );
      expect(read.records.map((r) => r.key)).toEqual(want);
      for (const r of read.records) {
        expect(r.value.toString()).toBe(r.key);
        expect(r.headers).toEqual({ h: r.key });
        expect(r.topic).toBe(topic);
      }
      const offsets = (p: number) =>
        read.records.filter((r) => r.partition === p).map((r) => Number(r.offset));
      for (const p of [0, 1]) {
        const got = offsets(p);
        expect([...got].sort((x, y) => x - y)).toEqual(got);
      }
      expect(read.ends).toEqual(
        new Map([
          [0, String(partitions[0]!.length)],
          [1, String(partitions[1]!.length)],
        ]),
      );
      // Past the end: nothing, and the end is where it was asked from.
      const past = await transport.readFrom(topic, new Map([[2, String(partitions[2]!.length)]]));
      expect(past.records).toEqual([]);
      expect(past.ends).toEqual(new Map([[2, String(partitions[2]!.length)]]));
    });

    it('sends records of one key whose sizes together exceed a broker request, in order', async () => {
      // 30 records of 200 KB for one partition: 6 MB, far over Kafka's 1 MiB message.max.bytes
      // for one request's batch (one organization's outcomes all go to one partition).
      const topic = await newTopic(3);
      const sent = Array.from({ length: 30 }, (_, i) => ({
        key: 'org_big',
        value: Buffer.concat([Buffer.from(`${i}:`), randomBytes(200_000)]),
      }));
      await transport.send(topic, sent);
      const got = new Collector();
      await subscribe({
        groupId: newGroup(),
        topics: [topic],
        fromBeginning: true,
        handleBatch: async (batch) => got.push(batch),
      });
      await got.until('thirty records', () => got.records.length >= 30, wait);
      expect(got.records.map((r) => r.value.subarray(0, 3).toString('utf8').split(':')[0])).toEqual(
        sent.map((_, i) => String(i)),
      );
      expect(got.records.every((r, i) => Buffer.compare(r.value, sent[i]!.value) === 0)).toBe(true);
    });

    it('redelivers the same records after a handler throws, commits only after success, skips nothing', async () => {
      const topic = await newTopic(2);
      const group = newGroup();
      const keys = keysCovering(2, 5);
      await transport.send(
        topic,
        keys.map((key, i) => ({ key, value: Buffer.from(`v${i}`) })),
      );
      const perPartition = [0, 1].map(
        (p) => keys.filter((k) => partitionForKey(k, 2) === p).length,
      );

      const errors: unknown[] = [];
      const successful = new Collector();
      let failed: RecordBatch | undefined;
      let lagAtRedelivery: number | undefined;
      let redelivered: RecordBatch | undefined;
      await subscribe({
        groupId: group,
        topics: [topic],
        fromBeginning: true,
        handleBatch: async (batch) => {
          if (!failed) {
            failed = batch;
            throw new Error('handler failed once');
          }
          if (!redelivered && batch.partition === failed.partition) {
            redelivered = batch;
            // Nothing of this partition may be committed yet: the failed attempt must not count.
            lagAtRedelivery = (await transport.lag(group, [topic])).find(
              (l) => l.partition === batch.partition,
            )?.lag;
          }
          successful.push(batch);
        },
        onError: (err) => errors.push(err),
      });
      await successful.until(
        'every record once successfully',
        () => successful.records.length >= keys.length,
        wait,
      );

      expect(failed).toBeDefined();
      expect(errors).toHaveLength(1);
      expect((errors[0] as Error).message).toBe('handler failed once');
      expect(redelivered!.records[0]!.offset).toBe(failed!.records[0]!.offset);
      const common = Math.min(redelivered!.records.length, failed!.records.length);
      expect(redelivered!.records.slice(0, common).map(text)).toEqual(
        failed!.records.slice(0, common).map(text),
      );
      expect(lagAtRedelivery).toBe(perPartition[failed!.partition]);

      // Every offset of every partition, once and in order: nothing skipped, nothing doubled.
      for (const p of [0, 1]) {
        const offsets = successful.records
          .filter((r) => r.partition === p)
          .map((r) => Number(r.offset));
        expect(offsets).toEqual(Array.from({ length: perPartition[p]! }, (_, i) => i));
      }
      await subscriptions[0]!.stop();
      expect(await totalLag(group, topic)).toBe(0);
    });

    it('stop() lets the in-flight batch finish and commit before leaving', async () => {
      const topic = await newTopic(1);
      const group = newGroup();
      await transport.send(
        topic,
        [0, 1, 2].map((i) => ({ key: 'k', value: Buffer.from(`first-${i}`) })),
      );

      const entered = gate();
      const release = gate();
      const first = await subscribe({
        groupId: group,
        topics: [topic],
        fromBeginning: true,
        handleBatch: async () => {
          entered.resolve();
          await release.promise;
        },
      });
      await entered.promise;
      const stopping = first.stop();
      release.resolve();
      await stopping;
      expect(await totalLag(group, topic)).toBe(0);

      await transport.send(topic, [{ key: 'k', value: Buffer.from('second') }]);
      const got = new Collector();
      await subscribe({
        groupId: group,
        topics: [topic],
        fromBeginning: true,
        handleBatch: async (b) => got.push(b),
      });
      await got.until('the record produced after the stop', () => got.records.length >= 1, wait);
      expect(got.records.map(text)).toEqual(['second']);
      expect(got.records[0]!.offset).toBe('3');
    });

    it('gives uncommitted records to the next member when a member stops in the middle of a failing batch', async () => {
      const topic = await newTopic(1);
      const group = newGroup();
      await transport.send(
        topic,
        [0, 1, 2, 3, 4].map((i) => ({ key: 'k', value: Buffer.from(`r${i}`) })),
      );

      const entered = gate();
      const release = gate();
      const first = await subscribe({
        groupId: group,
        topics: [topic],
        fromBeginning: true,
        handleBatch: async () => {
          entered.resolve();
          await release.promise;
        },
        onError: () => undefined,
      });
      await entered.promise;
      const stopping = first.stop();
      release.reject(new Error('dying'));
      await stopping;
      expect(await totalLag(group, topic)).toBe(5);

      const got = new Collector();
      await subscribe({
        groupId: group,
        topics: [topic],
        fromBeginning: true,
        handleBatch: async (b) => got.push(b),
      });
      await got.until('the uncommitted records', () => got.records.length >= 5, wait);
      expect(got.records.map(text)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    });

    it('splits partitions between two members of one group; together they see every record exactly once', async () => {
      const topic = await newTopic(4);
      const group = newGroup();
      const all = new Collector();
      const a: ConsumedRecord[] = [];
      const b: ConsumedRecord[] = [];
      const member = (mine: ConsumedRecord[]) => async (batch: RecordBatch) => {
        mine.push(...batch.records);
        all.push(batch);
      };
      await subscribe({
        groupId: group,
        topics: [topic],
        fromBeginning: true,
        handleBatch: member(a),
      });
      await subscribe({
        groupId: group,
        topics: [topic],
        fromBeginning: true,
        handleBatch: member(b),
      });

      const keys = keysCovering(4, 3);
      await transport.send(
        topic,
        keys.map((key, i) => ({ key, value: Buffer.from(`v${i}`) })),
      );
      await all.until('every record', () => all.records.length >= keys.length, wait);

      expect(all.records.map(text).sort()).toEqual(keys.map((_, i) => `v${i}`).sort());
      const aPartitions = new Set(a.map(tp));
      const bPartitions = new Set(b.map(tp));
      expect(aPartitions.size).toBeGreaterThan(0);
      expect(bPartitions.size).toBeGreaterThan(0);
      expect([...aPartitions].filter((p) => bPartitions.has(p))).toEqual([]);
      expect(aPartitions.size + bPartitions.size).toBe(4);
    });

    it('with fromBeginning false, delivers only records produced after the group first subscribed', async () => {
      const topic = await newTopic(2);
      const group = newGroup();
      const keys = keysCovering(2);
      await transport.send(
        topic,
        keys.map((key) => ({ key, value: Buffer.from(`before-${key}`) })),
      );

      const got = new Collector();
      await subscribe({
        groupId: group,
        topics: [topic],
        fromBeginning: false,
        handleBatch: async (b) => got.push(b),
      });
      expect(await totalLag(group, topic)).toBe(0);
      await transport.send(
        topic,
        keys.map((key) => ({ key, value: Buffer.from(`after-${key}`) })),
      );
      // Same keys, same partitions: an older record would have been delivered before these.
      await got.until(
        'the records produced after subscribing',
        () => got.records.length >= keys.length,
        wait,
      );
      expect(got.records.map(text).sort()).toEqual(keys.map((k) => `after-${k}`).sort());
    });

    it('reports lag per partition before and after consumption', async () => {
      const topic = await newTopic(3);
      const group = newGroup();
      const keys = keysCovering(3, 2);
      await transport.send(
        topic,
        keys.map((key) => ({ key, value: Buffer.from(key) })),
      );
      const expected = [0, 1, 2].map((p) => keys.filter((k) => partitionForKey(k, 3) === p).length);

      expect(await transport.lag(group, [topic])).toEqual(
        expected.map((lag, partition) => ({ topic, partition, lag })),
      );

      const got = new Collector();
      const sub = await subscribe({
        groupId: group,
        topics: [topic],
        fromBeginning: true,
        handleBatch: async (b) => got.push(b),
      });
      await got.until('every record', () => got.records.length >= keys.length, wait);
      await sub.stop();
      expect(await transport.lag(group, [topic])).toEqual(
        [0, 1, 2].map((partition) => ({ topic, partition, lag: 0 })),
      );

      const late = keys.filter((k) => partitionForKey(k, 3) === 1).slice(0, 2);
      await transport.send(
        topic,
        late.map((key) => ({ key, value: Buffer.from('late') })),
      );
      expect(await transport.lag(group, [topic])).toEqual([
        { topic, partition: 0, lag: 0 },
        { topic, partition: 1, lag: 2 },
        { topic, partition: 2, lag: 0 },
      ]);
    });
  });
}
