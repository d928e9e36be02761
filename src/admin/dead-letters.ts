import type { DeadLetter, RecordCodec, RecordTypeName } from '../core/records';
import type { VersionStore } from '../core/version-store';
import { recordSchemaFiles } from '../core/records';
import type { TopicNames } from '../core/topics';
import type { Subscription, Transport } from '../core/transport';
import { SyncError, toSyncError } from '../errors';
import type { Logger } from '../logger';
import { RETRY_ATTEMPT_HEADER } from '../pipeline/dead-letters';
import type { DeadLetterQuery, DeadLetterStore, StoredDeadLetter } from './dead-letter-store';

/** Header a retried record carries: the dead letter it came from and the attempt it is. */
export const RETRY_HEADER_ID = 'x-dead-letter-id';
export const RETRY_HEADER_ATTEMPT = RETRY_ATTEMPT_HEADER;

export interface DeadLetterView {
  id: string;
  orgId: string | null;
  /** The original record decoded with its schema, or null when its bytes do not decode. */
  record: unknown;
  /** The original bytes, base64, when they could not be decoded. */
  recordBase64: string | null;
  recordType: string | null;
  /** Why it failed, in words. */
  reason: string;
  code: string;
  upstreamCode: string | null;
  attempts: number;
  /** How many times this record failed for this cause (one letter for all of them). */
  occurrences: number;
  /** When it last failed (ISO 8601). */
  time: string;
  /** The same, named as the occurrence count's companion. */
  lastSeenAt: string;
  firstFailedAt: string;
  sourceTopic: string;
  sourcePartition: number | null;
  sourceOffset: string | null;
  key: string | null;
  context: Record<string, string>;
  /** The volunteer it concerns (GET .../records?initliveId= or ?salesforceId= tells more). */
  initliveId: string | null;
  salesforceId: string | null;
}

export interface DeadLetterServiceDeps {
  store: DeadLetterStore;
  /** Pairs, to name both records of a letter that names one side or only its pair. */
  pairs?: Pick<VersionStore, 'getLinks'>;
  transport: Transport;
  codec: RecordCodec;
  topics: TopicNames;
  logger: Logger;
}

export interface BulkRetryResult {
  retried: string[];
  failed: Array<{ id: string; code: string; reason: string }>;
}

/** Bytes, bigints and dates made JSON-safe, so any decoded record can be answered. */
function jsonSafe(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  }
  return value;
}

/**
 * The admin side of dead letters: list them with their original record, send one (or many)
 * back to the topic it came from, or dismiss it.
 */
export class DeadLetterService {
  constructor(private readonly deps: DeadLetterServiceDeps) {}

  async list(
    orgId: string,
    query: DeadLetterQuery = {},
  ): Promise<{ items: DeadLetterView[]; total: number; nextOffset: number | null }> {
    const page = await this.deps.store.list(orgId, query);
    return { ...page, items: await Promise.all(page.items.map((l) => this.view(l))) };
  }

  async view(letter: StoredDeadLetter): Promise<DeadLetterView> {
    let record: unknown = null;
    let recordBase64: string | null = letter.originalValue.toString('base64');
    if (letter.recordType !== null && letter.recordType in recordSchemaFiles) {
      try {
        record = jsonSafe(
          await this.deps.codec.decode(letter.recordType as RecordTypeName, letter.originalValue),
        );
        recordBase64 = null;
      } catch {
        // Undecodable bytes are often why it is here; they are shown raw instead.
      }
    }
    const ids = await this.recordIdsOf(letter, record);
    return {
      id: letter.id,
      orgId: letter.orgId,
      record,
      recordBase64,
      recordType: letter.recordType,
      reason: letter.message,
      code: letter.errorCode,
      upstreamCode: letter.upstreamCode,
      attempts: letter.attempts,
      occurrences: letter.occurrences,
      time: new Date(letter.lastFailedAt).toISOString(),
      lastSeenAt: new Date(letter.lastFailedAt).toISOString(),
      firstFailedAt: new Date(letter.firstFailedAt).toISOString(),
      sourceTopic: letter.sourceTopic,
      sourcePartition: letter.sourcePartition,
      sourceOffset: letter.sourceOffset,
      key: letter.originalKey,
      context: letter.context,
      ...ids,
    };
  }

  /** The records a letter concerns: from its decoded record, then from its pair's links. */
  private async recordIdsOf(
    letter: DeadLetter,
    record: unknown,
  ): Promise<{ initliveId: string | null; salesforceId: string | null }> {
    const r = (record ?? {}) as Record<string, unknown>;
    const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
    let initliveId =
      str(r.initliveId) ?? (letter.recordType === 'SalesforceWrite' ? str(r.externalId) : null);
    let salesforceId = str(r.salesforceId);
    const pairId = str(r.pairId) ?? str(letter.context.pairId);
    if ((!initliveId || !salesforceId) && pairId && letter.orgId && this.deps.pairs) {
      const [links] = await this.deps.pairs.getLinks(letter.orgId, [pairId]).catch(() => [null]);
      initliveId ??= links?.initliveId ?? null;
      salesforceId ??= links?.salesforceId ?? null;
    }
    return { initliveId, salesforceId };
  }

