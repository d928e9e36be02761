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

/**
 * An answer to one of the organization's InitLive form questions (`customAnswers.tshirt_size`),
 * mapped by the admin to a Contact field of their choosing. Merged, versioned and echo-checked
 * like the canonical fields.
 */
export type CustomAnswerField = `customAnswers.${string}`;
/** Any field a mapping can name. */
export type MappedFieldName = CanonicalField | CustomAnswerField;
export type CanonicalValues = Partial<Record<CanonicalField, FieldValue>> & {
  [answer: CustomAnswerField]: FieldValue;
};
export type MappingDirection = 'both' | 'to_salesforce' | 'to_initlive';

/** How a form answer is read and written: its canonical form on both sides. */
export const answerTypes = ['text', 'number', 'date', 'boolean', 'picklist'] as const;
export type AnswerType = (typeof answerTypes)[number];

export const CUSTOM_ANSWER_PREFIX = 'customAnswers.';
/** A form question's key, as InitLive names answers in `customAnswers`. */
const ANSWER_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

export function isCustomAnswerField(field: string): field is CustomAnswerField {
  return field.startsWith(CUSTOM_ANSWER_PREFIX);
}

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

const salesforceFieldName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a Salesforce field API name')
  .max(80);

export const fieldMappingEntrySchema = z
  .object({
    field: z.union([
      z.enum(canonicalFields),
      z
        .string()
        .refine(
          (f) => isCustomAnswerField(f) && ANSWER_KEY.test(f.slice(CUSTOM_ANSWER_PREFIX.length)),
          `must be one of ${canonicalFields.join(', ')}, or customAnswers.<question key> (a letter, then up to 63 letters, digits or underscores)`,
        )
        .transform((f) => f as CustomAnswerField),
    ]),
    direction: z.enum(['both', 'to_salesforce', 'to_initlive', 'none']),
    salesforceField: salesforceFieldName.optional(),
    /**
     * Form answers only: how the answer is read and written. Filled at save from the Salesforce
     * field's type when not given (text fields: text, numbers: number, ...).
     */
    type: z.enum(answerTypes).optional(),
    /** Number answers only: the Salesforce field's decimal places (filled at save). */
    scale: z.number().int().min(0).max(18).optional(),
  })
  .strict()
  .superRefine((entry, ctx) => {
    if (isCustomAnswerField(entry.field)) {
      if (entry.direction === 'none') {
        ctx.addIssue({
          code: 'custom',
          path: ['direction'],
          message:
            'a form answer is mapped both, to_salesforce or to_initlive; remove the entry to stop syncing it',
        });
      }
      if (entry.salesforceField === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['salesforceField'],
          message: 'is required for a form answer (the Contact field that holds it)',
        });
      }
      if (entry.scale !== undefined && entry.type !== undefined && entry.type !== 'number') {
        ctx.addIssue({
          code: 'custom',
          path: ['scale'],
          message: 'applies to number answers only',
        });
      }
      return;
    }
    for (const key of ['type', 'scale'] as const) {
      if (entry[key] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'applies to form answers only' });
      }
    }
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
  // Two fields writing one Contact field would overwrite each other on every change.
  const bySalesforceField = new Map<string, string>();
  for (const m of resolveMapping(entries)) {
    const key = m.salesforceField.toLowerCase();
    const other = bySalesforceField.get(key);
    if (other !== undefined) {
      const i = entries.findIndex((e) => e.field === m.field);
      const j = i >= 0 ? i : entries.findIndex((e) => e.field === other);
      ctx.addIssue({
        code: 'custom',
        path: j >= 0 ? [j, 'salesforceField'] : [],
        message: `${m.salesforceField} is already mapped from ${i >= 0 ? other : m.field}`,
      });
    } else bySalesforceField.set(key, m.field);
  }
});

export type FieldMappingEntry = z.infer<typeof fieldMappingEntrySchema>;

export interface MappedField {
  field: MappedFieldName;
  salesforceField: string;
  direction: MappingDirection;
  /** Form answers only: the answer's key in customAnswers and how it is converted. */
  answer?: { key: string; type: AnswerType; scale?: number };
}

/** The organization's mapping: the default table with its overrides applied ('none' drops a field). */
export type ResolvedMapping = readonly MappedField[];

/**
 * The default table with the overrides applied ('none' drops a field), then the form answers in
 * the order given. `held` names Salesforce fields left out for now (a field that disappeared
 * from the org or changed type): nothing reads or writes them until they are back.
 */
export function resolveMapping(
  overrides: ReadonlyArray<Omit<FieldMappingEntry, 'field'> & { field: string }> = [],
  held: ReadonlySet<string> = new Set(),
): ResolvedMapping {
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
  for (const o of overrides) {
    if (!isCustomAnswerField(o.field) || o.direction === 'none' || !o.salesforceField) continue;
    out.push({
      field: o.field,
      salesforceField: o.salesforceField,
      direction: o.direction,
      answer: {
        key: o.field.slice(CUSTOM_ANSWER_PREFIX.length),
        type: o.type ?? 'text',
        ...(o.scale === undefined ? {} : { scale: o.scale }),
      },
    });
  }
  return held.size === 0
    ? out
    : out.filter((m) => m.field === 'initliveId' || !held.has(m.salesforceField.toLowerCase()));
}

