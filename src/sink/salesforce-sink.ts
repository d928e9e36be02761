import type { Connection } from 'jsforce';
import type { SalesforceWrite } from '../core/records';
import type { ConsumedRecord, RecordBatch, Subscription } from '../core/transport';
import { SyncError, toSyncError } from '../errors';
import type { Logger } from '../logger';
import {
  MAX_COLLECTIONS_PER_COMPOSITE,
  createSalesforceApi,
} from '../infra/salesforce/salesforce-api';
import type { SalesforceApi } from '../infra/salesforce/salesforce-api';
import type { PipelineDeps } from '../pipeline/deps';
import { sendToDeadLetters } from '../pipeline/dead-letters';
import { OutcomeBatch } from '../pipeline/outcomes';
import { defaultRetryPolicy } from '../retry';
import type { RetryPolicy } from '../retry';
import { defaultApiReserve } from '../core/api-reserve';
import type { ApiReserve } from '../core/api-reserve';
import { bulkContactWriter } from './salesforce/bulk-writer';
import type { BulkContactWriter } from './salesforce/bulk-writer';
import { OrgWriter } from './salesforce/org-writer';
import type { PauseReason } from './salesforce/org-writer';
import { coalesceWrites, writeProblem } from './salesforce/plan';
import type { WriteEnvelope } from './salesforce/plan';
import { failureOf, writeOutcome } from './write-outcomes';
import type { ParkedWriteStore } from './parked-writes';
import type { ParkMarks } from './park-marks';
import { DEFAULT_ORG_SHARE, InHand, WritePark, overflowOf, type ParkedOldest } from './write-park';

export type { ApiReserve } from '../core/api-reserve';
export type { BulkContactWriter } from './salesforce/bulk-writer';
export type { PauseReason } from './salesforce/org-writer';

export interface SalesforceSinkOptions {
  /**
   * Records per sObject Collection; at most 200 (Salesforce's cap). Default 200. A call carries
   * up to five collections (Composite), and a queue of that many flushes at once.
   */
  flushSize?: number;
  /**
   * How long a partial flush waits for more records, counted from its oldest. Default 350 ms:
   * the sink's consumer fetches again only once its records are written, so this sets how much
   * a steady stream gathers per call (about 200 at 500 changes a second).
   */
  lingerMs?: number;
  /** How often a paused org is probed (limits, auth, package). Default 60 s; each probe is one API call. */
  pauseCheckMs?: number;
  /** Daily API calls left for others; below it the sink pauses. Default 5% of the allocation. */
  apiReserve?: ApiReserve;
  /** Backoff of 5xx, network failures and record locks. Default: src/retry.ts defaults. */
  retryPolicy?: RetryPolicy;
  /**
   * Records per handleBatch. Only a consumer that is behind gets big batches, and big batches
   * make big Bulk jobs. Default 4,000.
   */
  maxBatchSize?: number;
  /**
   * Above this many upserts (or updates) in one flush, they go as one Bulk API 2.0 ingest job
   * (5-7 calls whatever its size) instead of Composite calls of 1,000 records. Default 5,000;
   * `Infinity` never uses Bulk.
   */
  bulkThreshold?: number;
  /**
   * How long a backlog bound for a Bulk job gathers more records before it is sent (the
   * consumer's partitions refill meanwhile, so the next job is bigger). Default 5 s.
   */
  bulkLingerMs?: number;
  /**
   * How long a full sync's writes may gather for one Bulk job while more keep coming (nobody
   * waits on them, and every job costs four or five calls whatever its size). Default 15 s.
   */
  runLingerMs?: number;
  /** First wait before asking whether a Bulk job finished; later waits grow. Default 500 ms. */
  bulkPollMs?: number;
  /** Builds the Bulk writer of a connection (tests wrap it); default: src/infra/salesforce/bulk-ingest. */
  bulkFor?: (conn: Connection) => BulkContactWriter;
  /** Where a new consumer group starts. Default true: writes decided before the sink first ran still land. */
  fromBeginning?: boolean;
  /** Builds the API of a connection (tests wrap it); default: the jsforce adapter. */
  apiFor?: (conn: Connection) => SalesforceApi;
  /**
   * Where a held org's writes wait (see WritePark), so the partitions it shares with other
   * orgs keep moving. Without it a held org's batches wait in the sink, uncommitted, and hold
   * every org's writes behind them in those partitions.
   */
  parked?: ParkedWriteStore;
  /**
   * With `parked`: where the parked writes' positions in the topic are kept outside the store
   * (the state witness), so that a store that comes back empty loses none (WritePark.restore).
   */
  parkMarks?: ParkMarks;
  /**
   * With `parked` and more than one organization: the writes of one organization this sink
   * holds straight from its partitions at most; more, and any full sync's writes, are parked
   * and written from there, so one organization's backlog does not hold the partitions it
   * shares with the others (docs/scaling.md, Fair sharing). Default 2,000.
   */
  orgShare?: number;
  /** With `parked`: how long a short parked list waits for company (WritePark `gather`). Default 3 s. */
  parkGatherMs?: number;
}

