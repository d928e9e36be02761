import { z } from 'zod';
import type { FieldValue } from './pair-state';

/**
 * Field mapping between InitLive staff and Salesforce Contact, and the normalisation that
 * makes values from the two systems comparable. Canonical field names are InitLive's, with the
 * address flattened; `initliveId` is InitLive's `id`.
 */
export const canonicalFields = [
  'initliveId',
  'firstName',
  'lastName',
  'email',
  'phone',
  'mobilePhone',
  'street',
  'city',
  'region',
  'postalCode',
  'country',
  'birthdate',
  'tags',
  'status',
  'hoursWorked',
] as const;

export type CanonicalField = (typeof canonicalFields)[number];
export type CanonicalValues = Partial<Record<CanonicalField, FieldValue>>;
export type MappingDirection = 'both' | 'to_salesforce' | 'to_initlive';

type Kind = 'text' | 'email' | 'date' | 'number' | 'tags' | 'status' | 'id';

interface FieldSpec {
  /** Path in an InitLive staff record (dots for nested objects). */
  initlivePath: string;
  /** Default Salesforce Contact field. */
  salesforceField: string;
  defaultDirection: MappingDirection;
  /** Directions a mapping may choose; read-only InitLive fields never flow back. */
  allowed: readonly MappingDirection[];
  kind: Kind;
  /** Salesforce's limit for the default field. */
  maxLength?: number;
  /** Salesforce refuses a write without it. */
  requiredInSalesforce?: boolean;
}

const any: readonly MappingDirection[] = ['both', 'to_salesforce', 'to_initlive'];
const toSalesforceOnly: readonly MappingDirection[] = ['to_salesforce'];

export const fieldSpecs: Record<CanonicalField, FieldSpec> = {
  initliveId: {
    initlivePath: 'id',
    salesforceField: 'InitLive_Staff_Id__c',
    defaultDirection: 'to_salesforce',
    allowed: toSalesforceOnly,
    kind: 'id',
    maxLength: 64,
  },
  firstName: {
    initlivePath: 'firstName',
    salesforceField: 'FirstName',
    defaultDirection: 'both',
    allowed: any,
    kind: 'text',
    maxLength: 40,
  },
  lastName: {
    initlivePath: 'lastName',
    salesforceField: 'LastName',
    defaultDirection: 'both',
    allowed: any,
    kind: 'text',
    maxLength: 80,
    requiredInSalesforce: true,
  },
  email: {
    initlivePath: 'email',
    salesforceField: 'Email',
    defaultDirection: 'both',
    allowed: any,
    kind: 'email',
    maxLength: 80,
  },
  phone: {
    initlivePath: 'phone',
    salesforceField: 'Phone',
    defaultDirection: 'both',
    allowed: any,
    kind: 'text',
    maxLength: 40,
  },
  mobilePhone: {
    initlivePath: 'mobilePhone',
    salesforceField: 'MobilePhone',
    defaultDirection: 'both',
    allowed: any,
    kind: 'text',
    maxLength: 40,
  },
  street: {
    initlivePath: 'address.street',
    salesforceField: 'MailingStreet',
    defaultDirection: 'both',
    allowed: any,
    kind: 'text',
    maxLength: 255,
  },
  city: {
    initlivePath: 'address.city',
    salesforceField: 'MailingCity',
    defaultDirection: 'both',
    allowed: any,
    kind: 'text',
    maxLength: 40,
  },
  region: {
    initlivePath: 'address.region',
    salesforceField: 'MailingState',
    defaultDirection: 'both',
    allowed: any,
    kind: 'text',
    maxLength: 80,
  },
  postalCode: {
    initlivePath: 'address.postalCode',
    salesforceField: 'MailingPostalCode',
    defaultDirection: 'both',
    allowed: any,
    kind: 'text',
    maxLength: 20,
  },
  country: {
    initlivePath: 'address.country',
    salesforceField: 'MailingCountry',
    defaultDirection: 'both',
    allowed: any,
    kind: 'text',
    maxLength: 80,
  },
  birthdate: {
    initlivePath: 'birthdate',
    salesforceField: 'Birthdate',
    defaultDirection: 'both',
    allowed: any,
    kind: 'date',
  },
  tags: {
    initlivePath: 'tags',
    salesforceField: 'InitLive_Tags__c',
    defaultDirection: 'both',
    allowed: any,
    kind: 'tags',
    maxLength: 32768,
  },
  status: {
    initlivePath: 'status',
    salesforceField: 'InitLive_Status__c',
    defaultDirection: 'both',
    allowed: any,
    kind: 'status',
  },
  hoursWorked: {
    initlivePath: 'hoursWorked',
    salesforceField: 'InitLive_Hours_Worked__c',
    defaultDirection: 'to_salesforce',
    allowed: toSalesforceOnly,
    kind: 'number',
  },
};

