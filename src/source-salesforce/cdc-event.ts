import { z } from 'zod';
import { SyncError } from '../errors';

/**
 * The Change Data Capture message as faye hands it to a subscriber over CometD:
 * `{schema, payload: {ChangeEventHeader, ...fields}, event: {replayId}}`. Only what the source
 * relies on is checked; unknown keys pass (Salesforce adds header fields over releases).
 */
export const changeTypes = [
  'CREATE',
  'UPDATE',
  'DELETE',
  'UNDELETE',
  'GAP_CREATE',
  'GAP_UPDATE',
  'GAP_DELETE',
  'GAP_UNDELETE',
  'GAP_OVERFLOW',
] as const;

export type CdcChangeType = (typeof changeTypes)[number];

/** 15- or 18-character record ids; checked so they can be put into SOQL as they are. */
const recordId = z.string().regex(/^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/, 'not a record id');

const headerSchema = z.looseObject({
  entityName: z.string(),
  recordIds: z.array(recordId),
  changeType: z.enum(changeTypes),
  changeOrigin: z.string().nullish(),
  transactionKey: z.string().nullish(),
  sequenceNumber: z.number().int().nullish(),
  commitTimestamp: z.number().int().nonnegative(),
  commitNumber: z.number().nullish(),
  commitUser: z.string().nullish(),
  changedFields: z.array(z.string()).nullish(),
  // Pub/Sub-only; over CometD they are usually absent. Bitmaps (strings) are tolerated and ignored.
  nulledFields: z.unknown().optional(),
  diffFields: z.unknown().optional(),
});

const messageSchema = z.looseObject({
  schema: z.string().optional(),
  payload: z.looseObject({ ChangeEventHeader: headerSchema }),
  event: z.looseObject({ replayId: z.number().int() }),
});

export type CdcHeader = z.infer<typeof headerSchema>;

export interface CdcEvent {
  replayId: number;
  header: CdcHeader;
  /** The payload without its header: Contact fields, compound ones still nested. */
  fields: Record<string, unknown>;
}

/** The replay id of anything that looks like a CDC message, or null; used before validation. */
export function replayIdOf(raw: unknown): number | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const event = (raw as { event?: unknown }).event;
  if (typeof event !== 'object' || event === null) return null;
  const id = (event as { replayId?: unknown }).replayId;
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : null;
}

/** The header's commitTimestamp of anything that looks like a CDC message, or null. */
export function commitTimestampOf(raw: unknown): number | null {
  const payload = (
    raw as { payload?: { ChangeEventHeader?: { commitTimestamp?: unknown } } } | null
  )?.payload;
  const ts = payload?.ChangeEventHeader?.commitTimestamp;
  return typeof ts === 'number' && Number.isFinite(ts) ? ts : null;
}

/**
 * Validates one CDC message. Throws SyncError INVALID_INPUT naming the problems when it is
 * not a Contact change event we can read; the caller dead-letters it and moves on.
 */
export function parseCdcEvent(raw: unknown): CdcEvent {
  const parsed = messageSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.join('.') || '(root)'}: ${i.message}`,
    );
    throw new SyncError('INVALID_INPUT', `malformed change event: ${problems.join('; ')}`, {
      context: { problems },
    });
  }
  const { payload, event } = parsed.data;
  const header = payload.ChangeEventHeader;
  if (header.entityName !== 'Contact') {
    throw new SyncError('INVALID_INPUT', `change event for ${header.entityName}, not Contact`, {
      context: { entityName: header.entityName },
    });
  }
  if (header.changeType !== 'GAP_OVERFLOW' && header.recordIds.length === 0) {
    throw new SyncError('INVALID_INPUT', `${header.changeType} change event without recordIds`);
  }
  const fields: Record<string, unknown> = { ...payload };
  delete fields.ChangeEventHeader;
  return { replayId: event.replayId, header, fields };
}
