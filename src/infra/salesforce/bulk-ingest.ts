import type { Connection } from 'jsforce';
import { stringify } from 'csv-stringify/sync';
import { SyncError } from '../../errors';
import type { ContactFields, SalesforceItemResult } from './salesforce-api';
import { itemError } from './salesforce-errors';
import type { SalesforceItemError } from './salesforce-errors';
import { sleep } from '../../retry';
import { parseCsv, sfCsv, sfJson } from './salesforce-http';

/**
 * Bulk API 2.0 ingest for large sets of Contact writes, answering in exactly the shape of the
 * sObject Collections calls (SalesforceApi.upsertContacts / updateContacts): one
 * SalesforceItemResult per input record, in input order, with the same error mapping. A sink
 * can therefore switch to it above a size threshold and keep its outcome handling (link on
 * create, retry the retriable, dead-letter the rest) unchanged.
 *
 * Cost: 5 + ceil(records / 10,000) calls per job with the default options (create, upload,
 * close, one or more polls, successful results, failed results, unprocessed records) instead
 * of one call per 200 records.
 */
export interface BulkIngestOptions {
  /** First wait while the job runs; later waits grow to 5 s. Default 500 ms. */
  pollMs?: number;
  /** Give up waiting after this long (the job is aborted). Default 10 min. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Upsert by `externalIdField`; a record without it fails as INVALID_INPUT without being sent. */
export async function bulkUpsertContacts(
  conn: Connection,
  records: readonly ContactFields[],
  externalIdField: string,
  options: BulkIngestOptions = {},
): Promise<SalesforceItemResult[]> {
  return runIngest(conn, 'upsert', records, externalIdField, options);
}

/** Update by Id. */
export async function bulkUpdateContacts(
  conn: Connection,
  records: ReadonlyArray<ContactFields & { Id: string }>,
  options: BulkIngestOptions = {},
): Promise<SalesforceItemResult[]> {
  return runIngest(conn, 'update', records, 'Id', options);
}

/** `STATUS_CODE:message:field1,field2 --` (Bulk's sf__Error) as an item error. */
export function parseBulkError(text: string): SalesforceItemError {
  const trimmed = text.replace(/\s*--\s*$/, '');
  const first = trimmed.indexOf(':');
  if (first < 0) return { statusCode: trimmed || 'UNKNOWN', message: trimmed, fields: [] };
  const statusCode = trimmed.slice(0, first);
  const rest = trimmed.slice(first + 1);
  const last = rest.lastIndexOf(':');
  const message = last < 0 ? rest : rest.slice(0, last);
  const fieldText = last < 0 ? '' : rest.slice(last + 1);
  const fields = fieldText
    .split(',')
    .map((f) => f.trim())
    .filter((f) => /^[A-Za-z][A-Za-z0-9_]*$/.test(f));
  return { statusCode, message, fields };
}

function cell(v: ContactFields[string] | undefined): string {
  // In Bulk CSV an empty cell leaves the field alone; #N/A clears it. An empty string clears
  // the field in a Collections call, so it clears here too.
  if (v === undefined) return '';
  if (v === null || v === '') return '#N/A';
  return String(v);
}

/**
 * How a record's key is matched to its result row: external ids match case-insensitively in
 * Salesforce, record Ids are case-sensitive (two 15-character Ids may differ only in case).
 */
function keyNormaliser(keyField: string): (key: string) => string {
  return keyField.toLowerCase() === 'id' ? (k) => k : (k) => k.toLowerCase();
}

async function runIngest(
  conn: Connection,
  operation: 'upsert' | 'update',
  records: readonly ContactFields[],
  keyField: string,
  options: BulkIngestOptions,
): Promise<SalesforceItemResult[]> {
  const results: Array<SalesforceItemResult | undefined> = new Array(records.length);
  const byKey = new Map<string, number>();
  const norm = keyNormaliser(keyField);
  const sendable: number[] = [];
  records.forEach((r, i) => {
    const key = r[keyField];
    if (key === null || key === undefined || key === '') {
      const error = new SyncError('INVALID_INPUT', `record has no ${keyField} to ${operation} by`, {
        context: { externalIdField: keyField },
      });
      results[i] = { success: false, id: null, error, errors: [] };
      return;
    }
    const k = norm(String(key));
    if (byKey.has(k)) {
      // One job may not name a record twice; the caller folds writes per record first.
      const error = new SyncError(
        'INVALID_INPUT',
        `${keyField} ${String(key)} appears twice in one job`,
      );
      results[i] = { success: false, id: null, error, errors: [] };
      return;
    }
    byKey.set(k, i);
    sendable.push(i);
  });
  if (sendable.length === 0) return results as SalesforceItemResult[];

  const columns = [keyField];
  for (const i of sendable) {
    for (const f of Object.keys(records[i]!)) if (!columns.includes(f)) columns.push(f);
  }
  const csv = stringify(
    [columns, ...sendable.map((i) => columns.map((c) => cell(records[i]![c])))],
    { record_delimiter: 'unix' },
  );

  const job = await sfJson<{ id: string }>(conn, 'POST', '/jobs/ingest', {
    object: 'Contact',
    operation,
    ...(operation === 'upsert' ? { externalIdFieldName: keyField } : {}),
    contentType: 'CSV',
    lineEnding: 'LF',
  });
  await sfCsv(conn, 'PUT', `/jobs/ingest/${job.id}/batches`, csv);
  await sfJson(conn, 'PATCH', `/jobs/ingest/${job.id}`, { state: 'UploadComplete' });
  const done = await waitForIngestJob(conn, job.id, options);
  // Every result fetch is an API call: skip the ones the job's own counts make pointless.
  const noFailures = done.state === 'JobComplete' && done.numberRecordsFailed === 0;
  const allProcessed = done.numberRecordsProcessed === sendable.length;

  const keyOf = (row: Record<string, unknown>): number | undefined => {
    const entry = Object.entries(row).find(([k]) => k.toLowerCase() === keyField.toLowerCase());
    return typeof entry?.[1] === 'string' ? byKey.get(norm(entry[1])) : undefined;
  };
  const pages = async (path: string): Promise<Array<Record<string, unknown>>> => {
    const { text } = await sfCsv(conn, 'GET', `/jobs/ingest/${job.id}/${path}`);
    return parseCsv(text);
  };
  if (operation === 'update' && noFailures && allProcessed) {
    // Updates by Id that all succeeded: the results would only repeat the Ids we sent.
    for (const i of sendable) {
      results[i] = { success: true, id: String(records[i]![keyField]), created: false };
    }
    return results as SalesforceItemResult[];
  }
  for (const row of await pages('successfulResults')) {
    const i = keyOf(row);
    if (i === undefined) continue;
    results[i] = {
      success: true,
      id: String(row.sf__Id),
      created: String(row.sf__Created).toLowerCase() === 'true',
    };
  }
  for (const row of noFailures ? [] : await pages('failedResults')) {
    const i = keyOf(row);
    if (i === undefined) continue;
    const errors = [parseBulkError(typeof row.sf__Error === 'string' ? row.sf__Error : '')];
    const id = typeof row.sf__Id === 'string' && row.sf__Id !== '' ? row.sf__Id : null;
    results[i] = { success: false, id, error: itemError(errors), errors };
  }
  // A job refused for a column the org does not have: each row is refused for that field.
  const missing = /Field name not found : (\S+)/.exec(done.errorMessage ?? '')?.[1];
  // Rows the job never processed (aborted, timed out) are retriable: nothing happened to them.
  for (const i of sendable) {
    if (results[i]) continue;
    if (done.state === 'Failed' && missing) {
      const errors = [
        { statusCode: 'INVALID_FIELD', message: done.errorMessage!, fields: [missing] },
      ];
      results[i] = { success: false, id: null, error: itemError(errors), errors };
      continue;
    }
    const errors: SalesforceItemError[] = [
      { statusCode: 'UNPROCESSED', message: 'Bulk job did not process this record', fields: [] },
    ];
    results[i] = {
      success: false,
      id: null,
      error: new SyncError('UPSTREAM_UNAVAILABLE', 'Bulk job did not process this record', {
        context: { jobId: job.id },
      }),
      errors,
    };
  }
  return results as SalesforceItemResult[];
}

interface IngestJobInfo {
  state: string;
  errorMessage?: string;
  numberRecordsProcessed?: number;
  numberRecordsFailed?: number;
}

async function waitForIngestJob(
  conn: Connection,
  jobId: string,
  options: BulkIngestOptions,
): Promise<IngestJobInfo> {
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let waitMs = options.pollMs ?? 500;
  for (;;) {
    await sleep(waitMs, options.signal);
    const info = await sfJson<IngestJobInfo>(conn, 'GET', `/jobs/ingest/${jobId}`);
    if (info.state === 'JobComplete' || info.state === 'Failed' || info.state === 'Aborted') {
      return info;
    }
    if (Date.now() > deadline) {
      await sfJson(conn, 'PATCH', `/jobs/ingest/${jobId}`, { state: 'Aborted' }).catch(() => null);
      return { ...info, state: 'Aborted' };
    }
    waitMs = Math.min(5_000, Math.round(waitMs * 1.5));
  }
}