/** The fields our Salesforce package installs; INVALID_FIELD on one of them means no package. */
export const packageFields = [
  'InitLive_Staff_Id__c',
  'InitLive_Tags__c',
  'InitLive_Status__c',
  'InitLive_Hours_Worked__c',
];

export const fieldMappingEntrySchema = z
  .object({
    field: z.enum(canonicalFields),
    direction: z.enum(['both', 'to_salesforce', 'to_initlive', 'none']),
    salesforceField: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a Salesforce field API name')
      .max(80)
      .optional(),
  })
  .strict()
  .superRefine((entry, ctx) => {
    const spec = fieldSpecs[entry.field];
    if (entry.direction !== 'none' && !spec.allowed.includes(entry.direction)) {
      ctx.addIssue({
        code: 'custom',
        path: ['direction'],
        message: `${entry.field} can only flow ${spec.allowed.join(' or ')}`,
      });
    }
    if (entry.field === 'initliveId' && entry.direction === 'none') {
      ctx.addIssue({
        code: 'custom',
        path: ['direction'],
        message: 'initliveId is the external id and cannot be turned off',
      });
    }
  });

export const fieldMappingSchema = z.array(fieldMappingEntrySchema).superRefine((entries, ctx) => {
  const seen = new Set<string>();
  entries.forEach((e, i) => {
    if (seen.has(e.field))
      ctx.addIssue({ code: 'custom', path: [i, 'field'], message: `${e.field} is mapped twice` });
    seen.add(e.field);
  });
});

export type FieldMappingEntry = z.infer<typeof fieldMappingEntrySchema>;

export interface MappedField {
  field: CanonicalField;
  salesforceField: string;
  direction: MappingDirection;
}

/** The organization's mapping: the default table with its overrides applied ('none' drops a field). */
export type ResolvedMapping = readonly MappedField[];

export function resolveMapping(overrides: readonly FieldMappingEntry[] = []): ResolvedMapping {
  const byField = new Map(overrides.map((o) => [o.field, o]));
  const out: MappedField[] = [];
  for (const field of canonicalFields) {
    const spec = fieldSpecs[field];
    const o = byField.get(field);
    if (o?.direction === 'none') continue;
    out.push({
      field,
      salesforceField: o?.salesforceField ?? spec.salesforceField,
      direction: o?.direction ?? spec.defaultDirection,
    });
  }
  return out;
}

export const defaultMapping: ResolvedMapping = resolveMapping();

/** Can values of this field be written to `target`? */
export function flowsTo(m: MappedField, target: 'initlive' | 'salesforce'): boolean {
  return (
    m.direction === 'both' ||
    m.direction === (target === 'salesforce' ? 'to_salesforce' : 'to_initlive')
  );
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})/;

/** Text of a scalar; anything else (an object where a value belongs) as JSON, so it fails validation visibly. */
function scalarText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Brings a value from either system to its canonical form: trimmed text with empty meaning
 * null, tags as a de-duplicated list (Salesforce keeps them `;`-joined), birthdates as
 * `YYYY-MM-DD` cut from the text and never through a Date, so no time zone can shift a day.
 */
export function normalizeValue(field: CanonicalField, value: unknown): FieldValue {
  if (value === undefined || value === null) return null;
  const kind = fieldSpecs[field].kind;
  if (kind === 'tags') {
    const parts = Array.isArray(value) ? value.map(scalarText) : scalarText(value).split(';');
    const out: string[] = [];
    for (const p of parts.map((s) => s.trim())) if (p !== '' && !out.includes(p)) out.push(p);
    return out.length === 0 ? null : out;
  }
  if (kind === 'number') {
    const raw = scalarText(value).trim();
    const n = typeof value === 'number' ? value : Number(raw);
    return raw === '' || !Number.isFinite(n) ? null : Math.round(n * 100) / 100;
  }
  const text = scalarText(value).trim();
  if (text === '') return null;
  if (kind === 'date') {
    const m = DATE.exec(text);
    return m ? `${m[1]}-${m[2]}-${m[3]}` : text;
  }
  return text;
}

/** Equality as the systems mean it: emails ignore case, tags ignore order. */
export function sameValue(
  field: CanonicalField,
  a: FieldValue | undefined,
  b: FieldValue | undefined,
): boolean {
  const x = normalizeValue(field, a);
  const y = normalizeValue(field, b);
  if (x === null || y === null) return x === y;
  const kind = fieldSpecs[field].kind;
  if (kind === 'email') return String(x).toLowerCase() === String(y).toLowerCase();
  if (kind === 'tags') {
    const xs = [...(x as string[])].sort();
    const ys = [...(y as string[])].sort();
    return xs.length === ys.length && xs.every((v, i) => v === ys[i]);
  }
  return x === y;
}

