import type {
  PartitionLag,
  RecordBatch,
  SubscribeOptions,
  Subscription,
  TopicInfo,
  TopicSpec,
  Transport,
  OutgoingRecord,
} from '../core/transport';

/** The oldest change one stage holds for one organization. */
export interface PendingChange {
  orgId: string;
  topic: string;
  /** When the record was put on `topic` (epoch ms). */
  timestamp: number;
}

export interface PendingChangesView {
  /** Per organization and topic, the oldest record taken off the topic and not yet finished. */
  oldest(): PendingChange[];
}

interface Entry {
  topic: string;
  /** Organization -> timestamp of its oldest record in the batch. */
  orgs: Map<string, number>;
  inFlight: boolean;
  /** After a failed batch: until when it counts as pending while it waits to come again. */
  expiresAt: number;
}

/**
 * A Transport that notes, for the topics named, which records a consumer has been handed and
 * not yet finished: from the moment a batch is handed over until its handler resolves (its
 * offsets are then committed). A batch that failed stays pending while it waits to be
 * delivered again, for at most `retryGraceMs` (longer than the transport's largest backoff),
 * so a partition that moved to another process meanwhile does not stay pending here.
 *
 * This is what "the oldest unapplied change" means per stage: a sink holding writes for a
 * paused organization, or a reconciler stuck on a batch, shows here as an age that grows,
 * where consumer lag only shows a count. A record still waiting unfetched behind the batch in
 * hand is younger than that batch, so the batch's age is the partition's.
 */
export class PendingChangeTransport implements Transport, PendingChangesView {
  private readonly entries = new Map<string, Entry>();
  private readonly tracked: Set<string>;
  private readonly retryGraceMs: number;
  private readonly now: () => number;

  constructor(
    private readonly inner: Transport,
    options: { topics: string[]; retryGraceMs?: number; now?: () => number },
  ) {
    this.tracked = new Set(options.topics);
    this.retryGraceMs = options.retryGraceMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  ensureTopics(topics: TopicSpec[]): Promise<TopicInfo[]> {
    return this.inner.ensureTopics(topics);
  }

  send(topic: string, records: OutgoingRecord[]): Promise<void> {
    return this.inner.send(topic, records);
  }

  lag(groupId: string, topics: string[]): Promise<PartitionLag[]> {
    return this.inner.lag(groupId, topics);
  }

  readLatest(topic: string): Promise<Map<string, Buffer>> {
    return this.inner.readLatest(topic);
  }

  readFrom: Transport['readFrom'] = (topic, from, keep) => this.inner.readFrom(topic, from, keep);

  close(): Promise<void> {
    return this.inner.close();
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (!options.topics.some((t) => this.tracked.has(t))) return this.inner.subscribe(options);
    const handle = options.handleBatch;
    return this.inner.subscribe({
      ...options,
      handleBatch: async (batch) => {
        if (!this.tracked.has(batch.topic)) return handle(batch);
        const key = `${options.groupId}\u0000${batch.topic}\u0000${batch.partition}`;
        this.handedOver(key, batch);
        try {
          await handle(batch);
        } catch (err) {
          const entry = this.entries.get(key);
          if (entry) {
            entry.inFlight = false;
            entry.expiresAt = this.now() + this.retryGraceMs;
          }
          throw err;
        }
        this.entries.delete(key);
      },
    });
  }

  private handedOver(key: string, batch: RecordBatch): void {
    // A redelivered batch keeps the times noted at its first delivery.
    const entry = this.entries.get(key) ?? {
      topic: batch.topic,
      orgs: new Map<string, number>(),
      inFlight: true,
      expiresAt: Number.POSITIVE_INFINITY,
    };
    entry.inFlight = true;
    for (const r of batch.records) {
      // Keys are `<orgId>/<id>` (core/topics.ts); a key without one names no organization.
      const slash = r.key.indexOf('/');
      if (slash <= 0) continue;
      const orgId = r.key.slice(0, slash);
      const seen = entry.orgs.get(orgId);
      if (seen === undefined || r.timestamp < seen) entry.orgs.set(orgId, r.timestamp);
    }
    this.entries.set(key, entry);
  }

  oldest(): PendingChange[] {
    const now = this.now();
    const oldest = new Map<string, PendingChange>();
    for (const [key, entry] of this.entries) {
      if (!entry.inFlight && entry.expiresAt <= now) {
        this.entries.delete(key);
        continue;
      }
      for (const [orgId, timestamp] of entry.orgs) {
        const k = `${orgId}\u0000${entry.topic}`;
        const seen = oldest.get(k);
        if (!seen || timestamp < seen.timestamp) {
          oldest.set(k, { orgId, topic: entry.topic, timestamp });
        }
      }
    }
    return [...oldest.values()];
  }
}
