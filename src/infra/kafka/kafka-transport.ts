import { randomUUID } from 'node:crypto';
import { Kafka } from 'kafkajs';
import type {
  Admin,
  Consumer,
  EachBatchPayload,
  ICustomPartitioner,
  Producer,
  RetryOptions,
} from 'kafkajs';
import { SyncError, toSyncError } from '../../errors';
import { silentLogger } from '../../logger';
import type { Logger, LogLevel } from '../../logger';
import { backoffDelayMs, retry } from '../../retry';
import type { RetryPolicy } from '../../retry';
import { defaultRedeliveryBackoff, partitionForKey } from '../../core/transport';
import type {
  ConsumedRecord,
  OutgoingRecord,
  PartitionLag,
  PartitionRead,
  SubscribeOptions,
  Subscription,
  TopicInfo,
  TopicSpec,
  Transport,
} from '../../core/transport';
import {
  consumerLagWithAdmin,
  ensureTopicsWithAdmin,
  partitionCountsWithAdmin,
  unpositionedPartitionsWithAdmin,
} from './kafka-admin';
import { rootErrorType, toTransportError } from './kafka-errors';
import { readFromWithConsumer, readLatestWithConsumer } from './kafka-log-reader';
import { toConsumedRecord } from './kafka-records';
import { SendGroups } from './send-groups';
import type { TopicSend } from './send-groups';
import { kafkaLogCreator, toKafkaLogLevel } from './kafka-logger';

/**
 * Consumer-group timing. The broker accepts session timeouts within
 * group.min.session.timeout.ms..group.max.session.timeout.ms (6 s..30 min by default).
 */
export interface KafkaConsumerTuning {
  /** A member not heard from for this long is dropped and its partitions move on. */
  sessionTimeoutMs: number;
  /**
   * How long members get to rejoin during a rebalance; an in-flight batch must finish (and
   * commit) within it, or its records go to the next owner and are processed twice.
   */
  rebalanceTimeoutMs: number;
  /** Heartbeats keep the session alive, also while a long batch runs; about a third of the session. */
  heartbeatIntervalMs: number;
  /** Longest a fetch waits on the broker for records; also bounds how long stop() waits on an idle member. */
  maxWaitTimeMs: number;
  /**
   * Partitions one member processes at the same time (each partition stays sequential), unless
   * a subscription says otherwise (`partitionConcurrency`: the sinks use more, so their
   * partitions wait on API calls side by side and a backlog of several partitions makes one
   * Bulk job). kafkajs never runs more than the member was assigned.
   */
  partitionsConsumedConcurrently: number;
}

export const defaultConsumerTuning: KafkaConsumerTuning = {
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 60_000,
  heartbeatIntervalMs: 3_000,
  maxWaitTimeMs: 1_000,
  partitionsConsumedConcurrently: 1,
};

export interface KafkaTransportOptions {
  brokers: string[];
  clientId: string;
  logger?: Logger;
  /** kafkajs's own log lines below this level are dropped. Default warn. */
  kafkaLogLevel?: LogLevel;
  /** Replication factor of topics created without one; -1 (default) = the broker's default. */
  replicationFactor?: number;
  consumer?: Partial<KafkaConsumerTuning>;
  redeliveryBackoff?: RetryPolicy;
  /** kafkajs's retry of single requests (metadata, produce, commit); its defaults when unset. */
  clientRetry?: RetryOptions;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

const DEFAULT_MAX_BATCH_SIZE = 500;

/** Tries at joining a group while the broker is unavailable: about two minutes, at most 15 s apart. */
const JOIN_RETRY: RetryPolicy = {
  maxAttempts: 12,
  initialDelayMs: 500,
  maxDelayMs: 15_000,
  factor: 2,
  jitter: 0.2,
};

/**
 * Records per produce request. kafkajs groups a send's records by partition by copying the
 * partition's list once per record (quadratic; tulios/kafkajs#1576 is unmerged): a full sync's
 * 2,000-record sends allocated over a gigabyte that way. Sends are split into requests of this
 * size, one after another, so order per key is kept.
 */
const PRODUCE_CHUNK = 500;

/**
 * Bytes per produce request. A request's records for one partition travel as one record batch,
 * which the broker refuses whole above its message.max.bytes (1 MiB by default): 24 outcome
 * records of 250 KB for one organization's partition did. Requests stay under it, with room for
 * the batch's own framing.
 */
const PRODUCE_MAX_BYTES = 900_000;

/** A record's share of a produce request, framing included (approximately). */
function messageBytes(m: { key: string; value: Buffer }): number {
  return m.value.length + Buffer.byteLength(m.key) + 64;
}

/**
 * Broker refusals that are about one send's records or topic, not the request as a whole: a
 * group refused so goes again one send at a time (SendGroups).
 */
const REFUSED_FOR_RECORDS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
]);

