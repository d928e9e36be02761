/**
 * The Contact object as this sandbox org knows it: the standard fields the connector touches,
 * the fields of the InitLive package (read from its metadata files under salesforce/, see
 * package-source.ts, and absent while the package is not installed) and custom fields an admin
 * created with the Tooling API.
 */
export type FieldType =
  | 'id'
  | 'reference'
  | 'string'
  | 'textarea'
  | 'email'
  | 'phone'
  | 'url'
  | 'picklist'
  | 'date'
  | 'datetime'
  | 'double'
  | 'currency'
  | 'percent'
  | 'boolean';

/** Types whose values are numbers. */
export function isNumericType(type: FieldType): boolean {
  return type === 'double' || type === 'currency' || type === 'percent';
}

/** Types whose values are text compared case-insensitively in SOQL. */
export function isTextType(type: FieldType): boolean {
  return (
    type === 'string' ||
    type === 'textarea' ||
    type === 'email' ||
    type === 'phone' ||
    type === 'url' ||
    type === 'picklist'
  );
}

export interface FieldDef {
  name: string;
  label: string;
  type: FieldType;
  /** Maximum characters (text types); 0 otherwise. */
  length: number;
  precision?: number;
  scale?: number;
  nillable: boolean;
  createable: boolean;
  updateable: boolean;
  externalId: boolean;
  unique: boolean;
  custom: boolean;
  /** Required on create (LastName): nillable false and no default. */
  required?: boolean;
  picklistValues?: string[];
  restrictedPicklist?: boolean;
  referenceTo?: string[];
  /** Part of the InitLive package: absent while the package is uninstalled. */
  packaged?: boolean;
  /** Help text and description from the field's metadata (custom fields). */
  inlineHelpText?: string | null;
  description?: string | null;
  /** Value a new record gets when none is given (checkboxes: false). */
  defaultValue?: string | number | boolean | null;
}

function text(
  name: string,
  label: string,
  length: number,
  extra: Partial<FieldDef> = {},
): FieldDef {
  return {
    name,
    label,
    type: 'string',
    length,
    nillable: true,
    createable: true,
    updateable: true,
    externalId: false,
    unique: false,
    custom: false,
    ...extra,
  };
}

function system(
  name: string,
  label: string,
  type: FieldType,
  extra: Partial<FieldDef> = {},
): FieldDef {
  return text(name, label, type === 'id' || type === 'reference' ? 18 : 0, {
    type,
    nillable: false,
    createable: false,
    updateable: false,
    ...extra,
  });
}

/** Contact's standard fields (the ones the sandbox models). */
export const STANDARD_FIELDS: readonly FieldDef[] = [
  system('Id', 'Contact ID', 'id'),
  system('IsDeleted', 'Deleted', 'boolean'),
  text('AccountId', 'Account ID', 18, { type: 'reference', referenceTo: ['Account'] }),
  text('LastName', 'Last Name', 80, { nillable: false, required: true }),
  text('FirstName', 'First Name', 40),
  text('Salutation', 'Salutation', 40, {
    type: 'picklist',
    picklistValues: ['Mr.', 'Ms.', 'Mrs.', 'Dr.', 'Prof.', 'Mx.'],
    restrictedPicklist: false,
  }),
  system('Name', 'Full Name', 'string', { length: 121 }),
  text('MailingStreet', 'Mailing Street', 255, { type: 'textarea' }),
  text('MailingCity', 'Mailing City', 40),
  text('MailingState', 'Mailing State/Province', 80),
  text('MailingPostalCode', 'Mailing Zip/Postal Code', 20),
  text('MailingCountry', 'Mailing Country', 80),
  text('Phone', 'Business Phone', 40, { type: 'phone' }),
  text('MobilePhone', 'Mobile Phone', 40, { type: 'phone' }),
  text('Email', 'Email', 80, { type: 'email' }),
  text('Title', 'Title', 128),
  text('Description', 'Contact Description', 32000, { type: 'textarea' }),
  text('Birthdate', 'Birthdate', 0, { type: 'date' }),
  text('OwnerId', 'Owner ID', 18, { type: 'reference', referenceTo: ['User'], nillable: false }),
  system('CreatedDate', 'Created Date', 'datetime'),
  system('CreatedById', 'Created By ID', 'reference', { referenceTo: ['User'] }),
  system('LastModifiedDate', 'Last Modified Date', 'datetime'),
  system('LastModifiedById', 'Last Modified By ID', 'reference', { referenceTo: ['User'] }),
  system('SystemModstamp', 'System Modstamp', 'datetime'),
];

/**
 * Field lookup honouring what the org holds right now: the standard fields, the package's
 * fields while it is installed, and custom fields created with the Tooling API. Names are
 * case-insensitive, as in Salesforce.
 */
export class ContactSchema {
  readonly objectName = 'Contact';
  private packageFields: FieldDef[] | null;
  private customFields: FieldDef[] = [];
  private all: FieldDef[] = [];
  private byLower = new Map<string, FieldDef>();

  /** `packageFields`: the package's Contact fields, installed; null: no package installed. */
  constructor(packageFields: readonly FieldDef[] | null = null) {
    this.packageFields = packageFields
      ? packageFields.map((f) => ({ ...f, packaged: true }))
      : null;
    this.rebuild();
  }

  get packageInstalled(): boolean {
    return this.packageFields !== null;
  }

  /** Installs (a list) or uninstalls (null) the package's fields. */
  setPackageFields(fields: readonly FieldDef[] | null): void {
    this.packageFields = fields ? fields.map((f) => ({ ...f, packaged: true })) : null;
    this.rebuild();
  }

  /** Adds or replaces a custom field created outside the package. */
  putCustomField(field: FieldDef): void {
    this.customFields = [
      ...this.customFields.filter((f) => f.name.toLowerCase() !== field.name.toLowerCase()),
      field,
    ];
    this.rebuild();
  }

  removeCustomField(name: string): void {
    this.customFields = this.customFields.filter(
      (f) => f.name.toLowerCase() !== name.toLowerCase(),
    );
    this.rebuild();
  }

  /** The field, or undefined when it does not exist in the org right now. */
  field(name: string): FieldDef | undefined {
    return this.byLower.get(name.toLowerCase());
  }

  /** Every field, in describe order. Shared: do not mutate. */
  fields(): readonly FieldDef[] {
    return this.all;
  }

  externalIdFields(): FieldDef[] {
    return this.all.filter((f) => f.externalId);
  }

  private rebuild(): void {
    this.all = [...STANDARD_FIELDS, ...(this.packageFields ?? []), ...this.customFields];
    this.byLower = new Map(this.all.map((f) => [f.name.toLowerCase(), f]));
  }
}
