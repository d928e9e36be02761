import type { ContactSchema, FieldDef } from './schema';

const SOAP_TYPES: Record<FieldDef['type'], string> = {
  id: 'tns:ID',
  reference: 'tns:ID',
  string: 'xsd:string',
  textarea: 'xsd:string',
  email: 'xsd:string',
  phone: 'xsd:string',
  url: 'xsd:string',
  picklist: 'xsd:string',
  date: 'xsd:date',
  datetime: 'xsd:dateTime',
  double: 'xsd:double',
  currency: 'xsd:double',
  percent: 'xsd:double',
  boolean: 'xsd:boolean',
};

function objectUrls(v: string): Record<string, string> {
  const base = `/services/data/v${v}/sobjects/Contact`;
  return { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` };
}

function describeField(f: FieldDef): Record<string, unknown> {
  return {
    name: f.name,
    label: f.label,
    type: f.type,
    soapType: SOAP_TYPES[f.type],
    length: f.length,
    byteLength: f.length * 3,
    precision: f.precision ?? 0,
    scale: f.scale ?? 0,
    digits: 0,
    nillable: f.nillable,
    createable: f.createable,
    updateable: f.updateable,
    defaultValue: f.defaultValue ?? null,
    inlineHelpText: f.inlineHelpText ?? null,
    defaultedOnCreate:
      f.defaultValue !== undefined ||
      [
        'Id',
        'IsDeleted',
        'OwnerId',
        'CreatedDate',
        'CreatedById',
        'LastModifiedDate',
        'LastModifiedById',
        'SystemModstamp',
      ].includes(f.name),
    externalId: f.externalId,
    idLookup: f.externalId || f.name === 'Id' || f.type === 'email',
    unique: f.unique,
    caseSensitive: false,
    custom: f.custom,
    calculated: f.name === 'Name',
    nameField: f.name === 'Name',
    filterable: !(f.type === 'textarea' && f.length > 255),
    sortable: !(f.type === 'textarea' && f.length > 255),
    restrictedPicklist: f.restrictedPicklist ?? false,
    picklistValues: (f.picklistValues ?? []).map((value) => ({
      active: true,
      defaultValue: false,
      label: value,
      validFor: null,
      value,
    })),
    referenceTo: f.referenceTo ?? [],
    relationshipName: f.type === 'reference' ? f.name.replace(/Id$/, '') : null,
    htmlFormatted: false,
    autoNumber: false,
  };
}

/** `GET /sobjects/Contact/describe`; package fields appear only while installed. */
export function describeContact(
  schema: ContactSchema,
  apiVersion: string,
): Record<string, unknown> & { fields: unknown[] } {
  return {
    name: 'Contact',
    label: 'Contact',
    labelPlural: 'Contacts',
    keyPrefix: '003',
    custom: false,
    createable: true,
    updateable: true,
    deletable: true,
    undeletable: true,
    queryable: true,
    retrieveable: true,
    searchable: true,
    replicateable: true,
    triggerable: true,
    urls: objectUrls(apiVersion),
    fields: schema.fields().map(describeField),
    childRelationships: [],
    recordTypeInfos: [],
  };
}

/** `GET /sobjects`: the one object this sandbox org serves. */
export function describeGlobal(apiVersion: string): Record<string, unknown> {
  return {
    encoding: 'UTF-8',
    maxBatchSize: 200,
    sobjects: [
      {
        name: 'Contact',
        label: 'Contact',
        labelPlural: 'Contacts',
        keyPrefix: '003',
        custom: false,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        retrieveable: true,
        urls: objectUrls(apiVersion),
      },
    ],
  };
}