const DEFAULT_PARK_GATHER_MS = 3_000;

const MAX_COLLECTION = 200;
const DEFAULT_MAX_BATCH_SIZE = 4_000;
const DEFAULT_LINGER_MS = 350;

/**
 * Consumes the salesforceWrites topic and writes Contacts with sObject Collections, or Bulk API
 * 2.0 ingest jobs for large backlogs (group `<groupPrefix>.sink-salesforce`).
 *
 * Per batch: writes are decoded (undecodable or unusable ones go to dead letters), folded per
 * pair (a burst of writes to one pair costs one record in one call, order kept) and handed to
 * the org's OrgWriter, which batches across partitions up to 1,000 records per call (five
 * collections in one Composite request) or the linger. A batch of at least `flushSize` records
 * means the consumer is behind (a full sync, a burst), and writes arriving at 5,000 a second or
 * more are a burst even when it keeps up: the writer then gathers every partition's batch
 * before flushing, and a route with more than `bulkThreshold` ops (a backlog's: from 5,000)
 * goes as one Bulk job (see OrgWriter).
 * handleBatch resolves only when every record of the batch has its outcome recorded:
 * written (and linked when created), or dead-lettered with Salesforce's statusCode. So offsets
 * are committed only after that, and a batch held by a paused org (API budget, auth, missing
 * package) is neither committed nor dropped: a crash or stop meanwhile redelivers it.
 *
 * With a `parked` store, a held org's records are parked instead (WritePark) and its batches
 * commit, so other orgs' records in its partitions go on; without one, a held org holds its
 * partitions, including other orgs' records queued behind it there, until it resumes.
 */
export class SalesforceSink {
  private readonly options: Required<
    Omit<SalesforceSinkOptions, 'apiFor' | 'bulkFor' | 'parked' | 'parkMarks'>
  >;
  private readonly orgInHand = new InHand();
  private readonly park: WritePark<WriteEnvelope> | null;
  private readonly apiFor: (conn: Connection) => SalesforceApi;
  private readonly bulkFor: (conn: Connection) => BulkContactWriter;
  private readonly apis = new WeakMap<Connection, SalesforceApi>();
  private readonly writers = new Map<string, OrgWriter>();
  private readonly logger: Logger;
  private subscription: Subscription | null = null;
  private stopping: Promise<void> | null = null;
  /** Records handed to this sink whose batches have not completed (so not committed). */
  private inHand = 0;

  constructor(
    private readonly deps: PipelineDeps,
    options: SalesforceSinkOptions = {},
  ) {
    this.options = {
      flushSize: Math.min(MAX_COLLECTION, Math.max(1, options.flushSize ?? MAX_COLLECTION)),
      lingerMs: Math.max(0, options.lingerMs ?? DEFAULT_LINGER_MS),
      pauseCheckMs: Math.max(1, options.pauseCheckMs ?? 60_000),
      apiReserve: options.apiReserve ?? defaultApiReserve,
      retryPolicy: options.retryPolicy ?? defaultRetryPolicy,
      maxBatchSize: Math.max(1, options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE),
      fromBeginning: options.fromBeginning ?? true,
      bulkThreshold: Math.max(MAX_COLLECTION, options.bulkThreshold ?? 5_000),
      bulkLingerMs: Math.max(0, options.bulkLingerMs ?? 5_000),
      parkGatherMs: Math.max(0, options.parkGatherMs ?? DEFAULT_PARK_GATHER_MS),
      runLingerMs: Math.max(0, options.runLingerMs ?? 15_000),
      bulkPollMs: Math.max(1, options.bulkPollMs ?? 500),
      orgShare: Math.max(1, options.orgShare ?? DEFAULT_ORG_SHARE),
    };
    this.bulkFor = options.bulkFor ?? ((conn) => bulkContactWriter(conn, this.options.bulkPollMs));
    const build = options.apiFor ?? ((conn: Connection) => createSalesforceApi(conn));
    this.apiFor = (conn) => {
      let api = this.apis.get(conn);
      if (!api) this.apis.set(conn, (api = build(conn)));
      return api;
    };
    this.logger = deps.logger.child({ component: 'sink-salesforce' });
    this.park = options.parked
      ? new WritePark({
          store: options.parked,
          sink: 'salesforce',
          logger: this.logger,
          heldFor: (orgId) => this.pausedFor(orgId),
          decode: (record) => this.decode(record),
          write: (orgId, envs) =>
            this.writer(orgId).submit(coalesceWrites(envs).flat(), { backlog: true }),
          drainStep: Math.max(this.options.maxBatchSize, 10_000),
          // A Composite call's worth, or as many as came in a few seconds of a paced run.
          gather: {
            records: this.options.flushSize * MAX_COLLECTIONS_PER_COMPOSITE,
            waitMs: this.options.parkGatherMs,
          },
          retryMs: 1_000,
          ...(options.parkMarks ? { marks: options.parkMarks } : {}),
          reread: (from, keep) =>
            this.deps.transport.readFrom(this.deps.topics.salesforceWrites, from, keep),
        })
      : null;
  }