/** Splits messages into consecutive requests of at most PRODUCE_CHUNK records and PRODUCE_MAX_BYTES. */
export function produceRequests<M extends { key: string; value: Buffer }>(messages: M[]): M[][] {
  const out: M[][] = [];
  let current: M[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = messageBytes(m);
    if (
      current.length > 0 &&
      (current.length >= PRODUCE_CHUNK || bytes + size > PRODUCE_MAX_BYTES)
    ) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Kafka's default placement of keyed records, as kafkajs's DefaultPartitioner computes it
 * (`partitionForKey` is tested against it), without its per-record allocations: 64-bit `Long`
 * objects per four key bytes and a filtered copy of the partition list. Every record this
 * transport sends has a key.
 */
const keyedPartitioner: ICustomPartitioner =
  () =>
  ({ partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (typeof message.key !== 'string') {
      throw new SyncError('INTERNAL', 'records sent through the transport must have a string key');
    }
    return partitionForKey(message.key, partitionMetadata.length);
  };

/** Bytes per partition a fetch asks for: `maxBatchSize` records of ~512 bytes, at least 1 MB. */
function fetchBytesFor(maxBatchSize: number): number {
  return Math.min(16 * 1_048_576, Math.max(1_048_576, maxBatchSize * 512));
}

/**
 * Kafka adapter of the transport port (kafkajs 2.2.4).
 *
 * - One idempotent producer per transport (acks=all, one request in flight, so retries can
 *   neither duplicate nor reorder), partitioning with Kafka's default murmur2 placement. Sends
 *   that come in while a request is out go together in the next one (SendGroups).
 * - One kafkajs consumer per subscription, offsets committed by hand after the handler
 *   resolved. A failed batch is not committed and not resolved, so kafkajs fetches it again
 *   from the same offset; the partition is paused for the backoff meanwhile, other partitions
 *   go on.
 * - kafkajs failures surface as SyncError TRANSPORT_UNAVAILABLE with the kafkajs error as cause.
 */
export class KafkaTransport implements Transport {
  private readonly kafka: Kafka;
  private readonly logger: Logger;
  private readonly tuning: KafkaConsumerTuning;
  private readonly backoff: RetryPolicy;
  private readonly replicationFactor: number;
  private readonly clientId: string;
  private readonly subscriptions = new Set<KafkaSubscription>();
  private producer: Promise<ProducerLease> | undefined;
  private producerLease: ProducerLease | undefined;
  private admin: Promise<Admin> | undefined;
  private closing: Promise<void> | undefined;
  private readonly sends = new SendGroups<ProducedMessage>(
    (sends) => this.produce(sends),
    { records: PRODUCE_CHUNK, bytes: PRODUCE_MAX_BYTES },
    messageBytes,
    (err) => REFUSED_FOR_RECORDS.has(rootErrorType(err) ?? ''),
  );

  constructor(options: KafkaTransportOptions) {
    this.logger = options.logger ?? silentLogger;
    this.tuning = { ...defaultConsumerTuning, ...options.consumer };
    this.backoff = options.redeliveryBackoff ?? defaultRedeliveryBackoff;
    this.replicationFactor = options.replicationFactor ?? -1;
    this.clientId = options.clientId;
    this.kafka = new Kafka({
      brokers: options.brokers,
      clientId: options.clientId,
      logLevel: toKafkaLogLevel(options.kafkaLogLevel ?? 'warn'),
      logCreator: kafkaLogCreator(this.logger),
      ...(options.clientRetry ? { retry: options.clientRetry } : {}),
      ...(options.connectionTimeoutMs ? { connectionTimeout: options.connectionTimeoutMs } : {}),
      ...(options.requestTimeoutMs ? { requestTimeout: options.requestTimeoutMs } : {}),
    });
  }

  async ensureTopics(topics: TopicSpec[]): Promise<TopicInfo[]> {
    this.assertOpen();
    try {
      return await ensureTopicsWithAdmin(await this.connectedAdmin(), topics, {
        defaultReplicationFactor: this.replicationFactor,
        logger: this.logger,
      });
    } catch (err) {
      throw toTransportError(err, 'ensureTopics', { topics: topics.map((t) => t.name) });
    }
  }

  async send(topic: string, records: OutgoingRecord[]): Promise<void> {
    this.assertOpen();
    if (records.length === 0) return;
    const messages = records.map((r) => ({ key: r.key, value: r.value, headers: r.headers ?? {} }));
    return this.sends.send(topic, messages);
  }

  /** One send, in requests of its own size; or several that fit one request, as one. */
  private async produce(sends: Array<TopicSend<ProducedMessage>>): Promise<void> {
    let lease: ProducerLease | undefined;
    try {
      lease = await this.leaseProducer();
      if (sends.length === 1) {
        const { topic, messages } = sends[0]!;
        for (const chunk of produceRequests(messages)) {
          await lease.producer.send({ topic, acks: -1, messages: chunk });
        }
      } else {
        const byTopic = new Map<string, ProducedMessage[]>();
        for (const { topic, messages } of sends) {
          const list = byTopic.get(topic);
          if (list) list.push(...messages);
          else byTopic.set(topic, [...messages]);
        }
        await lease.producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
      }
    } catch (err) {
      // kafkajs refreshes metadata for every topic a producer ever wrote to, and one deleted
      // topic fails every later send; a fresh producer forgets it.
      if (lease && rootErrorType(err) === 'UNKNOWN_TOPIC_OR_PARTITION') this.retireProducer(lease);
      const records = sends.reduce((n, s) => n + s.messages.length, 0);
      const topics = [...new Set(sends.map((s) => s.topic))];
      throw toTransportError(err, 'send', {
        ...(topics.length === 1 ? { topic: topics[0] } : { topics }),
        records,
      });
    } finally {
      if (lease) this.releaseProducer(lease);
    }
  }

  /**
   * Joins the group, trying again (with a fresh consumer) while the broker answers as
   * unavailable: a process started, or a source restarted, during a broker restart waits for
   * it (about two minutes, JOIN_RETRY) instead of failing.
   */
  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    // A closed transport fails at once: assertOpen's error is not retriable.
    return retry(() => this.subscribeOnce(options), JOIN_RETRY, {
      onRetry: (err, attempt, delayMs) =>
        this.logger.warn('waiting for Kafka to join the consumer group', {
          groupId: options.groupId,
          attempt,
          delayMs,
          err: toSyncError(err),
        }),
    });
  }

  private async subscribeOnce(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    const subscription = new KafkaSubscription({
      consumer: this.kafka.consumer({
        groupId: options.groupId,
        sessionTimeout: this.tuning.sessionTimeoutMs,
        rebalanceTimeout: this.tuning.rebalanceTimeoutMs,
        heartbeatInterval: this.tuning.heartbeatIntervalMs,
        maxWaitTimeInMs: this.tuning.maxWaitTimeMs,
        allowAutoTopicCreation: false,
        // Room for a full batch of typical records (a few hundred bytes each) per partition and
        // fetch: kafkajs's 1 MB default caps a batch near 3,000 records, so a consumer asking
        // for bigger batches (the Salesforce sink's Bulk jobs) would never get them.
        maxBytesPerPartition: fetchBytesFor(options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE),
        maxBytes: 8 * fetchBytesFor(options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE),
      }),
      admin: () => this.connectedAdmin(),
      options,
      tuning: this.tuning,
      backoff: this.backoff,
      logger: this.logger.child({ groupId: options.groupId }),
      onStopped: (s) => this.subscriptions.delete(s),
    });
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (err) {
      await subscription.stop().catch(() => undefined);
      throw toTransportError(err, 'subscribe', {
        groupId: options.groupId,
        topics: options.topics,
      });
    }
    return subscription;
  }

  async lag(groupId: string, topics: string[]): Promise<PartitionLag[]> {
    this.assertOpen();
    try {
      return await consumerLagWithAdmin(await this.connectedAdmin(), groupId, topics);
    } catch (err) {
      throw toTransportError(err, 'lag', { groupId, topics });
    }
  }

  async readLatest(topic: string): Promise<Map<string, Buffer>> {
    this.assertOpen();
    try {
      return await readLatestWithConsumer(this.kafka, await this.connectedAdmin(), topic, {
        groupId: `${this.clientId}.read.${randomUUID()}`,
        tuning: this.tuning,
      });
    } catch (err) {
      throw toTransportError(err, 'readLatest', { topic });
    }
  }

  async readFrom(
    topic: string,
    from: ReadonlyMap<number, string>,
    keep: (record: ConsumedRecord) => boolean = () => true,
  ): Promise<PartitionRead> {
    this.assertOpen();
    try {
      return await readFromWithConsumer(
        this.kafka,
        await this.connectedAdmin(),
        topic,
        from,
        keep,
        {
          groupId: `${this.clientId}.read.${randomUUID()}`,
          tuning: this.tuning,
        },
      );
    } catch (err) {
      throw toTransportError(err, 'readFrom', { topic });
    }
  }

  /** Partition count as the broker reports it; undefined for an unknown topic. */
  async partitionCount(topic: string): Promise<number | undefined> {
    try {
      const admin = await this.connectedAdmin();
      if (!(await admin.listTopics()).includes(topic)) return undefined;
      return (await partitionCountsWithAdmin(admin, [topic])).get(topic);
    } catch (err) {
      throw toTransportError(err, 'describe topic', { topic });
    }
  }

  /** Deletes topics (tests, tear-down); unknown ones are skipped. */
  async deleteTopics(topics: string[]): Promise<void> {
    try {
      const admin = await this.connectedAdmin();
      const existing = new Set(await admin.listTopics());
      const present = topics.filter((t) => existing.has(t));
      if (present.length > 0) await admin.deleteTopics({ topics: present });
      // The producer would keep asking for the deleted topics' metadata and fail (see send).
      const lease = await this.producer?.catch(() => undefined);
      if (lease && present.length > 0) {
        lease.inFlight++;
        this.retireProducer(lease);
        this.releaseProducer(lease);
      }
    } catch (err) {
      throw toTransportError(err, 'deleteTopics', { topics });
    }
  }

  /** Deletes consumer groups that have no members left; unknown ones are skipped. */
  async deleteGroups(groupIds: string[]): Promise<void> {
    if (groupIds.length === 0) return;
    try {
      const admin = await this.connectedAdmin();
      const { groups } = await admin.listGroups();
      const known = new Set(groups.map((g) => g.groupId));
      const present = groupIds.filter((g) => known.has(g));
      if (present.length > 0) await admin.deleteGroups(present);
    } catch (err) {
      throw toTransportError(err, 'deleteGroups', { groupIds });
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const results = await Promise.allSettled([...this.subscriptions].map((s) => s.stop()));
    const [producer, admin] = await Promise.allSettled([this.producer, this.admin]);
    if (producer?.status === 'fulfilled' && producer.value) {
      await producer.value.producer.disconnect().catch(() => undefined);
    }
    if (admin?.status === 'fulfilled' && admin.value)
      await admin.value.disconnect().catch(() => undefined);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw toTransportError(failed.reason, 'close');
  }

  private async leaseProducer(): Promise<ProducerLease> {
    if (!this.producer) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: keyedPartitioner,
      });
      const lease: ProducerLease = { producer, inFlight: 0, retired: false };
      const connecting: Promise<ProducerLease> = producer.connect().then(
        () => lease,
        (err: unknown) => {
          // The next call tries again instead of failing forever.
          if (this.producer === connecting) this.producer = undefined;
          throw err;
        },
      );
      this.producer = connecting;
      this.producerLease = lease;
    }
    const lease = await this.producer;
    lease.inFlight++;
    return lease;
  }

  private releaseProducer(lease: ProducerLease): void {
    lease.inFlight--;
    if (lease.retired && lease.inFlight === 0) {
      lease.producer
        .disconnect()
        .catch((err: unknown) => this.logger.warn('Producer disconnect failed', { error: err }));
    }
  }

  /** Later sends get a new producer; this one is closed once its in-flight sends settled. */
  private retireProducer(lease: ProducerLease): void {
    if (lease.retired) return;
    lease.retired = true;
    if (this.producerLease === lease) {
      this.producer = undefined;
      this.producerLease = undefined;
    }
  }

  private connectedAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      this.admin = admin.connect().then(
        () => admin,
        (err: unknown) => {
          this.admin = undefined;
          throw err;
        },
      );
    }
    return this.admin;
  }

  private assertOpen(): void {
    if (this.closing)
      throw new SyncError('TRANSPORT_UNAVAILABLE', 'Transport is closed', { retriable: false });
  }
}

