/**
 * The Contact object as this sandbox org knows it: the standard fields the connector touches
 * and the fields of the InitLive package, which can be uninstalled at run time.
 */
export type FieldType =
  | 'id'
  | 'reference'
  | 'string'
  | 'textarea'
  | 'email'
  | 'phone'
  | 'picklist'
  | 'date'
  | 'datetime'
  | 'double'
  | 'boolean';

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

export const STATUS_VALUES = ['active', 'archived', 'deleted'];

export const CONTACT_FIELDS: readonly FieldDef[] = [
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
  text('InitLive_Staff_Id__c', 'InitLive Staff Id', 64, {
    externalId: true,
    unique: true,
    custom: true,
    packaged: true,
  }),
  text('InitLive_Tags__c', 'InitLive Tags', 32768, {
    type: 'textarea',
    custom: true,
    packaged: true,
  }),
  text('InitLive_Status__c', 'InitLive Status', 255, {
    type: 'picklist',
    picklistValues: STATUS_VALUES,
    restrictedPicklist: true,
    custom: true,
    packaged: true,
  }),
  text('InitLive_Hours_Worked__c', 'InitLive Hours Worked', 0, {
    type: 'double',
    precision: 18,
    scale: 2,
    custom: true,
    packaged: true,
  }),
];

/** Names of the fields the package adds. */
export const PACKAGE_FIELDS = CONTACT_FIELDS.filter((f) => f.packaged).map((f) => f.name);

/** Field lookup honouring whether the package is installed; names are case-insensitive. */
export class ContactSchema {
  private byLower = new Map<string, FieldDef>();
  packageInstalled = true;

  constructor() {
    for (const f of CONTACT_FIELDS) this.byLower.set(f.name.toLowerCase(), f);
  }

  /** The field, or undefined when it does not exist in the org right now. */
  field(name: string): FieldDef | undefined {
    const f = this.byLower.get(name.toLowerCase());
    if (f?.packaged && !this.packageInstalled) return undefined;
    return f;
  }

  fields(): FieldDef[] {
    return CONTACT_FIELDS.filter((f) => !f.packaged || this.packageInstalled);
  }

  externalIdFields(): FieldDef[] {
    return this.fields().filter((f) => f.externalId);
  }
}