  get groupId(): string {
    return `${this.deps.groupPrefix}.sink-salesforce`;
  }

  /** Why an org's writes are held right now, or null. */
  pausedFor(orgId: string): PauseReason | null {
    return this.writers.get(orgId)?.pausedFor ?? null;
  }

  /** Looks at once whether a held org may write again (Sync now, a settings save). */
  wake(orgId: string): void {
    this.writers.get(orgId)?.wake();
  }

  private readonly onWake = (e: { orgId: string }): void => this.wake(e.orgId);
  private readonly onResumed = (e: { sink: string; orgId: string }): void => {
    if (e.sink === 'salesforce') this.park?.drain(e.orgId);
  };

  /**
   * The state store lost its data: reads again from the topic the parked writes it held, for
   * every organization whose marks the state witness keeps (WritePark.restoreAll). Resolves
   * once they are parked again; may run before start().
   */
  restoreParked(): Promise<void> {
    return this.park?.restoreAll() ?? Promise.resolve();
  }

  /** Per organization with writes parked here, its oldest (see WritePark.oldest). */
  parkedOldest(): ParkedOldest[] {
    return this.park?.oldest() ?? [];
  }

  /** Joins the consumer group; resolves once partitions are assigned. */
  async start(): Promise<void> {
    // A stop in progress finishes first; the sink can then be started again (disconnect and
    // reconnect, tests that pause the pipeline).
    if (this.stopping) await this.stopping;
    if (this.subscription) return;
    this.deps.events.on('sink.wake', this.onWake);
    this.deps.events.on('sink.resumed', this.onResumed);
    this.park?.start();
    this.park?.recover(this.deps.orgs.list().map((o) => o.orgId));
    this.subscription = await this.deps.transport.subscribe({
      groupId: this.groupId,
      topics: [this.deps.topics.salesforceWrites],
      fromBeginning: this.options.fromBeginning,
      maxBatchSize: this.options.maxBatchSize,
      // Writes are keyed by pair, so each pair's stay in order within its partition.
      partitionConcurrency: 16,
      handleBatch: (batch) => this.handleBatch(batch),
      onError: (err) => {
        const e = toSyncError(err);
        this.logger.warn('salesforce write batch not committed; it will come again', {
          code: e.code,
          reason: e.message,
        });
      },
    });
    await this.subscription.ready();
  }

  /**
   * Flushes what is queued, lets in-flight calls finish and commit, and leaves the group.
   * Batches held by a paused org are given up uncommitted (they come again after a restart).
   * Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.deps.events.off('sink.wake', this.onWake);
      this.deps.events.off('sink.resumed', this.onResumed);
      for (const w of this.writers.values()) w.beginStop();
      await this.subscription?.stop();
      await this.park?.stop();
      for (const w of this.writers.values()) w.close();
      this.writers.clear();
      this.subscription = null;
    })().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  /** @internal exposed for tests: one partition batch, resolved once its outcome is recorded. */
  async handleBatch(batch: RecordBatch): Promise<void> {
    this.inHand += batch.records.length;
    try {
      await this.handleRecords(batch);
    } finally {
      this.inHand -= batch.records.length;
    }
  }