function getPath(record: Record<string, unknown>, path: string): unknown {
  let cur: unknown = record;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Canonical values from an InitLive staff record (nested, as the API returns it) or from a
 * flattened one (`address.city` keys). Only fields present in the input appear in the output.
 */
export function fromInitLive(
  record: Record<string, unknown>,
  mapping: ResolvedMapping = defaultMapping,
): CanonicalValues {
  const out: CanonicalValues = {};
  for (const m of mapping) {
    const path = fieldSpecs[m.field].initlivePath;
    const v = path in record ? record[path] : getPath(record, path);
    if (v !== undefined) out[m.field] = normalizeValue(m.field, v);
  }
  return out;
}

/** Canonical values from Salesforce Contact fields (API names); absent fields stay absent. */
export function fromSalesforce(
  fields: Record<string, unknown>,
  mapping: ResolvedMapping = defaultMapping,
): CanonicalValues {
  const out: CanonicalValues = {};
  for (const m of mapping) {
    if (m.salesforceField in fields)
      out[m.field] = normalizeValue(m.field, fields[m.salesforceField]);
  }
  return out;
}

/** Salesforce API field -> value for a write; tags are `;`-joined, nulls clear the field. */
export function toSalesforce(
  values: CanonicalValues,
  mapping: ResolvedMapping = defaultMapping,
): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const m of mapping) {
    if (!(m.field in values)) continue;
    const v = normalizeValue(m.field, values[m.field]);
    out[m.salesforceField] = Array.isArray(v) ? v.join(';') : v;
  }
  return out;
}

/** InitLive staff patch (nested address) for a write; read-only fields are never included. */
export function toInitLive(
  values: CanonicalValues,
  mapping: ResolvedMapping = defaultMapping,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of mapping) {
    if (!(m.field in values) || !flowsTo(m, 'initlive')) continue;
    const path = fieldSpecs[m.field].initlivePath.split('.');
    let target = out;
    for (const part of path.slice(0, -1)) {
      target = (target[part] ??= {}) as Record<string, unknown>;
    }
    target[path[path.length - 1]!] = normalizeValue(m.field, values[m.field]);
  }
  return out;
}

export interface ValueProblem {
  field: string;
  /** Salesforce's own error code for the same problem, so dead letters read the same either way. */
  code:
    | 'REQUIRED_FIELD_MISSING'
    | 'STRING_TOO_LONG'
    | 'INVALID_EMAIL_ADDRESS'
    | 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST'
    | 'INVALID_DATE';
  message: string;
}

const EMAIL =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export function isValidEmail(email: string): boolean {
  return email.length <= 80 && EMAIL.test(email) && !email.includes('..');
}

function isRealDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return (
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    y >= 1700 &&
    y <= 4000
  );
}

/**
 * Checks canonical values against Salesforce's rules before a write, so a record that would
 * be refused fails here with a clear reason instead of costing an API call. `creating` adds
 * the required-field check.
 */
export function validateForSalesforce(
  values: CanonicalValues,
  mapping: ResolvedMapping = defaultMapping,
  creating = false,
): ValueProblem[] {
  const problems: ValueProblem[] = [];
  for (const m of mapping) {
    const spec = fieldSpecs[m.field];
    const present = m.field in values;
    const v = present ? normalizeValue(m.field, values[m.field]) : undefined;
    if (
      spec.requiredInSalesforce &&
      m.salesforceField === spec.salesforceField &&
      (creating ? v == null : present && v === null)
    ) {
      problems.push({
        field: m.salesforceField,
        code: 'REQUIRED_FIELD_MISSING',
        message: `Required fields are missing: [${m.salesforceField}]`,
      });
      continue;
    }
    if (v === undefined || v === null) continue;
    const text = Array.isArray(v) ? v.join(';') : String(v);
    if (
      spec.maxLength !== undefined &&
      m.salesforceField === spec.salesforceField &&
      text.length > spec.maxLength
    ) {
      problems.push({
        field: m.salesforceField,
        code: 'STRING_TOO_LONG',
        message: `${m.salesforceField}: data value too large: max length=${spec.maxLength}`,
      });
    }
    if (spec.kind === 'email' && !isValidEmail(text)) {
      problems.push({
        field: m.salesforceField,
        code: 'INVALID_EMAIL_ADDRESS',
        message: `${m.salesforceField}: invalid email address`,
      });
    }
    if (spec.kind === 'date' && !isRealDate(text)) {
      problems.push({
        field: m.salesforceField,
        code: 'INVALID_DATE',
        message: `${m.salesforceField}: not a valid date`,
      });
    }
    if (spec.kind === 'status' && !['active', 'archived', 'deleted'].includes(text)) {
      problems.push({
        field: m.salesforceField,
        code: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
        message: `${m.salesforceField}: bad value for restricted picklist field`,
      });
    }
  }
  return problems;
}