interface ProducedMessage {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

interface ProducerLease {
  producer: Producer;
  /** Sends using it right now; a retired producer is closed when this reaches 0. */
  inFlight: number;
  retired: boolean;
}

interface SubscriptionDeps {
  consumer: Consumer;
  admin: () => Promise<Admin>;
  options: SubscribeOptions;
  tuning: KafkaConsumerTuning;
  backoff: RetryPolicy;
  logger: Logger;
  onStopped: (s: KafkaSubscription) => void;
}

class KafkaSubscription implements Subscription {
  private readonly consumer: Consumer;
  private readonly options: SubscribeOptions;
  private readonly maxBatchSize: number;
  private readonly failures = new Map<string, number>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  private readonly joined: Promise<void>;
  private onJoined: () => void = () => undefined;
  private onJoinFailed: (err: unknown) => void = () => undefined;
  private assignment: Record<string, number[]> = {};
  private runCall: Promise<void> | undefined;
  private running: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly deps: SubscriptionDeps) {
    this.consumer = deps.consumer;
    this.options = deps.options;
    this.maxBatchSize = Math.max(1, deps.options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE);
    this.joined = new Promise<void>((resolve, reject) => {
      this.onJoined = resolve;
      this.onJoinFailed = reject;
    });
    this.joined.catch(() => undefined);
  }

