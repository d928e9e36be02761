import { forEachLimit } from '../../concurrency';
import type { SalesforceContactChange } from '../../core/records';
import { recordKey } from '../../core/topics';
import { toSyncError } from '../../errors';
import type { SyncError } from '../../errors';
import type { Logger } from '../../logger';
import { sendToDeadLetters } from '../../pipeline/dead-letters';
import { produce } from '../../pipeline/deps';
import type { PipelineDeps } from '../../pipeline/deps';
import { recordLink } from '../../pipeline/links';
import { OutcomeBatch } from '../../pipeline/outcomes';
import { failureOf, writeOutcome } from '../write-outcomes';
import type { PairOp } from './plan';

/**
 * Store updates in flight while linking the Contacts one flush created: bounded (a Bulk job
 * creates thousands), yet many, so their round trips share socket writes (the Redis client
 * pipelines one tick's commands): 24,000 links took 3.7 s at 32 and 3.0 s at 256.
 */
const LINK_CONCURRENCY = 256;

/** An op as the writer tracks it: what it carries and how many calls carried it. */
export interface RecordedOp {
  op: PairOp;
  attempts: number;
}

/**
 * Records what became of one org's Contact writes: links learnt from creates, dead letters for
 * refusals, and an outcome for every write folded into an op (whoever counts a run's writes
 * counts the writes the reconciler decided, not the calls that carried them). Each method
 * resolves once all of that is acknowledged, and only then calls `done` for the op, which lets
 * the sink commit its offsets.
 */
export class ResultRecorder<E extends RecordedOp> {
  constructor(
    private readonly deps: PipelineDeps,
    private readonly orgId: string,
    private readonly logger: Logger,
    private readonly done: (entry: E) => void,
  ) {}

  /** Written (or, for deletes, already gone): the Contact's Id is linked when it was created or found by email. */
  async succeeded(items: Array<{ entry: E; id: string | null; created: boolean }>): Promise<void> {
    if (items.length === 0) return;
    await forEachLimit(
      items.filter(
        (s) =>
          s.id !== null &&
          s.entry.op.kind === 'save' &&
          (!s.entry.op.salesforceId || s.entry.op.matched === true),
      ),
      LINK_CONCURRENCY,
      async (s) => {
        try {
          await recordLink(this.deps, this.orgId, s.entry.op.pairId, 'salesforce', s.id!);
        } catch (err) {
          const e = toSyncError(err);
          if (e.code !== 'CONFLICT') throw e;
          this.logger.warn('contact already linked to another pair', {
            pairId: s.entry.op.pairId,
            salesforceId: s.id,
            ...e.context,
          });
        }
      },
    );
    const now = this.deps.now();
    const outcomes = new OutcomeBatch();
    for (const s of items) {
      const op = s.entry.op;
      const result = op.kind === 'delete' ? 'DELETED' : s.created ? 'CREATED' : 'UPDATED';
      for (const src of op.sources) {
        outcomes.add(
          this.orgId,
          writeOutcome('salesforce', src.record, src.write, result, now, {
            salesforceId: s.id ?? op.salesforceId,
            ...(s.created ? { linkedBy: 'created' } : op.matched ? { linkedBy: 'email' } : {}),
          }),
        );
      }
    }
    await outcomes.produce(this.deps);
    this.deps.events.emit('sink.records', {
      sink: 'salesforce',
      orgId: this.orgId,
      count: items.length,
      created: items.filter((s) => s.created).length,
    });
    for (const s of items) {
      for (const src of s.entry.op.sources) {
        this.deps.events.emit('sync.latency', {
          orgId: this.orgId,
          from: 'initlive',
          ms: Math.max(0, now - src.write.decidedAt),
        });
      }
      this.done(s.entry);
    }
  }

  /** Refused: every write folded into the op goes to dead letters with Salesforce's code. */
  async failed(entry: E, error: SyncError): Promise<void> {
    const upstream = error.context.upstreamCode;
    const letters = await Promise.all(
      entry.op.sources.map((src) =>
        sendToDeadLetters(this.deps, {
          orgId: this.orgId,
          original: src.record,
          recordType: 'SalesforceWrite',
          error,
          upstreamCode: typeof upstream === 'string' ? upstream : null,
          attempts: entry.attempts,
          context: { pairId: entry.op.pairId, operation: src.write.operation },
        }),
      ),
    );
    const outcomes = new OutcomeBatch();
    const now = this.deps.now();
    entry.op.sources.forEach((src, i) =>
      outcomes.add(
        this.orgId,
        writeOutcome('salesforce', src.record, src.write, 'FAILED', now, failureOf(letters[i]!)),
      ),
    );
    await outcomes.produce(this.deps);
    this.deps.events.emit('sink.failed', {
      sink: 'salesforce',
      orgId: this.orgId,
      count: entry.op.sources.length,
      code: error.code,
    });
    this.done(entry);
  }

  /**
   * Updates refused because the Contact was deleted meanwhile (ENTITY_IS_DELETED): nothing to
   * write any more, and nothing to dead-letter. The deletion is news the pair has not heard, so
   * it goes to the reconciler as a DELETE of the Contact, which applies the delete policy, as a
   * stale InitLive write leads to a re-read.
   */
  async gone(entries: E[]): Promise<void> {
    if (entries.length === 0) return;
    const now = this.deps.now();
    const outcomes = new OutcomeBatch();
    const deletes: Array<{ key: string; value: SalesforceContactChange }> = [];
    for (const entry of entries) {
      const { op } = entry;
      const runId = op.sources[0]?.write.runId ?? null;
      op.sources.forEach((src, i) =>
        outcomes.add(
          this.orgId,
          writeOutcome('salesforce', src.record, src.write, 'SUPERSEDED', now, {
            decisions: i === 0 ? 1 : 0,
          }),
        ),
      );
      deletes.push({
        key: recordKey(this.orgId, op.salesforceId!),
        value: contactDeleted(this.orgId, op, runId, now),
      });
      this.logger.info('contact deleted in Salesforce before our update; deletion sent on', {
        pairId: op.pairId,
        salesforceId: op.salesforceId,
      });
    }
    // The outcomes first: they announce the decisions the deletes will bring.
    await outcomes.produce(this.deps);
    await produce(this.deps, 'contactChanges', deletes);
    for (const entry of entries) this.done(entry);
  }
}

/** A Contact found deleted by a write: a DELETE at now, outside any stream position. */
function contactDeleted(
  orgId: string,
  op: PairOp,
  runId: string | null,
  now: number,
): SalesforceContactChange {
  return {
    orgId,
    salesforceId: op.salesforceId!,
    initliveId: op.externalId,
    operation: 'DELETE',
    changedFields: [],
    values: {},
    sourceVersion: now,
    sourcePosition: 'write_rejected',
    origin: null,
    commitUser: null,
    transactionKey: null,
    sequenceNumber: null,
    observedAt: now,
    occurredAt: now,
    runId,
  };
}