  private async handleRecords(batch: RecordBatch): Promise<void> {
    const decoded = await Promise.all(batch.records.map((r) => this.decode(r)));
    const byOrg = new Map<string, WriteEnvelope[]>();
    for (const env of decoded) {
      if (!env) continue;
      const list = byOrg.get(env.write.orgId) ?? [];
      list.push(env);
      byOrg.set(env.write.orgId, list);
    }
    // A partition that held a flush's worth of records or more is behind: gather, don't trickle.
    const backlog =
      batch.records.length >= Math.min(this.options.flushSize, this.options.maxBatchSize);
    // It holds another flush's worth after this batch already: that comes only once this flush
    // is done, so waiting for more gains nothing.
    const saturated =
      batch.records.length >= this.options.maxBatchSize ||
      (batch.behind ?? 0) >= this.options.flushSize;
    await this.park?.prepare([...byOrg.keys()]);
    const outcomes = await Promise.allSettled(
      [...byOrg].map(([orgId, envs]) => {
        const run = envs.some((e) => Boolean(e.write.runId));
        const write = (): Promise<void> =>
          this.orgInHand.around(orgId, envs.length, () =>
            this.writer(orgId).submit(coalesceWrites(envs).flat(), {
              backlog,
              saturated,
              // A full sync's writes go by Bulk even when they arrive at the reconciler's pace.
              run,
            }),
          );
        if (!this.park) return write();
        const overflow = overflowOf({
          run,
          inHand: this.orgInHand.of(orgId),
          count: envs.length,
          share: this.options.orgShare,
          organizations: () => this.deps.orgs.list().length,
        });
        return this.park.submit(orgId, envs, write, overflow);
      }),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private writer(orgId: string): OrgWriter {
    let w = this.writers.get(orgId);
    if (!w) {
      w = new OrgWriter(this.deps, orgId, {
        ...this.options,
        recordsPerCall: this.options.flushSize * MAX_COLLECTIONS_PER_COMPOSITE,
        apiFor: this.apiFor,
        bulkFor: this.bulkFor,
        parkWhenHeld: this.park !== null,
        parkedCount: () => this.park?.countOf(orgId) ?? 0,
        waitingInTopic: async () => {
          const lag = await this.deps.transport.lag(this.groupId, [
            this.deps.topics.salesforceWrites,
          ]);
          return lag.reduce((sum, p) => sum + p.lag, 0) - this.inHand;
        },
      });
      this.writers.set(orgId, w);
    }
    return w;
  }

  /** The write in a record, or null when the record went to dead letters instead. */
  private async decode(record: ConsumedRecord): Promise<WriteEnvelope | null> {
    let write: SalesforceWrite;
    try {
      write = await this.deps.codec.decode('SalesforceWrite', record.value);
    } catch (err) {
      const e = toSyncError(err, 'SCHEMA_MISMATCH');
      if (e.retriable) throw e;
      await this.reject(record, keyOrg(record.key), e);
      return null;
    }
    const problem = writeProblem(write);
    if (problem) {
      await this.reject(
        record,
        write.orgId || null,
        new SyncError('INVALID_INPUT', problem),
        write,
      );
      return null;
    }
    if (!(await this.deps.orgs.resolve(write.orgId))) {
      await this.reject(
        record,
        write.orgId,
        new SyncError('NOT_FOUND', `organization ${write.orgId} is not served by this deployment`),
        write,
      );
      return null;
    }
    return { record, write };
  }

  /** Dead-letters a record; one that decoded also gets its failed outcome. */
  private async reject(
    record: ConsumedRecord,
    orgId: string | null,
    error: SyncError,
    write?: SalesforceWrite,
  ): Promise<void> {
    const letter = await sendToDeadLetters(this.deps, {
      orgId,
      original: record,
      recordType: 'SalesforceWrite',
      error,
      attempts: 1,
    });
    if (write && orgId) {
      const outcomes = new OutcomeBatch();
      outcomes.add(
        orgId,
        writeOutcome('salesforce', record, write, 'FAILED', this.deps.now(), failureOf(letter)),
      );
      await outcomes.produce(this.deps);
    }
    this.deps.events.emit('sink.failed', {
      sink: 'salesforce',
      orgId: orgId ?? 'unknown',
      count: 1,
      code: error.code,
    });
  }
}

function keyOrg(key: string): string | null {
  const slash = key.indexOf('/');
  return slash > 0 ? key.slice(0, slash) : null;
}