  /**
   * Produces the original bytes (same key) to the letter's source topic, then forgets the
   * letter. The record carries `x-dead-letter-attempt` = attempts + 1. Should it fail again, a
   * new letter arrives. Rejects NOT_FOUND for an unknown id and CONFLICT for a letter that has
   * no topic or bytes to go back to.
   */
  async retry(orgId: string, id: string): Promise<{ id: string; topic: string; attempt: number }> {
    const letter = await this.deps.store.get(orgId, id);
    if (!letter) throw new SyncError('NOT_FOUND', `no dead letter ${id} for organization ${orgId}`);
    const topics = new Set(
      Object.entries(this.deps.topics)
        .filter(([role]) => role !== 'deadLetters')
        .map(([, t]) => t),
    );
    if (!topics.has(letter.sourceTopic) || letter.originalValue.length === 0) {
      throw new SyncError(
        'CONFLICT',
        `dead letter ${id} cannot be retried: it has no pipeline topic and record to go back to`,
        {
          context: { sourceTopic: letter.sourceTopic },
        },
      );
    }
    const attempt = letter.attempts + 1;
    await this.deps.transport.send(letter.sourceTopic, [
      {
        key: letter.originalKey ?? `${orgId}/${id}`,
        value: letter.originalValue,
        headers: { [RETRY_HEADER_ID]: id, [RETRY_HEADER_ATTEMPT]: String(attempt) },
      },
    ]);
    await this.deps.store.remove(orgId, id);
    this.deps.logger.info('dead letter retried', { orgId, id, topic: letter.sourceTopic, attempt });
    return { id, topic: letter.sourceTopic, attempt };
  }

  /** Retries every letter of the organization (optionally of one code); one failure does not stop the rest. */
  async retryAll(orgId: string, options: { code?: string } = {}): Promise<BulkRetryResult> {
    const ids: string[] = [];
    for (let offset: number | null = 0; offset !== null;) {
      const page = await this.deps.store.list(orgId, {
        offset,
        limit: 500,
        ...(options.code ? { code: options.code } : {}),
      });
      ids.push(...page.items.map((l) => l.id));
      offset = page.nextOffset;
    }
    const out: BulkRetryResult = { retried: [], failed: [] };
    for (const id of ids) {
      try {
        await this.retry(orgId, id);
        out.retried.push(id);
      } catch (err) {
        const e = toSyncError(err);
        if (e.retriable) throw e;
        out.failed.push({ id, code: e.code, reason: e.message });
      }
    }
    return out;
  }

  async dismiss(orgId: string, id: string): Promise<void> {
    if (!(await this.deps.store.remove(orgId, id))) {
      throw new SyncError('NOT_FOUND', `no dead letter ${id} for organization ${orgId}`);
    }
    this.deps.logger.info('dead letter dismissed', { orgId, id });
  }
}

export interface DeadLetterCollectorDeps {
  transport: Transport;
  codec: RecordCodec;
  topics: TopicNames;
  logger: Logger;
  groupPrefix: string;
  store: DeadLetterStore;
}

/**
 * Reads the dead-letter topic into the DeadLetterStore (group `<prefix>.dead-letters`), so the
 * admin API can list them. Offsets commit after the store has them; a store outage makes the
 * batch come again. A letter that does not decode is logged and skipped: it cannot be shown.
 */
export class DeadLetterCollector {
  private subscription: Subscription | null = null;

  constructor(private readonly deps: DeadLetterCollectorDeps) {}

  get groupId(): string {
    return `${this.deps.groupPrefix}.dead-letters`;
  }

  async start(): Promise<void> {
    if (this.subscription) return;
    this.subscription = await this.deps.transport.subscribe({
      groupId: this.groupId,
      topics: [this.deps.topics.deadLetters],
      fromBeginning: true,
      handleBatch: async (batch) => {
        for (const record of batch.records) {
          let letter: DeadLetter;
          try {
            letter = await this.deps.codec.decode('DeadLetter', record.value);
          } catch (err) {
            const e = toSyncError(err, 'SCHEMA_MISMATCH');
            if (e.retriable) throw e;
            this.deps.logger.error('undecodable dead letter skipped', {
              topic: record.topic,
              partition: record.partition,
              offset: record.offset,
              err: e,
            });
            continue;
          }
          await this.deps.store.add(letter);
        }
      },
      onError: (err) =>
        this.deps.logger.warn('dead-letter collector batch failed', { err: toSyncError(err) }),
    });
    await this.subscription.ready();
  }

  async stop(): Promise<void> {
    const sub = this.subscription;
    this.subscription = null;
    await sub?.stop();
  }
}
