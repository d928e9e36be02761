import { checksumSuffix } from './ids';
import type { ContactRecord } from './model';
import type { Org } from './org';
import type { FieldDef, FieldType } from './schema';
import type { SoqlTable } from './soql/evaluate';

/**
 * The setup objects the sandbox answers queries on, each as a SOQL table with its rows: the
 * Tooling API's CustomField and PlatformEventChannelMember, and the data API's PermissionSet and
 * PermissionSetAssignment. Only the fields listed are modelled; selecting another one gets
 * INVALID_FIELD, as an unknown field would.
 */
export interface SetupTable extends SoqlTable {
  rows(): ContactRecord[];
}

function col(name: string, type: FieldType = 'string'): FieldDef {
  return {
    name,
    label: name,
    type,
    length: type === 'id' || type === 'reference' ? 18 : type === 'string' ? 255 : 0,
    nillable: true,
    createable: false,
    updateable: false,
    externalId: false,
    unique: false,
    custom: false,
  };
}

function table(objectName: string, fields: FieldDef[], rows: () => ContactRecord[]): SetupTable {
  const byLower = new Map(fields.map((f) => [f.name.toLowerCase(), f]));
  return { objectName, field: (name) => byLower.get(name.toLowerCase()), rows };
}

/** Tooling API objects: `/tooling/query`. */
export function toolingTables(org: Org): SetupTable[] {
  return [
    table(
      'CustomField',
      [
        col('Id', 'id'),
        col('DeveloperName'),
        col('TableEnumOrId'),
        col('NamespacePrefix'),
        col('Description'),
        col('InlineHelpText'),
      ],
      () =>
        org.setup.customFields().map((f) => ({
          Id: f.id,
          DeveloperName: f.name.replace(/__c$/i, ''),
          TableEnumOrId: 'Contact',
          NamespacePrefix: null,
          Description: f.metadata.description ?? null,
          InlineHelpText: f.metadata.inlineHelpText ?? null,
        })),
    ),
    table(
      'PlatformEventChannelMember',
      [col('Id', 'id'), col('DeveloperName'), col('SelectedEntity')],
      () =>
        org.setup.channelMembers().map((m) => ({
          Id: m.id,
          DeveloperName: m.developerName,
          SelectedEntity: m.selectedEntity,
        })),
    ),
  ];
}

/** Data API setup objects: `/query` on PermissionSet and PermissionSetAssignment. */
export function dataSetupTables(org: Org): SetupTable[] {
  return [
    table('PermissionSet', [col('Id', 'id'), col('Name'), col('Label')], () =>
      org.setup.permissionSets().map((p) => ({ Id: p.id, Name: p.name, Label: p.label })),
    ),
    table(
      'PermissionSetAssignment',
      [col('Id', 'id'), col('AssigneeId', 'reference'), col('PermissionSetId', 'reference')],
      () =>
        org.setup.permissionSets().flatMap((p) =>
          org.setup.assignmentsOf(p.id).map((userId) => {
            // Stable per pair: derived from the two ids, so repeated queries agree.
            const id15 = `0Pa${p.id.slice(3, 9)}${userId.slice(9, 15)}`;
            return {
              Id: id15 + checksumSuffix(id15),
              AssigneeId: userId,
              PermissionSetId: p.id,
            };
          }),
        ),
    ),
  ];
}
