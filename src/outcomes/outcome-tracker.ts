import { tallyIncrements } from '../core/outcomes';
import { statusChangeOf, type StatusChange } from '../core/record-status';
import type { RecordCodec, SyncOutcome } from '../core/records';
import type { TopicNames } from '../core/topics';
import type { RecordBatch, Subscription, Transport } from '../core/transport';
import { toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { RunStore, TallyEntry } from '../batch/run-store';
import type { RecordStatusStore } from './record-status-store';

export interface OutcomeTrackerDeps {
  transport: Transport;
  codec: RecordCodec;
  topics: TopicNames;
  logger: Logger;
  groupPrefix: string;
  runs: RunStore;
  statuses: RecordStatusStore;
}

/**
 * Reads the outcomes topic (group `<prefix>.outcomes`) into the shared stores: each run's tally
 * (counted once per outcome id, whichever process made the outcome) and each record's status
 * and history. The process holding a run reads its tally to know when the run has landed, so
 * counts are right however many processes share the work.
 *
 * An organization's outcomes sit on one partition in the order they were produced, and a batch
 * is applied in that order before its offsets commit: a tally never holds an effect without its
 * cause. A store outage fails the batch, which comes again (the tally ignores ids it has).
 */
export class OutcomeTracker {
  private subscription: Subscription | null = null;
  private readonly log: Logger;

  constructor(private readonly deps: OutcomeTrackerDeps) {
    this.log = deps.logger.child({ component: 'outcome-tracker' });
  }

  get groupId(): string {
    return `${this.deps.groupPrefix}.outcomes`;
  }

  async start(): Promise<void> {
    if (this.subscription) return;
    this.subscription = await this.deps.transport.subscribe({
      groupId: this.groupId,
      topics: [this.deps.topics.outcomes],
      fromBeginning: true,
      maxBatchSize: 200,
      handleBatch: (batch) => this.handleBatch(batch),
      onError: (err) =>
        this.log.warn('outcome batch not applied; it will come again', {
          code: toSyncError(err).code,
          reason: toSyncError(err).message,
        }),
    });
    await this.subscription.ready();
  }

  async stop(): Promise<void> {
    const sub = this.subscription;
    this.subscription = null;
    await sub?.stop();
  }

  /** @internal exposed for tests. */
  async handleBatch(batch: RecordBatch): Promise<void> {
    // Per organization, in order: status changes, and tally entries per run.
    const byOrg = new Map<string, { changes: StatusChange[]; runs: Map<string, TallyEntry[]> }>();
    for (const record of batch.records) {
      let outcome: SyncOutcome;
      try {
        outcome = await this.deps.codec.decode('SyncOutcome', record.value);
      } catch (err) {
        const e = toSyncError(err, 'SCHEMA_MISMATCH');
        if (e.retriable) throw e;
        this.log.error('undecodable outcome skipped', {
          partition: record.partition,
          offset: record.offset,
          reason: e.message,
        });
        continue;
      }
      let org = byOrg.get(outcome.orgId);
      if (!org) byOrg.set(outcome.orgId, (org = { changes: [], runs: new Map() }));
      for (const item of outcome.items) {
        const change = statusChangeOf(item);
        if (change) org.changes.push(change);
        if (item.runId === null) continue;
        let entries = org.runs.get(item.runId);
        if (!entries) org.runs.set(item.runId, (entries = []));
        entries.push({ id: item.id, increments: tallyIncrements(item) });
      }
    }
    for (const [orgId, { changes, runs }] of byOrg) {
      await this.deps.statuses.apply(orgId, changes);
      for (const [runId, entries] of runs) await this.deps.runs.addOutcomes(orgId, runId, entries);
    }
  }
}
