import { SyncError } from '../../errors';
import { silentLogger } from '../../logger';
import type { Logger } from '../../logger';
import { backoffDelayMs } from '../../retry';
import type { RetryPolicy } from '../../retry';
import { defaultRedeliveryBackoff, partitionForKey } from '../../core/transport';
import type {
  ConsumedRecord,
  OutgoingRecord,
  PartitionLag,
  PartitionRead,
  RecordBatch,
  SubscribeOptions,
  Subscription,
  TopicInfo,
  TopicSpec,
  Transport,
} from '../../core/transport';

export interface MemoryTransportOptions {
  /** Wait before a failed batch comes again; grows per consecutive failure, never gives up. */
  redeliveryBackoff?: RetryPolicy;
  logger?: Logger;
  now?: () => number;
  /**
   * Drop records every known consumer group of their topic has committed past (default false:
   * keep everything, as a test inspecting a topic expects). "Known" means every group that ever
   * subscribed to the topic in this transport, running or stopped; a topic no group subscribed
   * to keeps everything. A group subscribing later starts, with `fromBeginning`, at the oldest
   * record still held, like a Kafka consumer whose earliest offset moved on with retention.
   * This bounds the memory of a long run (a full sync) to what is still unconsumed.
   */
  dropCommitted?: boolean;
}

const DEFAULT_MAX_BATCH_SIZE = 500;

interface StoredRecord {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  timestamp: number;
}

/** Resolves pending waits when something happens; one-shot per wait. */
class Signal {
  private waiters = new Set<() => void>();

