/**
 * Turns the data side's Contact writes into the Change Data Capture payloads Salesforce
 * publishes over CometD (the `data.payload` of a `/data/ContactChangeEvent` message). Pure: no
 * I/O, no clock; commit numbers are handed in so that events of one transaction share one.
 */
import { createHash } from 'node:crypto';

import type { ContactRecord, ContactWriteEvent } from '../model';

export type ChangeType =
  | 'CREATE'
  | 'UPDATE'
  | 'DELETE'
  | 'UNDELETE'
  | 'GAP_CREATE'
  | 'GAP_UPDATE'
  | 'GAP_DELETE'
  | 'GAP_UNDELETE'
  | 'GAP_OVERFLOW';

export interface ChangeEventHeader {
  entityName: string;
  recordIds: string[];
  changeType: ChangeType;
  changeOrigin: string;
  transactionKey: string;
  sequenceNumber: number;
  commitTimestamp: number;
  commitNumber: number;
  commitUser: string;
  changedFields: string[];
}

/** A body value: a scalar, or the sub-fields of a compound field (Name, MailingAddress). */
export type ChangeEventValue = string | number | boolean | null | Record<string, FieldValue>;
type FieldValue = string | number | boolean | null;

export type ChangeEventPayload = { ChangeEventHeader: ChangeEventHeader } & {
  [field: string]: ChangeEventValue | ChangeEventHeader;
};

/** What CometD subscribers receive as `data` (minus `event`, which carries the replay id). */
export interface ChangeEventBody {
  schema: string;
  payload: ChangeEventPayload;
}

export const ENTITY_NAME = 'Contact';

/**
 * Salesforce names the event schema by an opaque hash that stays put while the entity's fields
 * do; one org here has one Contact shape, so one stable id stands for it.
 */
export const CONTACT_SCHEMA_ID = createHash('sha256')
  .update('sandbox:Contact:ChangeEvent:v1')
  .digest('base64url')
  .slice(0, 22);

/**
 * Fields that never appear in a change event body: the record id travels in `recordIds`,
 * IsDeleted and SystemModstamp are excluded by Salesforce, the flat `Name` / `*Address` values a
 * store may keep are derived from the sub-fields sent nested instead, and view-tracking fields
 * do not cause or carry changes.
 */
const OMITTED_FIELDS = new Set([
  'Id',
  'IsDeleted',
  'SystemModstamp',
  'Name',
  'MailingAddress',
  'OtherAddress',
  'LastViewedDate',
  'LastReferencedDate',
  'PhotoUrl',
  'attributes',
]);

const NAME_PARTS = new Set(['Salutation', 'FirstName', 'MiddleName', 'LastName', 'Suffix']);
const ADDRESS_PREFIXES = ['Mailing', 'Other'] as const;
const ADDRESS_PARTS = new Set([
  'Street',
  'City',
  'State',
  'PostalCode',
  'Country',
  'StateCode',
  'CountryCode',
  'Latitude',
  'Longitude',
  'GeocodeAccuracy',
]);

/** Where a flat API field sits in the event body: top level, or inside a compound field. */
export function eventPathOf(field: string): { compound: string; part: string } | null {
  if (NAME_PARTS.has(field)) return { compound: 'Name', part: field };
  for (const prefix of ADDRESS_PREFIXES) {
    if (field.startsWith(prefix)) {
      const part = field.slice(prefix.length);
      if (ADDRESS_PARTS.has(part)) return { compound: `${prefix}Address`, part };
    }
  }
  return null;
}

/** The name `changedFields` uses: `Name.FirstName`, `MailingAddress.City`, or the field itself. */
export function changedFieldName(field: string): string {
  const path = eventPathOf(field);
  return path ? `${path.compound}.${path.part}` : field;
}

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})$/;

/**
 * CDC sends datetimes in UTC with a `Z` (`…000Z`) where REST sends `…000+0000`; date-only values
 * (Birthdate) pass through unchanged.
 */
