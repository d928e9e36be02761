import type { Connection } from 'jsforce';
import type { ResolvedMapping } from '../core/mapping';
import { SyncError, isSyncError } from '../errors';

/** Ids per SOQL statement: 18-char ids quoted keep the statement far below SOQL's 100k limit. */
const IDS_PER_QUERY = 500;

/** The first 15 characters identify a record; 18-char ids only add a case checksum. */
export function idKey(id: string): string {
  return id.slice(0, 15);
}

/**
 * Reads the current state of these Contacts, deleted ones included (`queryAll`), with every
 * mapped field: one query call per 500 ids (more only when Salesforce pages the answer).
 * Returns rows by `idKey`; an id missing from the result was hard-deleted. Ids are known to be
 * plain record ids (checked when the event was parsed), so they are safe inside SOQL.
 */
export async function rereadContacts(
  conn: Connection,
  ids: readonly string[],
  mapping: ResolvedMapping,
): Promise<Map<string, Record<string, unknown>>> {
  const fields = [
    ...new Set([...mapping.map((m) => m.salesforceField), 'Id', 'IsDeleted', 'LastModifiedDate']),
  ];
  const unique = [...new Set(ids)];
  const rows = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < unique.length; i += IDS_PER_QUERY) {
    const chunk = unique.slice(i, i + IDS_PER_QUERY);
    const soql = `SELECT ${fields.join(', ')} FROM Contact WHERE Id IN (${chunk
      .map((id) => `'${id}'`)
      .join(', ')})`;
    let records: Record<string, unknown>[];
    try {
      const result = await conn.query<Record<string, unknown>>(soql, {
        scanAll: true,
        autoFetch: true,
        maxFetch: chunk.length * 2,
      });
      records = result.records;
    } catch (err) {
      throw salesforceError(err, 'Contact re-read failed');
    }
    for (const r of records) if (typeof r.Id === 'string') rows.set(idKey(r.Id), r);
  }
  return rows;
}

/**
 * A jsforce failure as a SyncError that keeps Salesforce's errorCode: missing package fields
 * and bad queries are permanent, auth needs an admin once jsforce's own refresh failed,
 * everything else (5xx, network, limits) is worth retrying.
 */
export function salesforceError(err: unknown, what: string): SyncError {
  if (isSyncError(err)) return err;
  const e = err as { errorCode?: unknown; name?: unknown; message?: unknown };
  const upstreamCode =
    typeof e.errorCode === 'string' ? e.errorCode : typeof e.name === 'string' ? e.name : 'ERROR';
  const message = `${what}: ${typeof e.message === 'string' ? e.message : String(err)}`;
  const context = { upstreamCode };
  // jsforce wraps a failed token refresh in a plain Error and keeps only the message.
  if (typeof e.message === 'string' && e.message.startsWith('Unable to refresh session')) {
    const transient = /ECONN|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|socket|fetch failed|\b5\d\d\b/i;
    return transient.test(e.message)
      ? new SyncError('UPSTREAM_UNAVAILABLE', message, { cause: err, context })
      : new SyncError('AUTH_FAILED', message, {
          cause: err,
          context: { upstreamCode: 'REFRESH_FAILED' },
        });
  }
  switch (upstreamCode) {
    case 'INVALID_FIELD':
      return new SyncError('PACKAGE_MISSING', message, { cause: err, context });
    case 'MALFORMED_QUERY':
    case 'INVALID_TYPE':
      return new SyncError('INTERNAL', message, { cause: err, context });
    case 'REQUEST_LIMIT_EXCEEDED':
      return new SyncError('API_LIMIT_EXCEEDED', message, { cause: err, context });
    case 'INVALID_SESSION_ID':
    case 'invalid_grant':
    case 'invalid_client':
    case 'invalid_client_id':
      return new SyncError('AUTH_FAILED', message, { cause: err, context });
    default:
      return new SyncError('UPSTREAM_UNAVAILABLE', message, { cause: err, context });
  }
}
