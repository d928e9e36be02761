import { ApiFault, RecordFault } from './api-fault';
import { KeyPrefix, isIdOf, to18 } from './ids';
import { isNumericType } from './schema';
import type { ContactSchema, FieldDef } from './schema';

/** Field values keyed by canonical API name, after deserialisation. */
export type FieldValues = Record<string, string | number | boolean | null>;

export type WriteMode = 'insert' | 'update';

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
// Close to what Salesforce accepts: local part, @, a dotted domain with a 2+ letter TLD.
const EMAIL_RE =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$/;

export function isValidDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** `No such column` text Salesforce uses for unknown fields in DML bodies. */
export function noSuchColumn(name: string): ApiFault {
  return new ApiFault(400, 'INVALID_FIELD', `No such column '${name}' on sobject of type Contact`);
}

function parserError(field: FieldDef, value: unknown): ApiFault {
  const kind =
    typeof value === 'string'
      ? 'VALUE_STRING'
      : typeof value === 'number'
        ? 'VALUE_NUMBER_INT'
        : typeof value === 'boolean'
          ? `VALUE_${String(value).toUpperCase()}`
          : 'START_OBJECT';
  const target = isNumericType(field.type)
    ? 'double'
    : field.type === 'date'
      ? 'date'
      : field.type === 'boolean'
        ? 'boolean'
        : 'string';
  return new ApiFault(
    400,
    'JSON_PARSER_ERROR',
    `Cannot deserialize instance of ${target} from ${kind} value ${JSON.stringify(value)} or request may be missing a required field`,
  );
}

/**
 * Turns one JSON value into the stored form of `field`, the way Salesforce's JSON
 * deserialiser does: numbers and booleans become text for text fields, "" becomes null.
 * Throws a top-level JSON_PARSER_ERROR (the whole request fails) on type mismatches.
 */
function coerceJson(field: FieldDef, value: unknown): string | number | boolean | null {
  // A checkbox holds true or false; null unchecks it.
  if (value === null) return field.type === 'boolean' ? false : null;
  switch (field.type) {
    case 'double':
    case 'currency':
    case 'percent':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        return Number(value);
      if (value === '') return null;
      throw parserError(field, value);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      throw parserError(field, value);
    case 'date':
      if (value === '') return null;
      if (typeof value === 'string' && isValidDate(value)) return value;
      throw parserError(field, value);
    default:
      if (typeof value === 'string') return value === '' ? null : value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw parserError(field, value);
  }
}

/**
 * Deserialises a JSON record body: resolves field names case-insensitively, drops
 * `attributes` (and `Id` when `keepId` is false), rejects unknown fields with INVALID_FIELD.
 * Failures here fail the whole request, as in Salesforce.
 */
export function deserializeRecord(
  body: unknown,
  schema: ContactSchema,
  keepId = false,
): FieldValues {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiFault(
      400,
      'JSON_PARSER_ERROR',
      'Cannot deserialize instance of Contact from a non-object value',
    );
  }
  const out: FieldValues = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'attributes') continue;
    const field = schema.field(key);
    if (!field) throw noSuchColumn(key);
    if (field.name === 'Id' && !keepId) continue;
    out[field.name] = coerceJson(field, value);
  }
  return out;
}

/**
 * Deserialises one Bulk CSV row. Empty cells leave the field alone and `#N/A` clears it, as in
 * Bulk API 2.0. Bad values are record-level failures (the rest of the job goes on).
 */
export function deserializeCsvRow(row: Record<string, string>, schema: ContactSchema): FieldValues {
  const out: FieldValues = {};
  for (const [key, raw] of Object.entries(row)) {
    const field = schema.field(key);
    if (!field)
      throw new RecordFault('INVALID_FIELD', `No such column '${key}' on sobject of type Contact`, [
        key,
      ]);
    if (raw === '') continue;
    if (raw === '#N/A') {
      out[field.name] = field.type === 'boolean' ? false : null;
      continue;
    }
    if (isNumericType(field.type)) {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) {
        throw new RecordFault(
          'INVALID_TYPE_ON_FIELD_IN_RECORD',
          `${field.label}: value not of required type: ${raw}`,
          [field.name],
        );
      }
      out[field.name] = n;
    } else if (field.type === 'boolean') {
      if (!/^(true|false)$/i.test(raw)) {
        throw new RecordFault(
          'INVALID_TYPE_ON_FIELD_IN_RECORD',
          `${field.label}: value not of required type: ${raw}`,
          [field.name],
        );
      }
      out[field.name] = raw.toLowerCase() === 'true';
    } else if (field.type === 'date') {
      if (!isValidDate(raw)) {
        throw new RecordFault(
          'INVALID_TYPE_ON_FIELD_IN_RECORD',
          `${field.label}: value not of required type: ${raw}`,
          [field.name],
        );
      }
      out[field.name] = raw;
    } else {
      out[field.name] = raw;
    }
  }
  return out;
}