export function toEventValue(value: FieldValue | undefined): FieldValue {
  if (value === undefined) return null;
  if (typeof value === 'string' && DATETIME.test(value)) {
    // Date cannot parse the colon-less offset REST uses (+0000), so add the colon first.
    const parsed = new Date(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    if (!Number.isNaN(parsed.getTime())) return parsed.toISOString();
  }
  return value;
}

function isEmpty(value: FieldValue | undefined): boolean {
  return value === null || value === undefined || value === '';
}

function setField(
  body: Record<string, ChangeEventValue>,
  field: string,
  value: FieldValue | undefined,
): void {
  const path = eventPathOf(field);
  if (!path) {
    body[field] = toEventValue(value);
    return;
  }
  const existing = body[path.compound];
  const compound =
    existing !== null && typeof existing === 'object'
      ? existing
      : ({} as Record<string, FieldValue>);
  compound[path.part] = toEventValue(value);
  body[path.compound] = compound;
}

/** Every non-empty field of a record, compound sub-fields nested: the CREATE / UNDELETE body. */
function fullBody(record: ContactRecord | null): Record<string, ChangeEventValue> {
  const body: Record<string, ChangeEventValue> = {};
  if (!record) return body;
  for (const [field, value] of Object.entries(record)) {
    if (OMITTED_FIELDS.has(field) || isEmpty(value)) continue;
    setField(body, field, value);
  }
  return body;
}

/**
 * Only the changed fields (explicit nulls kept) plus LastModifiedDate, which every update
 * carries; LastModifiedById appears only when the data side lists it as changed.
 */
function updateBody(event: ContactWriteEvent): {
  body: Record<string, ChangeEventValue>;
  changedFields: string[];
} {
  const body: Record<string, ChangeEventValue> = {};
  const changed: string[] = [];
  const fields = [...event.changedFields];
  if (!fields.includes('LastModifiedDate') && event.after?.LastModifiedDate != null) {
    fields.push('LastModifiedDate');
  }
  for (const field of fields) {
    if (OMITTED_FIELDS.has(field)) continue;
    const name = changedFieldName(field);
    if (changed.includes(name)) continue;
    changed.push(name);
    setField(body, field, event.after?.[field] ?? null);
  }
  return { body, changedFields: changed };
}

/**
 * `com/salesforce/api/<api>/<version>[;client=<client>]` for API calls; empty for changes made
 * in the UI, which Salesforce does not attribute to an API.
 */
export function changeOriginOf(
  event: Pick<ContactWriteEvent, 'api' | 'apiVersion' | 'client'>,
): string {
  if (event.api === 'ui') return '';
  const origin = `com/salesforce/api/${event.api}/${event.apiVersion}`;
  return event.client === null ? origin : `${origin};client=${event.client}`;
}

/**
 * Builds the CDC payload for one committed write, following the CometD body rules: CREATE and
 * UNDELETE carry every non-empty field, UPDATE only what changed (plus LastModifiedDate), DELETE
 * the header alone. `changedFields` is filled for UPDATE only, as Salesforce does.
 */
export function buildChangeEvent(event: ContactWriteEvent, commitNumber: number): ChangeEventBody {
  let body: Record<string, ChangeEventValue> = {};
  let changedFields: string[] = [];
  switch (event.changeType) {
    case 'CREATE':
    case 'UNDELETE':
      body = fullBody(event.after);
      break;
    case 'UPDATE':
      ({ body, changedFields } = updateBody(event));
      break;
    case 'DELETE':
      break;
  }
  const header: ChangeEventHeader = {
    entityName: ENTITY_NAME,
    recordIds: [event.recordId],
    changeType: event.changeType,
    changeOrigin: changeOriginOf(event),
    transactionKey: event.transactionKey,
    sequenceNumber: event.sequenceNumber,
    commitTimestamp: event.commitTimestamp,
    commitNumber,
    commitUser: event.userId,
    changedFields,
  };
  return { schema: CONTACT_SCHEMA_ID, payload: { ChangeEventHeader: header, ...body } };
}

export interface HeaderOnlyEventInput {
  changeType: Extract<ChangeType, `GAP_${string}`>;
  recordIds: string[];
  transactionKey: string;
  commitTimestamp: number;
  commitNumber: number;
  commitUser: string;
}

/**
 * Gap and overflow events: the header only, no origin (they do not come from an API call),
 * sequence number 1, no changed fields. Overflow events carry no record ids.
 */
export function buildHeaderOnlyEvent(input: HeaderOnlyEventInput): ChangeEventBody {
  const header: ChangeEventHeader = {
    entityName: ENTITY_NAME,
    recordIds: input.changeType === 'GAP_OVERFLOW' ? [] : [...input.recordIds],
    changeType: input.changeType,
    changeOrigin: '',
    transactionKey: input.transactionKey,
    sequenceNumber: 1,
    commitTimestamp: input.commitTimestamp,
    commitNumber: input.commitNumber,
    commitUser: input.commitUser,
    changedFields: [],
  };
  return { schema: CONTACT_SCHEMA_ID, payload: { ChangeEventHeader: header } };
}
