import { createHash } from 'node:crypto';
import type { ConsumedRecord } from '../core/transport';
import type { DeadLetter } from '../core/records';
import { toSyncError } from '../errors';
import { scrubValues } from '../logger';
import { recordKey } from '../core/topics';
import { produce, type PipelineDeps } from './deps';

/**
 * Header a dead-letter retry puts on the record it sends back: the attempt it is. A record that
 * fails again carries it into its new letter, so the count goes on rather than back to 1.
 */
export const RETRY_ATTEMPT_HEADER = 'x-dead-letter-attempt';

/** The attempt a consumed record is on: its retry header, or `attempts` when it has none. */
function attemptOf(original: ConsumedRecord | null, attempts: number): number {
  const header = Number(original?.headers[RETRY_ATTEMPT_HEADER]);
  return Number.isSafeInteger(header) && header > attempts ? header : attempts;
}

export interface DeadLetterInput {
  orgId: string | null;
  /** The record as consumed (kept whole, bytes and all), or null for a record we built. */
  original: ConsumedRecord | null;
  /** Bytes to keep when there is no consumed record (e.g. an encoded write command). */
  originalValue?: Buffer;
  originalKey?: string | null;
  sourceTopic?: string;
  recordType: string | null;
  error: unknown;
  /** The other system's own code, e.g. Salesforce statusCode. */
  upstreamCode?: string | null;
  attempts: number;
  context?: Record<string, string>;
}

/**
 * A letter's id names the record and the cause: the same record failing the same way again (the
 * next streaming attempt, every full sync) is the same letter, whose occurrences the store counts,
 * not a new one. The record is its key in its topic (`org/<record id>` for changes, `org/<pair
 * id>` for writes), or its place or bytes when it has no key.
 */
function letterId(
  orgId: string | null,
  sourceTopic: string,
  record: string,
  errorCode: string,
  upstreamCode: string | null,
): string {
  const digest = createHash('sha256')
    .update([orgId ?? '', sourceTopic, record, errorCode, upstreamCode ?? ''].join('\u0000'))
    .digest('hex');
  return `dl_${digest.slice(0, 24)}`;
}

/**
 * Sends one record that cannot be processed to the dead-letter topic, with its reason, and
 * reports it. The caller then carries on with the rest: one bad record never stops the flow.
 * The reason keeps ids, field names and codes; values the other system quoted are taken out.
 */
export async function sendToDeadLetters(
  deps: PipelineDeps,
  input: DeadLetterInput,
): Promise<DeadLetter> {
  const err = toSyncError(input.error);
  const now = deps.now();
  const sourceTopic = input.original?.topic ?? input.sourceTopic ?? 'unknown';
  const originalKey = input.original?.key ?? input.originalKey ?? null;
  const originalValue = input.original?.value ?? input.originalValue ?? Buffer.alloc(0);
  const upstreamCode =
    input.upstreamCode ??
    (typeof err.context.upstreamCode === 'string' ? err.context.upstreamCode : null);
  const record =
    originalKey ??
    (input.context?.replayId !== undefined
      ? `replay:${input.context.replayId}`
      : createHash('sha256').update(originalValue).digest('hex'));
  const letter: DeadLetter = {
    id: letterId(input.orgId, sourceTopic, record, err.code, upstreamCode),
    orgId: input.orgId,
    sourceTopic,
    sourcePartition: input.original?.partition ?? null,
    sourceOffset: input.original?.offset ?? null,
    originalKey,
    originalValue,
    recordType: input.recordType,
    errorCode: err.code,
    upstreamCode,
    message: scrubValues(err.message),
    attempts: attemptOf(input.original, input.attempts),
    firstFailedAt: now,
    lastFailedAt: now,
    context: { ...stringContext(err.context), ...(input.context ?? {}) },
  };
  await produce(deps, 'deadLetters', [
    { key: recordKey(input.orgId ?? 'unknown', letter.id), value: letter },
  ]);
  deps.events.emit('dead-letter', {
    orgId: input.orgId,
    code: err.code,
    topic: letter.sourceTopic,
  });
  deps.logger.warn('record sent to dead letters', {
    orgId: input.orgId,
    code: err.code,
    upstreamCode: letter.upstreamCode,
    reason: letter.message,
    topic: letter.sourceTopic,
    id: letter.id,
  });
  return letter;
}

function stringContext(context: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(context)) {
    if (v === undefined) continue;
    out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}
