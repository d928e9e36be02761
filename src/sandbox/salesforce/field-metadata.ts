import type { FieldDef, FieldType } from './schema';

/**
 * A custom field's definition in Metadata API terms (the CustomField type): what a
 * `.field-meta.xml` file of the package holds, and what a Tooling API `CustomField` create
 * sends as `Metadata`. One conversion turns either into the field the org then describes,
 * validates and streams, so the package's files are the one source of the sandbox's schema.
 */
export interface CustomFieldMetadata {
  type: string;
  label: string;
  length?: number;
  precision?: number;
  scale?: number;
  externalId?: boolean;
  unique?: boolean;
  caseSensitive?: boolean;
  required?: boolean;
  description?: string | null;
  inlineHelpText?: string | null;
  visibleLines?: number;
  defaultValue?: string | null;
  valueSet?: {
    restricted?: boolean;
    valueSetDefinition?: {
      sorted?: boolean;
      value: Array<{ fullName: string; label?: string; default?: boolean }>;
    };
  };
}

/** A definition Salesforce would refuse; `field` names the offending metadata member. */
export class FieldMetadataError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'FieldMetadataError';
  }
}

/** Metadata API field type -> describe type, with the fixed lengths Salesforce gives them. */
const TYPES: Record<string, { type: FieldType; length?: number }> = {
  Text: { type: 'string' },
  TextArea: { type: 'textarea', length: 255 },
  LongTextArea: { type: 'textarea' },
  Email: { type: 'email', length: 80 },
  Phone: { type: 'phone', length: 40 },
  Url: { type: 'url', length: 255 },
  Picklist: { type: 'picklist', length: 255 },
  Number: { type: 'double' },
  Currency: { type: 'currency' },
  Percent: { type: 'percent' },
  Checkbox: { type: 'boolean' },
  Date: { type: 'date' },
  DateTime: { type: 'datetime' },
};

/** The metadata types this sandbox models; others are refused with a clear message. */
export const SUPPORTED_FIELD_TYPES = Object.keys(TYPES);

/** `T_Shirt_Size__c` without its suffix: the field's DeveloperName. */
export function developerNameOf(apiName: string): string {
  return apiName.replace(/__c$/i, '');
}

function intIn(value: number | undefined, member: string, min: number, max: number): number {
  if (value === undefined || !Number.isInteger(value)) {
    throw new FieldMetadataError(member, `${member}: You must enter a value`);
  }
  if (value < min || value > max) {
    throw new FieldMetadataError(member, `${member}: must be between ${min} and ${max}`);
  }
  return value;
}

/**
 * The field `apiName` (e.g. `T_Shirt_Size__c`) described by `md`. Throws FieldMetadataError
 * for a definition Salesforce refuses (a missing length, an external id on a picklist, ...).
 */
export function fieldDefFromMetadata(apiName: string, md: CustomFieldMetadata): FieldDef {
  if (!/^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*__c$/.test(apiName)) {
    throw new FieldMetadataError(
      'fullName',
      `${apiName}: a custom field name starts with a letter, holds letters, digits and single underscores, and ends in __c`,
    );
  }
  if (typeof md.label !== 'string' || md.label.trim() === '') {
    throw new FieldMetadataError('label', 'Field Label: You must enter a value');
  }
  const kind = TYPES[md.type];
  if (!kind) {
    throw new FieldMetadataError(
      'type',
      `Field type ${String(md.type)} is not supported here (${SUPPORTED_FIELD_TYPES.join(', ')})`,
    );
  }
  let length = kind.length ?? 0;
  let precision: number | undefined;
  let scale: number | undefined;
  if (md.type === 'Text') length = intIn(md.length, 'length', 1, 255);
  if (md.type === 'LongTextArea') {
    length = intIn(md.length, 'length', 256, 131_072);
    intIn(md.visibleLines, 'visibleLines', 2, 50);
  }
  if (kind.type === 'double' || kind.type === 'currency' || kind.type === 'percent') {
    precision = intIn(md.precision, 'precision', 1, 18);
    scale = intIn(md.scale, 'scale', 0, precision);
  }
  const keyable = md.type === 'Text' || md.type === 'Number' || md.type === 'Email';
  if ((md.externalId === true || md.unique === true) && !keyable) {
    throw new FieldMetadataError(
      md.externalId === true ? 'externalId' : 'unique',
      `${md.type} fields cannot be ${md.externalId === true ? 'external ids' : 'unique'}`,
    );
  }
  let picklistValues: string[] | undefined;
  let restrictedPicklist: boolean | undefined;
  if (md.type === 'Picklist') {
    const values = md.valueSet?.valueSetDefinition?.value ?? [];
    if (values.length === 0) {
      throw new FieldMetadataError('valueSet', 'Values: You must enter at least one value');
    }
    picklistValues = values.map((v) => v.fullName);
    restrictedPicklist = md.valueSet?.restricted === true;
  }
  const checkbox = md.type === 'Checkbox';
  return {
    name: apiName,
    label: md.label,
    type: kind.type,
    length,
    ...(precision === undefined ? {} : { precision, scale }),
    nillable: !checkbox && md.required !== true,
    createable: true,
    updateable: true,
    externalId: md.externalId === true,
    unique: md.unique === true,
    custom: true,
    ...(md.required === true ? { required: true } : {}),
    ...(picklistValues ? { picklistValues, restrictedPicklist } : {}),
    ...(checkbox ? { defaultValue: md.defaultValue === 'true' } : {}),
    inlineHelpText: md.inlineHelpText ?? null,
    description: md.description ?? null,
  };
}

/** The Metadata API type name of a field, for Tooling reads of fields created from files. */
export function metadataTypeOf(field: FieldDef): string {
  if (field.type === 'textarea') return field.length > 255 ? 'LongTextArea' : 'TextArea';
  for (const [name, kind] of Object.entries(TYPES)) if (kind.type === field.type) return name;
  return 'Text';
}
