import { checkFieldMapping, withAnswerTypes } from '../core/mapping-check';
import type { SyncSettings } from '../core/settings';
import { CUSTOM_ANSWER_MAX_LENGTH } from '../infra/initlive';
import type { AdminContext } from './context';
import { invalidInput } from './http';

export interface MappingWarning {
  path: string;
  message: string;
}

/**
 * Checks a settings payload's fieldMapping against the organization's Contact fields before it
 * is stored: a field that does not exist, a read-only one the mapping writes to, or one of a
 * type that cannot hold the value is refused (400 naming `fieldMapping.N.salesforceField`); a
 * Contact field shorter than an InitLive answer is a warning. Form answers without a type get
 * their field's. The describe is the cached one, read again when it lacks a named field (the
 * admin may just have created it). An organization not connected to Salesforce cannot be
 * checked: its form answers must then say their type, and drift detection checks them on
 * connect.
 */
export async function checkMappingForSave(
  ctx: AdminContext,
  orgId: string,
  settings: SyncSettings,
): Promise<{ settings: SyncSettings; warnings: MappingWarning[] }> {
  const entries = settings.fieldMapping;
  const named = entries.filter((e) => e.direction !== 'none' && e.salesforceField !== undefined);
  if (named.length === 0) return { settings, warnings: [] };
  const book = ctx.contactFields;
  const connected = book !== undefined && ctx.directory.get(orgId)?.salesforce;
  if (!connected) {
    const untyped = entries.flatMap((e, i) =>
      e.field.startsWith('customAnswers.') && e.type === undefined
        ? [
            {
              path: `fieldMapping.${i}.type`,
              message:
                'is required while the organization is not connected to Salesforce (the Contact field cannot be read to tell)',
            },
          ]
        : [],
    );
    if (untyped.length > 0) {
      throw invalidInput(
        `invalid settings: ${untyped.map((p) => `${p.path} ${p.message}`).join('; ')}`,
        untyped,
      );
    }
    return { settings, warnings: [] };
  }
  let described = await book.describe(orgId);
  const lacks = (): boolean =>
    named.some((e) => !described?.fields.has(e.salesforceField!.toLowerCase()));
  if (described && lacks()) described = await book.describe(orgId, 0);
  if (!described) return { settings, warnings: [] };
  const typed = withAnswerTypes(entries, described.fields);
  const issues = checkFieldMapping(typed, described.fields, {
    answerMaxLength: CUSTOM_ANSWER_MAX_LENGTH,
  });
  const errors = issues
    .filter((i) => i.severity === 'error')
    .map((i) => ({ path: `fieldMapping.${i.index}.salesforceField`, message: i.message }));
  if (errors.length > 0) {
    throw invalidInput(
      `invalid settings: ${errors.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      errors,
    );
  }
  return {
    settings: { ...settings, fieldMapping: typed },
    warnings: issues
      .filter((i) => i.severity === 'warning')
      .map((i) => ({ path: `fieldMapping.${i.index}.salesforceField`, message: i.message })),
  };
}
