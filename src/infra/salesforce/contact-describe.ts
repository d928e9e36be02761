import type { Connection } from 'jsforce';
import type { DescribedField } from '../../core/mapping-check';
import { toSalesforceError } from './salesforce-errors';

/** Contact as the connected user may use it: object access and the fields it sees. */
export interface ContactAccess {
  queryable: boolean;
  createable: boolean;
  updateable: boolean;
  fields: DescribedField[];
}

/**
 * Contact's describe as the connected user sees it (one call). Fields the user has no
 * field-level access to are absent, as Salesforce leaves them out; read-only ones come back with
 * `updateable: false`. Throws SyncErrors (see toSalesforceError).
 */
export async function describeContact(conn: Connection): Promise<ContactAccess> {
  let described;
  try {
    // describe(), not describe$(): jsforce caches the latter for the connection's life.
    described = await conn.describe('Contact');
  } catch (err) {
    throw toSalesforceError(err, { op: 'describe' });
  }
  return {
    queryable: described.queryable,
    createable: described.createable,
    updateable: described.updateable,
    fields: described.fields.map((f) => ({
      name: f.name,
      type: f.type,
      length: f.length ?? 0,
      scale: f.scale ?? 0,
      createable: f.createable,
      updateable: f.updateable,
      externalId: f.externalId === true,
      unique: f.unique,
      picklistValues: (f.picklistValues ?? []).filter((p) => p.active).map((p) => p.value),
    })),
  };
}

/** Contact's fields only (see describeContact). */
export async function describeContactFields(conn: Connection): Promise<DescribedField[]> {
  return (await describeContact(conn)).fields;
}