  /** Connects and subscribes (errors surface here), then joins in the background. */
  async start(): Promise<void> {
    const { groupId, topics, fromBeginning = false } = this.options;
    // Where a new group starts is pinned before joining, so records produced while the
    // member joins are not skipped (kafkajs would resolve "latest" only at its first fetch).
    const unpositioned = fromBeginning
      ? []
      : await unpositionedPartitionsWithAdmin(await this.deps.admin(), groupId, topics);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.assignment = event.payload.memberAssignment;
      this.onJoined();
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      this.report(toTransportError(error, 'consume', { groupId, restart }));
      if (!restart) this.onJoinFailed(toTransportError(error, 'join group', { groupId }));
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics, fromBeginning });
    this.running = this.run(unpositioned).catch((err: unknown) => {
      throw toTransportError(err, 'join group', { groupId });
    });
    this.running.catch(() => undefined);
  }

  ready(): Promise<void> {
    if (!this.running)
      return Promise.reject(new SyncError('CONFLICT', 'Subscription was not started'));
    return this.running;
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async run(
    unpositioned: Array<{ topic: string; partition: number; offset: string }>,
  ): Promise<void> {
    this.runCall = this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently:
        this.options.partitionConcurrency ?? this.deps.tuning.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    await this.runCall;
    await this.joined;
    if (unpositioned.length > 0) await this.pinStart(unpositioned);
  }

  /**
   * Commits the pre-join end offset for assigned partitions the group still has no offset
   * for, and seeks there: the member then starts exactly where the group first subscribed,
   * and a restart after a crash resumes there too.
   */
  private async pinStart(
    before: Array<{ topic: string; partition: number; offset: string }>,
  ): Promise<void> {
    const { groupId, topics } = this.options;
    const still = await unpositionedPartitionsWithAdmin(await this.deps.admin(), groupId, topics);
    const stillKeys = new Set(still.map((p) => `${p.topic}:${p.partition}`));
    const pins = before.filter(
      (p) =>
        stillKeys.has(`${p.topic}:${p.partition}`) &&
        (this.assignment[p.topic] ?? []).includes(p.partition),
    );
    if (pins.length === 0) return;
    await this.consumer.commitOffsets(pins);
    for (const p of pins) this.consumer.seek(p);
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, pause, isRunning, isStale, commitOffsetsIfNecessary } =
      payload;
    const { topic, partition } = batch;
    const key = `${topic}:${partition}`;
    for (let start = 0; start < batch.messages.length; start += this.maxBatchSize) {
      // Stopping or a pending seek: leave the rest unresolved, it is fetched again.
      if (!isRunning() || isStale()) return;
      const messages = batch.messages.slice(start, start + this.maxBatchSize);
      const records = messages.map((m) => toConsumedRecord(topic, partition, m));
      const last = messages[messages.length - 1]!.offset;
      // The fetch's high watermark is the partition's end offset (the next to be written).
      const behind = Number(BigInt(batch.highWatermark) - BigInt(last) - 1n);
      try {
        await this.withHeartbeats(heartbeat, () =>
          this.options.handleBatch({ topic, partition, records, behind: Math.max(0, behind) }),
        );
      } catch (err) {
        this.report(err);
        if (isRunning()) this.pauseFor(key, pause);
        // Not resolved, not committed: the next fetch of this partition starts at the same offset.
        return;
      }
      try {
        await commitOffsetsIfNecessary({
          topics: [{ topic, partitions: [{ partition, offset: (BigInt(last) + 1n).toString() }] }],
        });
      } catch (err) {
        // Typically a rebalance: kafkajs rejoins and the records come again from the committed offset.
        this.report(toTransportError(err, 'commit', { topic, partition, offset: last }));
        throw err;
      }
      resolveOffset(last);
      this.failures.delete(key);
    }
  }

  /** Keeps the session alive while a handler runs longer than the heartbeat interval. */
  private async withHeartbeats(
    heartbeat: () => Promise<void>,
    fn: () => Promise<void>,
  ): Promise<void> {
    const timer = setInterval(() => {
      // A rebalance shows up here; the batch still finishes and commits within the rebalance
      // timeout, and kafkajs rejoins right after it.
      heartbeat().catch(() => undefined);
    }, this.deps.tuning.heartbeatIntervalMs);
    try {
      await fn();
    } finally {
      clearInterval(timer);
    }
  }

  private pauseFor(key: string, pause: () => () => void): void {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const resume = pause();
    const timer = setTimeout(
      () => {
        this.resumeTimers.delete(timer);
        resume();
      },
      backoffDelayMs(this.deps.backoff, failures),
    );
    this.resumeTimers.add(timer);
  }

  private async shutdown(): Promise<void> {
    for (const t of this.resumeTimers) clearTimeout(t);
    this.resumeTimers.clear();
    this.onJoinFailed(
      new SyncError('TRANSPORT_UNAVAILABLE', 'Subscription stopped before it joined its group'),
    );
    // kafkajs cannot stop a member halfway through joining (it would rejoin after a crash),
    // so let the join attempt settle first.
    await this.runCall?.catch(() => undefined);
    try {
      // Leaves the group after the in-flight batch committed, so the next member takes over at once.
      await this.consumer.disconnect();
    } catch (err) {
      throw toTransportError(err, 'stop', { groupId: this.options.groupId });
    } finally {
      this.deps.onStopped(this);
    }
  }

  private report(err: unknown): void {
    try {
      if (this.options.onError) this.options.onError(err);
      else this.deps.logger.warn('Consumer error', { error: err });
    } catch {
      // An observer's failure must not stop consumption.
    }
  }
}
