import {
  fieldSpecs,
  flowsTo,
  packageFields,
  resolveMapping,
  type AnswerType,
  type CanonicalField,
  type FieldMappingEntry,
  type MappedField,
  type ResolvedMapping,
} from './mapping';

/**
 * Whether an organization's mapping fits its Salesforce org, from a describe of Contact. Pure:
 * the describe is handed in. Used when settings are saved (bad entries are refused), when the
 * org's Contact changes under a running sync (drift: the field is held back and reported), and
 * by the readiness checks.
 */

/** One Contact field as describe reports it (the members this check reads). */
export interface DescribedField {
  name: string;
  type: string;
  length: number;
  scale: number;
  createable: boolean;
  updateable: boolean;
  externalId: boolean;
  unique: boolean;
  picklistValues: string[];
}

/** Describe results by lower-cased field name. */
export type DescribedFields = ReadonlyMap<string, DescribedField>;

export function describedFields(fields: readonly DescribedField[]): DescribedFields {
  return new Map(fields.map((f) => [f.name.toLowerCase(), f]));
}

export type MappingIssueReason = 'missing' | 'not_updateable' | 'type_mismatch' | 'too_short';

export interface MappingIssue {
  /** The mapped field (`phone`, `customAnswers.tshirt_size`). */
  field: string;
  salesforceField: string;
  reason: MappingIssueReason;
  /** Refused at save / held back while syncing (`error`), or only worth knowing (`warning`). */
  severity: 'error' | 'warning';
  message: string;
}

const TEXT = ['string', 'textarea', 'phone', 'email', 'url', 'picklist', 'combobox'];
const NUMBER = ['double', 'currency', 'percent', 'int'];
const WRITTEN_AS_TEXT = ['string', 'textarea'];

/** Salesforce types that can hold each kind of value (text fields hold any of them as text). */
const holders: Record<AnswerType | 'email' | 'tags' | 'status' | 'id', readonly string[]> = {
  text: TEXT,
  picklist: ['picklist', 'combobox', ...WRITTEN_AS_TEXT],
  number: [...NUMBER, ...WRITTEN_AS_TEXT],
  date: ['date', ...WRITTEN_AS_TEXT],
  boolean: ['boolean', ...WRITTEN_AS_TEXT],
  email: ['email', ...WRITTEN_AS_TEXT],
  tags: ['multipicklist', ...WRITTEN_AS_TEXT],
  status: ['picklist', ...WRITTEN_AS_TEXT],
  id: WRITTEN_AS_TEXT,
};

/** The answer type a Contact field of this describe type takes; null when it holds none. */
export function answerTypeFor(describedType: string): AnswerType | null {
  if (describedType === 'picklist') return 'picklist';
  if (TEXT.includes(describedType)) return 'text';
  if (NUMBER.includes(describedType)) return 'number';
  if (describedType === 'date') return 'date';
  if (describedType === 'boolean') return 'boolean';
  return null;
}

function kindOf(m: MappedField): keyof typeof holders {
  if (m.answer) return m.answer.type;
  const kind = fieldSpecs[m.field as CanonicalField].kind;
  return kind === 'number' ? 'number' : kind === 'date' ? 'date' : kind;
}

export interface CheckOptions {
  /** Longest text InitLive keeps in a form answer: a shorter Contact field gets a warning. */
  answerMaxLength?: number;
}

/** What is wrong with one mapped field in this org (empty when it fits). */
export function checkMappedField(
  m: MappedField,
  fields: DescribedFields,
  options: CheckOptions = {},
): MappingIssue[] {
  const base = { field: m.field, salesforceField: m.salesforceField };
  const d = fields.get(m.salesforceField.toLowerCase());
  if (!d) {
    return [
      {
        ...base,
        reason: 'missing',
        severity: 'error',
        message: `${m.salesforceField} does not exist on Contact, or the connected user cannot see it (field-level security)`,
      },
    ];
  }
  const kind = kindOf(m);
  if (!holders[kind].includes(d.type)) {
    return [
      {
        ...base,
        reason: 'type_mismatch',
        severity: 'error',
        message: `${m.salesforceField} is a ${d.type} field, which cannot hold ${m.answer ? `a ${kind} answer` : `${m.field} (${kind})`}`,
      },
    ];
  }
  const issues: MappingIssue[] = [];
  if (flowsTo(m, 'salesforce') && !(d.updateable && d.createable)) {
    issues.push({
      ...base,
      reason: 'not_updateable',
      severity: 'error',
      message: `${m.salesforceField} is read-only for the connected user (not ${d.updateable ? 'createable' : 'updateable'}), and ${m.field} is mapped to Salesforce`,
    });
  }
  const max = options.answerMaxLength;
  if (
    m.answer &&
    max !== undefined &&
    (m.answer.type === 'text' || m.answer.type === 'picklist') &&
    TEXT.includes(d.type) &&
    d.type !== 'picklist' &&
    d.length < max &&
    flowsTo(m, 'salesforce')
  ) {
    issues.push({
      ...base,
      reason: 'too_short',
      severity: 'warning',
      message: `${m.salesforceField} holds ${d.length} characters and an InitLive answer up to ${max}: a longer answer goes to the dead letters with STRING_TOO_LONG`,
    });
  }
  return issues;
}

/** Issues of a settings payload's `fieldMapping`, each with its entry's index. */
export function checkFieldMapping(
  entries: readonly FieldMappingEntry[],
  fields: DescribedFields,
  options: CheckOptions = {},
): Array<MappingIssue & { index: number }> {
  const out: Array<MappingIssue & { index: number }> = [];
  const resolved = resolveMapping(entries);
  entries.forEach((entry, index) => {
    if (entry.direction === 'none' || entry.salesforceField === undefined) return;
    const m = resolved.find((r) => r.field === entry.field);
    if (!m) return;
    for (const issue of checkMappedField(m, fields, options)) out.push({ ...issue, index });
  });
  return out;
}

/**
 * Form answer entries without a type get the one their Contact field takes (and number
 * answers its decimal places), so the stored settings say how each answer is converted.
 */
export function withAnswerTypes(
  entries: readonly FieldMappingEntry[],
  fields: DescribedFields,
): FieldMappingEntry[] {
  return entries.map((e) => {
    if (!e.field.startsWith('customAnswers.') || !e.salesforceField) return e;
    const d = fields.get(e.salesforceField.toLowerCase());
    if (!d) return e;
    const type = e.type ?? answerTypeFor(d.type) ?? undefined;
    if (type === undefined) return e;
    const scale = type === 'number' && NUMBER.includes(d.type) ? d.scale : undefined;
    return { ...e, type, ...(scale === undefined ? {} : { scale }) };
  });
}

/**
 * The mapped fields that cannot sync in this org right now (drift): missing, of a type that no
 * longer holds their values, or no longer writable where they are written. The package's fields
 * are not among them: a missing package holds every write until it is installed.
 */
export function driftIssues(mapping: ResolvedMapping, fields: DescribedFields): MappingIssue[] {
  const packaged = new Set(packageFields.map((f) => f.toLowerCase()));
  const out: MappingIssue[] = [];
  for (const m of mapping) {
    if (m.field === 'initliveId' || packaged.has(m.salesforceField.toLowerCase())) continue;
    out.push(...checkMappedField(m, fields).filter((i) => i.severity === 'error'));
  }
  return out;
}