function roundHalfUp(n: number, scale: number): number {
  const f = 10 ** scale;
  return Math.sign(n) * (Math.round(Math.abs(n) * f + Number.EPSILON) / f);
}

/**
 * Record-level checks, in Salesforce's order: field-level security (read-only fields), then
 * value checks per field, then required fields. Returns the values to apply (numbers rounded
 * to their scale, ids in 18-character form). `current` is the record being updated.
 */
export function validateChanges(
  values: FieldValues,
  mode: WriteMode,
  schema: ContactSchema,
  current: FieldValues | null,
): FieldValues {
  const readOnly = Object.keys(values).filter((name) => {
    const f = schema.field(name);
    return !f || (mode === 'insert' ? !f.createable : !f.updateable);
  });
  if (readOnly.length > 0) {
    throw new RecordFault(
      'INVALID_FIELD_FOR_INSERT_UPDATE',
      `Unable to create/update fields: ${readOnly.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
      readOnly,
    );
  }
  const out: FieldValues = {};
  for (const [name, value] of Object.entries(values)) {
    const f = schema.field(name);
    if (!f) continue;
    out[name] = checkValue(f, value);
  }
  const missing = schema
    .fields()
    .filter((f) => f.required)
    .filter((f) => {
      const v =
        f.name in out ? out[f.name] : mode === 'insert' ? null : (current?.[f.name] ?? null);
      return v === null || v === undefined;
    })
    .map((f) => f.name);
  if (missing.length > 0) {
    throw new RecordFault(
      'REQUIRED_FIELD_MISSING',
      `Required fields are missing: [${missing.join(', ')}]`,
      missing,
    );
  }
  return out;
}

function checkValue(
  f: FieldDef,
  value: string | number | boolean | null,
): string | number | boolean | null {
  if (value === null) return null;
  if (typeof value === 'string' && f.length > 0 && value.length > f.length) {
    const shown = value.length > 100 ? `${value.slice(0, 100)}...` : value;
    throw new RecordFault(
      'STRING_TOO_LONG',
      `${f.label}: data value too large: ${shown} (max length=${f.length})`,
      [f.name],
    );
  }
  switch (f.type) {
    case 'email':
      if (typeof value === 'string' && !EMAIL_RE.test(value)) {
        throw new RecordFault(
          'INVALID_EMAIL_ADDRESS',
          `${f.label}: invalid email address: ${value}`,
          [f.name],
        );
      }
      return value;
    case 'picklist':
      if (f.restrictedPicklist && !(f.picklistValues ?? []).includes(String(value))) {
        throw new RecordFault(
          'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
          `${f.label}: bad value for restricted picklist field: ${String(value)}`,
          [f.name],
        );
      }
      return value;
    case 'reference': {
      const prefix = f.referenceTo?.[0] === 'User' ? KeyPrefix.user : KeyPrefix.account;
      const id = typeof value === 'string' ? to18(value) : null;
      if (id === null || !isIdOf(prefix, id)) {
        throw new RecordFault(
          'MALFORMED_ID',
          `${f.label}: id value of incorrect type: ${String(value)}`,
          [f.name],
        );
      }
      return id;
    }
    case 'double':
    case 'currency':
    case 'percent': {
      const n = roundHalfUp(Number(value), f.scale ?? 0);
      const maxInt = 10 ** ((f.precision ?? 18) - (f.scale ?? 0));
      if (Math.abs(n) >= maxInt) {
        throw new RecordFault(
          'NUMBER_OUTSIDE_VALID_RANGE',
          `${f.label}: value outside of valid range on numeric field: ${String(value)}`,
          [f.name],
        );
      }
      return n;
    }
    default:
      return value;
  }
}
