import type { Connection } from 'jsforce';
import { SyncError } from '../errors';
import { createSalesforceApi, toSalesforceError } from '../infra/salesforce/salesforce-api';
import type { ContactRow } from '../infra/salesforce/salesforce-api';
import { sleep } from '../retry';
import { headerValue, parseCsv, sfCsv, sfJson } from '../infra/salesforce/salesforce-http';

/** Where a Contact read stands, saved with each checkpoint so a restarted run resumes there. */
export interface SalesforceCursor {
  mode: 'rest' | 'bulk';
  /** Highest Contact Id read (pages go in Id order); the restart point of a fresh query. */
  lastId: string | null;
  /** Bulk only: the query job and the locator of the next results page. */
  jobId: string | null;
  locator: string | null;
}

export interface ContactReadOptions {
  /** Contact fields to read (Id and LastModifiedDate are added). */
  fields: readonly string[];
  /** Results per Bulk API 2.0 page (maxRecords). */
  bulkPageSize: number;
  /** First wait while a Bulk query job runs; later waits grow to 5 s. */
  bulkPollMs: number;
  /** Give up on a Bulk query job after this long. */
  bulkTimeoutMs: number;
  signal?: AbortSignal;
}

const ID = /^[A-Za-z0-9]{15,18}$/;

/** How many Contacts the org has (one REST call). */
export async function countContacts(conn: Connection): Promise<number> {
  try {
    const res = await conn.query('SELECT COUNT() FROM Contact');
    return res.totalSize;
  } catch (err) {
    throw toSalesforceError(err, { query: 'count' });
  }
}

function soqlFor(fields: readonly string[], lastId: string | null): string {
  const all = [...new Set(['Id', 'LastModifiedDate', ...fields])];
  if (lastId !== null && !ID.test(lastId)) {
    throw new SyncError('INVALID_INPUT', 'checkpointed Contact Id is malformed', {
      context: { lastId },
    });
  }
  const where = lastId === null ? '' : ` WHERE Id > '${lastId}'`;
  return `SELECT ${all.join(', ')} FROM Contact${where} ORDER BY Id`;
}

/**
 * Reads every live Contact page by page, from `cursor` on: REST query pages (one API call per
 * 2,000) in `rest` mode, Bulk API 2.0 query result pages (`bulkPageSize` each) in `bulk` mode.
 * Each yielded page comes with the cursor to resume after it. Only one page is held at a time.
 */
export async function* readContacts(
  conn: Connection,
  cursor: SalesforceCursor,
  options: ContactReadOptions,
): AsyncGenerator<{ records: ContactRow[]; cursor: SalesforceCursor }> {
  if (cursor.mode === 'rest') {
    const api = createSalesforceApi(conn);
    for await (const page of api.queryContacts(soqlFor(options.fields, cursor.lastId))) {
      options.signal?.throwIfAborted();
      const last = page.records[page.records.length - 1];
      if (!last) continue;
      cursor = { ...cursor, lastId: last.Id };
      yield { records: page.records, cursor };
    }
    return;
  }
  yield* readBulk(conn, cursor, options);
}

async function* readBulk(
  conn: Connection,
  cursor: SalesforceCursor,
  options: ContactReadOptions,
): AsyncGenerator<{ records: ContactRow[]; cursor: SalesforceCursor }> {
  let { jobId, locator } = cursor;
  if (jobId !== null) {
    // A job from before a restart may be gone (deleted, expired); start over from lastId.
    try {
      await waitForQueryJob(conn, jobId, options);
    } catch {
      options.signal?.throwIfAborted();
      jobId = null;
      locator = null;
    }
  }
  if (jobId === null) {
    const job = await sfJson<{ id: string }>(conn, 'POST', '/jobs/query', {
      operation: 'query',
      query: soqlFor(options.fields, cursor.lastId),
    });
    jobId = job.id;
    locator = null;
    await waitForQueryJob(conn, jobId, options);
  }
  for (;;) {
    options.signal?.throwIfAborted();
    const query = new URLSearchParams({ maxRecords: String(options.bulkPageSize) });
    if (locator) query.set('locator', locator);
    const { text, headers } = await sfCsv(conn, 'GET', `/jobs/query/${jobId}/results?${query}`);
    const records = parseCsvRows(text);
    const next = headerValue(headers, 'sforce-locator');
    locator = next && next !== 'null' ? next : null;
    const last = records[records.length - 1];
    cursor = { mode: 'bulk', lastId: last?.Id ?? cursor.lastId, jobId, locator };
    if (records.length > 0) yield { records, cursor };
    if (locator === null) return;
  }
}

async function waitForQueryJob(
  conn: Connection,
  jobId: string,
  options: ContactReadOptions,
): Promise<void> {
  const deadline = Date.now() + options.bulkTimeoutMs;
  let waitMs = options.bulkPollMs;
  for (;;) {
    const info = await sfJson<{ state: string; errorMessage?: string }>(
      conn,
      'GET',
      `/jobs/query/${jobId}`,
    );
    if (info.state === 'JobComplete') return;
    if (info.state === 'Failed' || info.state === 'Aborted') {
      throw new SyncError('INTERNAL', `Bulk query job ${jobId} ended ${info.state}`, {
        context: { jobId, reason: info.errorMessage ?? null },
      });
    }
    if (Date.now() > deadline) {
      throw new SyncError(
        'UPSTREAM_UNAVAILABLE',
        `Bulk query job ${jobId} did not finish in time`,
        {
          context: { jobId, state: info.state },
        },
      );
    }
    await sleep(waitMs, options.signal);
    waitMs = Math.min(5_000, Math.round(waitMs * 1.5));
  }
}

/** One Bulk API 2.0 query results page as Contact rows. */
export function parseCsvRows(text: string): ContactRow[] {
  return parseCsv(text).filter(
    (r): r is ContactRow & Record<string, string | null> => typeof r.Id === 'string',
  );
}

/**
 * Contacts in the recycle bin that name a volunteer (`queryAll`, one call per 2,000), with
 * `fields` (see contactFieldsFor). The recycle bin keeps deleted records about 15 days.
 */
export async function* readDeletedContactsNamingStaff(
  conn: Connection,
  fields: readonly string[],
): AsyncGenerator<ContactRow[]> {
  const all = [...new Set(['Id', 'LastModifiedDate', ...fields])];
  const soql = `SELECT ${all.join(', ')} FROM Contact WHERE IsDeleted = true AND InitLive_Staff_Id__c != null ORDER BY Id`;
  const api = createSalesforceApi(conn);
  for await (const page of api.queryContacts(soql, { includeDeleted: true })) yield page.records;
}
