import type { Connection } from 'jsforce';
import { bulkUpdateContacts, bulkUpsertContacts } from '../../infra/salesforce/bulk-ingest';
import type { ContactFields, SalesforceItemResult } from '../../infra/salesforce/salesforce-api';

/**
 * Large sets of Contact writes as Bulk API 2.0 ingest jobs (about 7 calls per job whatever its
 * size), answering like the sObject Collections calls: one result per record, in input order.
 */
export interface BulkContactWriter {
  upsertContacts(
    records: ContactFields[],
    externalIdField: string,
    signal: AbortSignal,
  ): Promise<SalesforceItemResult[]>;
  updateContacts(
    records: Array<ContactFields & { Id: string }>,
    signal: AbortSignal,
  ): Promise<SalesforceItemResult[]>;
}

/**
 * The Bulk API 2.0 writer of a connection (src/infra/salesforce/bulk-ingest.ts); `pollMs` is the first
 * wait before asking whether a job finished.
 */
export function bulkContactWriter(conn: Connection, pollMs: number): BulkContactWriter {
  return {
    upsertContacts: (records, externalIdField, signal) =>
      bulkUpsertContacts(conn, records, externalIdField, { pollMs, signal }),
    updateContacts: (records, signal) => bulkUpdateContacts(conn, records, { pollMs, signal }),
  };
}