  fire(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  /** Resolves on the next fire() or after `timeoutMs` (when given). */
  wait(timeoutMs?: number): { promise: Promise<void>; cancel: () => void } {
    let timer: NodeJS.Timeout | undefined;
    let done: () => void = () => undefined;
    const promise = new Promise<void>((resolve) => {
      done = () => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      this.waiters.add(done);
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
    return { promise, cancel: () => done() };
  }
}

/**
 * One partition's records with absolute offsets. Records before `base` were dropped; the array
 * is compacted once its dropped head is most of it, so dropping costs O(1) amortised.
 */
class PartitionLog {
  private records: StoredRecord[] = [];
  private head = 0;
  /** Offset of the oldest record held. */
  base = 0;
  readonly appended = new Signal();

  /** The offset the next record gets. */
  get end(): number {
    return this.base + this.records.length - this.head;
  }

  append(record: StoredRecord): void {
    this.records.push(record);
  }

  /** Records from `from` (not before `base`) up to `count` of them. */
  read(from: number, count: number): StoredRecord[] {
    const start = this.head + Math.max(0, from - this.base);
    return this.records.slice(start, start + count);
  }

  /** Forgets records before `offset`. */
  dropBefore(offset: number): void {
    const n = Math.min(offset, this.end) - this.base;
    if (n <= 0) return;
    this.head += n;
    this.base += n;
    if (this.head >= 1024 && this.head * 2 >= this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
  }
}

interface TopicState {
  name: string;
  partitions: PartitionLog[];
}

interface GroupState {
  id: string;
  /** Next offset to consume per topic and partition; absent = never positioned. */
  committed: Map<string, Map<number, number>>;
  members: MemorySubscription[];
  /** The last runner of each topic-partition, so a new owner starts only after it let go. */
  lastRunner: Map<string, PartitionRunner>;
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * In-memory transport for one process (embedded/demo mode and unit tests), with the Kafka
 * adapter's semantics: murmur2 key partitioning, per-partition ordered logs, consumer groups
 * whose members split partitions, offsets committed only after a handler resolved, and
 * redelivery of a failed batch after a backoff. Nothing survives the process.
 */
export class MemoryTransport implements Transport {
  private readonly topics = new Map<string, TopicState>();
  private readonly groups = new Map<string, GroupState>();
  private readonly subscriptions = new Set<MemorySubscription>();
  private readonly backoff: RetryPolicy;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly dropCommitted: boolean;
  private closed = false;

  constructor(options: MemoryTransportOptions = {}) {
    this.backoff = options.redeliveryBackoff ?? defaultRedeliveryBackoff;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.dropCommitted = options.dropCommitted ?? false;
  }

  async ensureTopics(specs: TopicSpec[]): Promise<TopicInfo[]> {
    this.assertOpen();
    return specs.map((spec) => {
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
        throw new SyncError(
          'INVALID_INPUT',
          `Topic ${spec.name}: partitions must be a positive integer`,
          {
            context: { topic: spec.name, partitions: spec.partitions },
          },
        );
      }
      const existing = this.topics.get(spec.name);
      if (existing) {
        const info = {
          name: spec.name,
          created: false,
          partitions: existing.partitions.length,
          requestedPartitions: spec.partitions,
          partitionMismatch: existing.partitions.length !== spec.partitions,
        };
        if (info.partitionMismatch)
          this.logger.warn('Topic exists with another partition count', { ...info });
        return info;
      }
      this.topics.set(spec.name, {
        name: spec.name,
        partitions: Array.from({ length: spec.partitions }, () => new PartitionLog()),
      });
      return {
        name: spec.name,
        created: true,
        partitions: spec.partitions,
        requestedPartitions: spec.partitions,
        partitionMismatch: false,
      };
    });
  }

  async send(topic: string, records: OutgoingRecord[]): Promise<void> {
    this.assertOpen();
    const state = this.topic(topic);
    const timestamp = this.now();
    const touched = new Set<PartitionLog>();
    for (const record of records) {
      const log = state.partitions[partitionForKey(record.key, state.partitions.length)]!;
      // Copies, so a caller reusing its buffer cannot rewrite history.
      log.append({
        key: record.key,
        value: Buffer.from(record.value),
        headers: { ...record.headers },
        timestamp,
      });
      touched.add(log);
    }
    for (const log of touched) log.appended.fire();
  }

  async subscribe(options: SubscribeOptions): Promise<MemorySubscription> {
    this.assertOpen();
    const topics = options.topics.map((t) => this.topic(t));
    const group = this.group(options.groupId);
    for (const topic of topics) {
      const positions = group.committed.get(topic.name) ?? new Map<number, number>();
      group.committed.set(topic.name, positions);
      topic.partitions.forEach((log, partition) => {
        // A group's first subscription fixes its start, as the Kafka adapter commits it.
        if (!positions.has(partition))
          positions.set(partition, options.fromBeginning ? log.base : log.end);
      });
    }
    const subscription = new MemorySubscription(this, group, options);
    this.subscriptions.add(subscription);
    group.members.push(subscription);
    this.rebalance(group);
    return subscription;
  }

  async lag(groupId: string, topics: string[]): Promise<PartitionLag[]> {
    this.assertOpen();
    const committed = this.groups.get(groupId)?.committed;
    return topics.flatMap((name) =>
      this.topic(name).partitions.map((log, partition) => ({
        topic: name,
        partition,
        lag: log.end - Math.max(log.base, committed?.get(name)?.get(partition) ?? 0),
      })),
    );
  }

  async readLatest(topic: string): Promise<Map<string, Buffer>> {
    this.assertOpen();
    const latest = new Map<string, Buffer>();
    for (const log of this.topics.get(topic)?.partitions ?? []) {
      for (const r of log.read(log.base, Number.MAX_SAFE_INTEGER)) {
        latest.set(r.key, Buffer.from(r.value));
      }
    }
    return latest;
  }

  async readFrom(
    topic: string,
    from: ReadonlyMap<number, string>,
    keep: (record: ConsumedRecord) => boolean = () => true,
  ): Promise<PartitionRead> {
    this.assertOpen();
    const out: PartitionRead = { records: [], ends: new Map() };
    const logs = this.topics.get(topic)?.partitions ?? [];
    for (const [partition, offset] of from) {
      const log = logs[partition];
      if (!log) continue;
      const start = Math.max(Number(offset), log.base);
      const end = log.end;
      for (const [i, r] of log.read(start, Math.max(0, end - start)).entries()) {
        const record: ConsumedRecord = {
          topic,
          partition,
          offset: String(start + i),
          key: r.key,
          value: Buffer.from(r.value),
          headers: { ...r.headers },
          timestamp: r.timestamp,
        };
        if (keep(record)) out.records.push(record);
      }
      out.ends.set(partition, String(Math.max(end, start)));
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
  }

  /** Test introspection: partition count, or undefined for an unknown topic. */
  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.partitions.length;
  }

  /** Test introspection: the group's next offset for a partition (undefined: never positioned). */
  committedOffset(groupId: string, topic: string, partition: number): number | undefined {
    return this.groups.get(groupId)?.committed.get(topic)?.get(partition);
  }

  /** Test introspection: offsets of the oldest record held and of the next one, per partition. */
  heldOffsets(topic: string, partition: number): { oldest: number; next: number } | undefined {
    const log = this.topics.get(topic)?.partitions[partition];
    return log ? { oldest: log.base, next: log.end } : undefined;
  }

  /** Removes topics (test clean-up); subscriptions reading them must be stopped first. */
  async deleteTopics(topics: string[]): Promise<void> {
    for (const t of topics) this.topics.delete(t);
    for (const group of this.groups.values()) for (const t of topics) group.committed.delete(t);
  }

  /** @internal */
  partitionLog(topic: string, partition: number): PartitionLog {
    return this.topic(topic).partitions[partition]!;
  }

  /** @internal A group committed `topic`/`partition`: drop what every known group is past. */
  committed(topic: string, partition: number): void {
    if (!this.dropCommitted) return;
    let min = Number.POSITIVE_INFINITY;
    for (const group of this.groups.values()) {
      const offset = group.committed.get(topic)?.get(partition);
      if (offset !== undefined) min = Math.min(min, offset);
    }
    if (Number.isFinite(min)) this.topics.get(topic)?.partitions[partition]?.dropBefore(min);
  }

  /** @internal */
  redeliveryDelayMs(failures: number): number {
    return backoffDelayMs(this.backoff, failures);
  }

  /** @internal Called by a subscription that stops or crashes. */
  leave(subscription: MemorySubscription, group: GroupState): void {
    group.members = group.members.filter((m) => m !== subscription);
    this.subscriptions.delete(subscription);
    this.rebalance(group);
  }

  /**
   * Round-robin over the group's topic-partitions in a stable order. Eager, like Kafka's
   * classic protocol: a partition changes owner only after the old owner finished (and
   * committed) its in-flight batch, which PartitionRunner enforces.
   */
  private rebalance(group: GroupState): void {
    const wanted = new Map<MemorySubscription, Set<string>>();
    for (const m of group.members) wanted.set(m, new Set());
    const topicNames = [...new Set(group.members.flatMap((m) => m.topics))].sort();
    let next = 0;
    for (const name of topicNames) {
      const eligible = group.members.filter((m) => m.topics.includes(name));
      const topic = this.topics.get(name);
      if (!topic || eligible.length === 0) continue;
      for (let p = 0; p < topic.partitions.length; p++) {
        wanted.get(eligible[next++ % eligible.length]!)!.add(tpKey(name, p));
      }
    }
    for (const [member, keys] of wanted) member.assign(keys, group);
  }

  private topic(name: string): TopicState {
    const topic = this.topics.get(name);
    if (!topic) {
      throw new SyncError(
        'TRANSPORT_UNAVAILABLE',
        `Unknown topic ${name}; call ensureTopics first`,
        {
          retriable: false,
          context: { topic: name },
        },
      );
    }
    return topic;
  }

  private group(id: string): GroupState {
    let group = this.groups.get(id);
    if (!group) {
      group = { id, committed: new Map(), members: [], lastRunner: new Map() };
      this.groups.set(id, group);
    }
    return group;
  }

  private assertOpen(): void {
    if (this.closed)
      throw new SyncError('TRANSPORT_UNAVAILABLE', 'Transport is closed', { retriable: false });
  }
}

/** One consumer-group member. `crash()` is a test hook simulating a process that dies. */
export class MemorySubscription implements Subscription {
  readonly topics: string[];
  private readonly runners = new Map<string, PartitionRunner>();
  private state: 'active' | 'stopped' | 'crashed' = 'active';
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly transport: MemoryTransport,
    private readonly group: GroupState,
    readonly options: SubscribeOptions,
  ) {
    this.topics = [...new Set(options.topics)];
  }

  async ready(): Promise<void> {
    // Assignment is synchronous in memory: by now the member has its partitions.
  }

  /** Topic-partitions this member currently owns (test introspection). */
  assignment(): Array<{ topic: string; partition: number }> {
    return [...this.runners.values()].map((r) => ({ topic: r.topic, partition: r.partition }));
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown(false);
    return this.stopping;
  }

  /**
   * Dies without committing: the in-flight batch is abandoned (its handler keeps running but
   * its outcome is ignored) and the partitions move on at once, so the next owner gets the
   * uncommitted records again.
   */
  crash(): Promise<void> {
    this.stopping ??= this.shutdown(true);
    return this.stopping;
  }

  /** @internal */
  assign(keys: Set<string>, group: GroupState): void {
    if (this.state !== 'active') return;
    for (const [key, runner] of this.runners) {
      if (!keys.has(key)) {
        runner.revoke();
        this.runners.delete(key);
      }
    }
    for (const key of keys) {
      if (this.runners.has(key)) continue;
      const [topic, partition] = key.split('\u0000') as [string, string];
      const previous = group.lastRunner.get(key);
      const runner = new PartitionRunner(
        this.transport,
        group,
        this.options,
        topic,
        Number(partition),
        previous,
      );
      group.lastRunner.set(key, runner);
      this.runners.set(key, runner);
      runner.start();
    }
  }

  private async shutdown(crash: boolean): Promise<void> {
    if (this.state !== 'active') return;
    this.state = crash ? 'crashed' : 'stopped';
    const runners = [...this.runners.values()];
    this.runners.clear();
    for (const r of runners) {
      if (crash) r.crash();
      else r.revoke();
    }
    this.transport.leave(this, this.group);
    await Promise.all(runners.map((r) => r.released));
  }
}

/** Consumes one partition for one member, one batch at a time. */
class PartitionRunner {
  readonly released: Promise<void>;
  private release: () => void = () => undefined;
  private revoked = false;
  private crashed = false;
  private readonly wake = new Signal();

  constructor(
    private readonly transport: MemoryTransport,
    private readonly group: GroupState,
    private readonly options: SubscribeOptions,
    readonly topic: string,
    readonly partition: number,
    private readonly previous: PartitionRunner | undefined,
  ) {
    this.released = new Promise((resolve) => (this.release = resolve));
  }

  start(): void {
    this.run()
      .catch((err: unknown) =>
        this.report(new SyncError('INTERNAL', 'Memory consumer failed', { cause: err })),
      )
      .finally(() => this.release());
  }

  revoke(): void {
    this.revoked = true;
    this.wake.fire();
  }

  crash(): void {
    this.crashed = true;
    this.revoke();
    this.release();
  }

  private async run(): Promise<void> {
    if (this.previous) await this.previous.released;
    const log = this.transport.partitionLog(this.topic, this.partition);
    const maxBatchSize = Math.max(1, this.options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE);
    let failures = 0;
    while (!this.revoked) {
      // A position before the oldest record held (dropped meanwhile) reads from the oldest.
      const from = Math.max(this.position(), log.base);
      if (from >= log.end) {
        await this.waitFor(log);
        continue;
      }
      const records = log.read(from, maxBatchSize).map((r, i) => this.toConsumed(r, from + i));
      const batch: RecordBatch = {
        topic: this.topic,
        partition: this.partition,
        records,
        behind: log.end - (from + records.length),
      };
      try {
        await this.options.handleBatch(batch);
      } catch (err) {
        if (this.crashed) return;
        this.report(err);
        failures++;
        if (this.revoked) return;
        const pause = this.wake.wait(this.transport.redeliveryDelayMs(failures));
        await pause.promise;
        continue;
      }
      if (this.crashed) return;
      failures = 0;
      this.group.committed.get(this.topic)?.set(this.partition, from + batch.records.length);
      this.transport.committed(this.topic, this.partition);
    }
  }

  private position(): number {
    return this.group.committed.get(this.topic)?.get(this.partition) ?? 0;
  }

  private async waitFor(log: PartitionLog): Promise<void> {
    const appended = log.appended.wait();
    const woken = this.wake.wait();
    await Promise.race([appended.promise, woken.promise]);
    appended.cancel();
    woken.cancel();
  }

  private toConsumed(r: StoredRecord, offset: number): ConsumedRecord {
    return {
      topic: this.topic,
      partition: this.partition,
      offset: String(offset),
      key: r.key,
      value: Buffer.from(r.value),
      headers: { ...r.headers },
      timestamp: r.timestamp,
    };
  }

  private report(err: unknown): void {
    try {
      this.options.onError?.(err);
    } catch {
      // An observer's failure must not stop consumption.
    }
  }
}