export const defaultMapping: ResolvedMapping = resolveMapping();

/** Where a mapped field sits in an InitLive staff record (dots for nested objects). */
export function initlivePathOf(m: MappedField): string {
  return m.answer ? m.field : fieldSpecs[m.field as CanonicalField].initlivePath;
}

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
export function normalizeValue(field: MappedFieldName, value: unknown): FieldValue {
  if (value === undefined || value === null) return null;
  // Form answers (no spec) reach the merge already in their type's canonical form (see
  // answerToCanonical); the spec lookup is the one built-in fields always needed.
  const spec = fieldSpecs[field as CanonicalField] as FieldSpec | undefined;
  if (spec === undefined) return normalizeAnswer(value);
  const kind = spec.kind;
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
  field: MappedFieldName,
  a: FieldValue | undefined,
  b: FieldValue | undefined,
): boolean {
  const x = normalizeValue(field, a);
  const y = normalizeValue(field, b);
  if (x === null || y === null) return x === y;
  const spec = fieldSpecs[field as CanonicalField] as FieldSpec | undefined;
  if (spec === undefined) return x === y;
  const kind = spec.kind;
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
    if (m.answer) {
      const v = answerOf(record, m.field, m.answer.key);
      if (v !== undefined) out[m.field] = answerToCanonical(m.answer, v);
      continue;
    }
    const path = fieldSpecs[m.field as CanonicalField].initlivePath;
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
    if (!(m.salesforceField in fields)) continue;
    const v = fields[m.salesforceField];
    out[m.field] = m.answer ? answerToCanonical(m.answer, v) : normalizeValue(m.field, v);
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
    const v = m.answer
      ? answerToCanonical(m.answer, values[m.field])
      : normalizeValue(m.field, values[m.field]);
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
    if (m.answer) {
      const answers = (out.customAnswers ??= {}) as Record<string, FieldValue>;
      answers[m.answer.key] = answerToCanonical(m.answer, values[m.field]);
      continue;
    }
    const path = fieldSpecs[m.field as CanonicalField].initlivePath.split('.');
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
    if (m.answer) {
      const problem = answerProblem(m, values[m.field]);
      if (problem) problems.push(problem);
      continue;
    }
    const spec = fieldSpecs[m.field as CanonicalField];
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

/** A form answer's value in the merge: trimmed text ('' is none), numbers and flags as they are. */
function normalizeAnswer(value: unknown): FieldValue {
  if (typeof value === 'string') {
    const t = value.trim();
    return t === '' ? null : t;
  }
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'boolean') return value;
  return scalarText(value);
}

/**
 * The answer `key` of an InitLive record: under `customAnswers` (nested, as the API returns
 * staff: a question without an answer is null) or a flattened `customAnswers.<key>` entry.
 * Undefined when the record says nothing about answers (a partial record).
 */
function answerOf(record: Record<string, unknown>, field: string, key: string): unknown {
  if (field in record) return record[field];
  const answers = record.customAnswers;
  if (answers === null || typeof answers !== 'object' || Array.isArray(answers)) return undefined;
  return (answers as Record<string, unknown>)[key] ?? null;
}

const TRUE_TEXT = new Set(['true', 'yes', '1']);

/**
 * A form answer in its type's canonical form, whichever side it comes from: text (and picklist
 * values) as trimmed text, numbers rounded to the Salesforce field's decimal places (so the
 * value written is the value read back), dates as YYYY-MM-DD, flags as true or false (an
 * unanswered yes/no question is false, as an unchecked Salesforce checkbox is).
 */
export function answerToCanonical(
  answer: NonNullable<MappedField['answer']>,
  value: unknown,
): FieldValue {
  switch (answer.type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'number') return value !== 0;
      if (typeof value === 'string') return TRUE_TEXT.has(value.trim().toLowerCase());
      return false;
    case 'number': {
      if (value === null || value === undefined) return null;
      const raw = scalarText(value).trim();
      const n = typeof value === 'number' ? value : Number(raw);
      if (raw === '' || !Number.isFinite(n)) return null;
      if (answer.scale === undefined) return n;
      const f = 10 ** answer.scale;
      return Math.sign(n) * (Math.round(Math.abs(n) * f) / f);
    }
    case 'date': {
      if (value === null || value === undefined) return null;
      const text = scalarText(value).trim();
      if (text === '') return null;
      const m = DATE.exec(text);
      return m ? `${m[1]}-${m[2]}-${m[3]}` : text;
    }
    default: {
      if (value === null || value === undefined) return null;
      const text = scalarText(value).trim();
      return text === '' ? null : text;
    }
  }
}

/** Refuses before a write what Salesforce would: a date that is not one. */
function answerProblem(m: MappedField, value: FieldValue | undefined): ValueProblem | null {
  if (m.answer?.type !== 'date' || typeof value !== 'string') return null;
  if (isRealDate(value)) return null;
  return {
    field: m.salesforceField,
    code: 'INVALID_DATE',
    message: `${m.salesforceField}: not a valid date: ${value}`,
  };
}
