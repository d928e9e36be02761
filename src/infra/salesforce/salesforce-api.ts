import type { ApiUsage } from '../../core/api-reserve';
import type { Connection } from 'jsforce';
import type { QueryOptions, QueryResult } from 'jsforce/lib/query';
import { SyncError } from '../../errors';
import { itemError, itemErrorsOf, toSalesforceError } from './salesforce-errors';
import type { SalesforceItemError } from './salesforce-errors';

export type { SalesforceItemError } from './salesforce-errors';
export { toSalesforceError } from './salesforce-errors';

/** Field API name -> value; null clears the field. */
export type ContactFields = Record<string, string | number | boolean | null>;

/** One Contact as a query returns it (without jsforce's `attributes`). */
export interface ContactRow {
  Id: string;
  [field: string]: unknown;
}

/** The outcome of one record of a collection call, in the order the records were given. */
export type SalesforceItemResult =
  | { success: true; id: string; created: boolean }
  | {
      success: false;
      /** Present when Salesforce named the record (updates, deletes). */
      id: string | null;
      /** Mapped: SALESFORCE_REJECTED (retriable for lock/transient codes), PACKAGE_MISSING, ... */
      error: SyncError;
      errors: SalesforceItemError[];
    };

export interface ContactPage {
  records: ContactRow[];
  totalSize: number;
  done: boolean;
}

/** Daily API calls as the org last reported them (Sforce-Limit-Info). */
export type { ApiUsage } from '../../core/api-reserve';

export interface ApiLimits {
  dailyApiRequests: { max: number; remaining: number };
  /** Every limit `/limits` returned, by Salesforce's name. */
  all: Record<string, { Max: number; Remaining: number }>;
}

export interface QueryContactsOptions {
  /** Include the recycle bin (queryAll). */
  includeDeleted?: boolean;
}

/**
 * The Salesforce operations the connector needs (sink, full sync, Salesforce source), over one
 * org's connection. Every method throws SyncErrors (see toSalesforceError): API_LIMIT_EXCEEDED,
 * AUTH_FAILED (jsforce's own refresh-and-retry on a 401 already failed), PACKAGE_MISSING,
 * UPSTREAM_UNAVAILABLE (retriable), SALESFORCE_REJECTED. Nothing is retried here: callers
 * decide (the sink pauses on limits and auth, backs off on the rest).
 */
export interface SalesforceApi {
  /**
   * sObject Collections upsert by `externalIdField`, allOrNone false, items in order: 200
   * records a collection, and up to 5 collections (1,000 records) in one call through the
   * Composite resource, which Salesforce counts as one API call. A record without its external
   * id fails as INVALID_INPUT without being sent. A request-level failure, of the call or of one
   * of its collections, throws; collections before it have landed (upserts are idempotent, so a
   * retry of all is safe).
   */
  upsertContacts(
    records: readonly ContactFields[],
    externalIdField: string,
  ): Promise<SalesforceItemResult[]>;
  /** Collections update by Id, allOrNone false; same chunking and failure rules as upsert. */
  updateContacts(
    records: ReadonlyArray<ContactFields & { Id: string }>,
  ): Promise<SalesforceItemResult[]>;
  /** Collections delete by Id, allOrNone false; same chunking and failure rules as upsert. */
  deleteContacts(ids: readonly string[]): Promise<SalesforceItemResult[]>;
  /** A SOQL query page by page (at most 2,000 records each, one API call each). */
  queryContacts(soql: string, options?: QueryContactsOptions): AsyncIterable<ContactPage>;
  /**
   * Contacts by Id in one `Id IN (...)` query per `idsPerQuery` ids (default 500). Ids not found
   * are simply absent. Throws INVALID_INPUT for a malformed id (nothing is sent).
   */
  getContactsByIds(
    ids: readonly string[],
    fields: readonly string[],
    options?: QueryContactsOptions,
  ): Promise<ContactRow[]>;
  /** Which of `fields` the org's Contact lacks (one describe call); used to probe the package. */
  missingContactFields(fields: readonly string[]): Promise<string[]>;
  /** The last Sforce-Limit-Info jsforce parsed on this connection; null before any call. */
  apiUsage(): ApiUsage | null;
  /** GET /limits (one call). */
  limits(): Promise<ApiLimits>;
}

export interface SalesforceApiOptions {
  /** Records per collection; Salesforce's maximum is 200. */
  chunkSize?: number;
  /** Collections sent together in one Composite call; Salesforce's maximum is 5. */
  collectionsPerCall?: number;
  /** Ids per `Id IN (...)` query, keeping the URL well under Salesforce's 16 KB. */
  idsPerQuery?: number;
}

const MAX_COLLECTION = 200;
/** Composite takes up to 5 sObject Collections (or query) subrequests, all one API call. */
export const MAX_COLLECTIONS_PER_COMPOSITE = 5;
const SALESFORCE_ID = /^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/;
// jsforce stops a query at maxFetch (default 10,000) even page by page; pages are ours to bound.
const MAX_FETCH = Number.MAX_SAFE_INTEGER;

type RawItem = { id?: unknown; success?: unknown; created?: unknown; errors?: unknown };

/** One sObject Collections request, sent alone or as a Composite subrequest. */
interface CollectionRequest {
  method: 'PATCH' | 'DELETE';
  /** Below /services/data/vXX.X. */
  path: string;
  body?: { allOrNone: false; records: Array<Record<string, unknown>> };
}

interface CompositeSubresponse {
  body: unknown;
  httpStatusCode: number;
  referenceId: string;
}
type RawQueryResult = QueryResult<Record<string, unknown>>;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A record as a collection body carries it: Salesforce wants each one's sObject type. */
function contactRecord(record: ContactFields): Record<string, unknown> {
  return { attributes: { type: 'Contact' }, ...record };
}

/** A Composite subrequest refused as a whole, shaped as jsforce shapes a refused request. */
function subrequestError(sub: CompositeSubresponse): Error {
  const first = (Array.isArray(sub.body) ? sub.body[0] : sub.body) as
    { errorCode?: unknown; message?: unknown; fields?: unknown } | undefined;
  const errorCode =
    typeof first?.errorCode === 'string' ? first.errorCode : `ERROR_HTTP_${sub.httpStatusCode}`;
  const message = typeof first?.message === 'string' ? first.message : errorCode;
  return Object.assign(new Error(message), {
    name: errorCode,
    errorCode,
    data: { fields: Array.isArray(first?.fields) ? first.fields : [] },
  });
}

function stripAttributes(record: Record<string, unknown>): ContactRow {
  const { attributes: _attributes, ...rest } = record;
  return rest as ContactRow;
}

/** A SOQL string literal: backslashes and quotes escaped. */
export function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The Contact Ids carrying each external id (keyed lower-cased), one query per `chunk` ids: a
 * delete that names only the external id needs its Contact's Id, and so does a volunteer's
 * deletion that no pair knows.
 */
export async function contactIdsByExternalId(
  api: SalesforceApi,
  externalIds: readonly string[],
  externalIdField: string,
  chunk: number,
): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const ids = [...new Set(externalIds)];
  for (let i = 0; i < ids.length; i += chunk) {
    const list = ids
      .slice(i, i + chunk)
      .map(soqlString)
      .join(', ');
    const soql = `SELECT Id, ${externalIdField} FROM Contact WHERE ${externalIdField} IN (${list})`;
    for await (const page of api.queryContacts(soql)) {
      for (const row of page.records) {
        const ext = row[externalIdField];
        const key = typeof ext === 'string' ? ext.toLowerCase() : '';
        found.set(key, [...(found.get(key) ?? []), row.Id]);
      }
    }
  }
  return found;
}

/** jsforce Connection adapter of SalesforceApi (API version and client tag come with `conn`). */
export class JsforceSalesforceApi implements SalesforceApi {
  private readonly chunkSize: number;
  private readonly collectionsPerCall: number;
  private readonly idsPerQuery: number;

  constructor(
    private readonly conn: Connection,
    options: SalesforceApiOptions = {},
  ) {
    this.chunkSize = Math.min(MAX_COLLECTION, Math.max(1, options.chunkSize ?? MAX_COLLECTION));
    this.collectionsPerCall = Math.min(
      MAX_COLLECTIONS_PER_COMPOSITE,
      Math.max(1, options.collectionsPerCall ?? MAX_COLLECTIONS_PER_COMPOSITE),
    );
    this.idsPerQuery = Math.max(1, options.idsPerQuery ?? 500);
  }

  async upsertContacts(
    records: readonly ContactFields[],
    externalIdField: string,
  ): Promise<SalesforceItemResult[]> {
    const results: Array<SalesforceItemResult | undefined> = new Array(records.length);
    const sendable: Array<{ index: number; record: ContactFields }> = [];
    records.forEach((record, index) => {
      const ext = record[externalIdField];
      if (ext === null || ext === undefined || ext === '') {
        const error = new SyncError(
          'INVALID_INPUT',
          `record has no ${externalIdField} to upsert by`,
          {
            context: { externalIdField },
          },
        );
        results[index] = { success: false, id: null, error, errors: [] };
      } else {
        sendable.push({ index, record });
      }
    });
    const byChunk = chunks(sendable, this.chunkSize);
    const path = `/composite/sobjects/Contact/${encodeURIComponent(externalIdField)}`;
    await this.collections(
      'upsert',
      byChunk.map((chunk) => ({
        method: 'PATCH',
        path,
        body: { allOrNone: false, records: chunk.map((c) => contactRecord(c.record)) },
      })),
      (raw, n) => {
        const chunk = byChunk[n]!;
        const mapped = this.mapItems(raw, chunk.length, 'upsert');
        chunk.forEach((c, i) => (results[c.index] = mapped[i]));
      },
    );
    return results as SalesforceItemResult[];
  }

  async updateContacts(
    records: ReadonlyArray<ContactFields & { Id: string }>,
  ): Promise<SalesforceItemResult[]> {
    const out: SalesforceItemResult[] = [];
    const byChunk = chunks(records, this.chunkSize);
    await this.collections(
      'update',
      byChunk.map((chunk) => ({
        method: 'PATCH',
        path: '/composite/sobjects',
        body: { allOrNone: false, records: chunk.map(contactRecord) },
      })),
      (raw, n) => {
        const chunk = byChunk[n]!;
        out.push(
          ...this.mapItems(
            raw,
            chunk.length,
            'update',
            chunk.map((r) => r.Id),
          ),
        );
      },
    );
    return out;
  }

  async deleteContacts(ids: readonly string[]): Promise<SalesforceItemResult[]> {
    const out: SalesforceItemResult[] = [];
    const byChunk = chunks(ids, this.chunkSize);
    await this.collections(
      'delete',
      byChunk.map((chunk) => ({
        method: 'DELETE',
        path: `/composite/sobjects?ids=${chunk.map(encodeURIComponent).join(',')}&allOrNone=false`,
      })),
      (raw, n) => {
        const chunk = byChunk[n]!;
        out.push(...this.mapItems(raw, chunk.length, 'delete', chunk));
      },
    );
    return out;
  }

  /**
   * Sends collection requests in order, up to `collectionsPerCall` in one Composite call (one
   * API call for all of them); a lone one goes as itself. `each` gets every request's items in
   * order. A refused call, or a collection the Composite answer says was refused as a whole,
   * throws its mapped error; the collections before it have been written.
   */
  private async collections(
    op: string,
    requests: readonly CollectionRequest[],
    each: (raw: unknown, index: number) => void,
  ): Promise<void> {
    let index = 0;
    for (const group of chunks(requests, this.collectionsPerCall)) {
      if (group.length === 1) {
        const [only] = group as [CollectionRequest];
        each(
          await this.run(op, () =>
            this.conn.request({
              method: only.method,
              url: only.path,
              ...(only.body ? { body: JSON.stringify(only.body) } : {}),
              headers: { 'content-type': 'application/json' },
            }),
          ),
          index++,
        );
        continue;
      }
      const base = `/services/data/v${this.conn.version}`;
      const answer = await this.run(op, () =>
        this.conn.requestPost<{ compositeResponse?: CompositeSubresponse[] }>('/composite', {
          allOrNone: false,
          compositeRequest: group.map((r, i) => ({
            method: r.method,
            url: base + r.path,
            referenceId: `c${i}`,
            ...(r.body ? { body: r.body } : {}),
          })),
        }),
      );
      const subs = answer.compositeResponse ?? [];
      if (subs.length !== group.length) {
        throw new SyncError(
          'INTERNAL',
          `Salesforce answered ${subs.length} subrequests for ${group.length}`,
          { context: { op } },
        );
      }
      for (const sub of subs) {
        if (sub.httpStatusCode >= 300) throw toSalesforceError(subrequestError(sub), { op });
        each(sub.body, index++);
      }
    }
  }

  async *queryContacts(
    soql: string,
    options: QueryContactsOptions = {},
  ): AsyncIterable<ContactPage> {
    const scanAll = options.includeDeleted === true;
    let page: RawQueryResult = await this.run('query', () =>
      this.conn.query<Record<string, unknown>>(soql, {
        autoFetch: false,
        scanAll,
        maxFetch: MAX_FETCH,
      }),
    );
    for (;;) {
      yield {
        records: page.records.map(stripAttributes),
        totalSize: page.totalSize,
        done: page.done || !page.nextRecordsUrl,
      };
      if (page.done || !page.nextRecordsUrl) return;
      const locator = page.nextRecordsUrl.split('/').pop() ?? '';
      page = await this.run('queryMore', () =>
        this.conn.queryMore<Record<string, unknown>>(locator, {
          autoFetch: false,
          maxFetch: MAX_FETCH,
        } as QueryOptions),
      );
    }
  }

  async getContactsByIds(
    ids: readonly string[],
    fields: readonly string[],
    options: QueryContactsOptions = {},
  ): Promise<ContactRow[]> {
    const unique = [...new Set(ids)];
    const bad = unique.filter((id) => !SALESFORCE_ID.test(id));
    if (bad.length > 0) {
      throw new SyncError('INVALID_INPUT', `malformed Salesforce id: ${bad[0]}`, {
        context: { ids: bad.slice(0, 5).join(',') },
      });
    }
    const bareFields = fields.filter((f) => f.toLowerCase() !== 'id');
    const select = ['Id', ...new Set(bareFields)].join(', ');
    const out: ContactRow[] = [];
    for (const chunk of chunks(unique, this.idsPerQuery)) {
      const soql = `SELECT ${select} FROM Contact WHERE Id IN (${chunk.map(soqlString).join(', ')})`;
      for await (const page of this.queryContacts(soql, options)) out.push(...page.records);
    }
    return out;
  }

  async missingContactFields(fields: readonly string[]): Promise<string[]> {
    const described = await this.run('describe', () => this.conn.describe('Contact'));
    const present = new Set(described.fields.map((f) => f.name.toLowerCase()));
    return fields.filter((f) => !present.has(f.toLowerCase()));
  }

  apiUsage(): ApiUsage | null {
    const usage = this.conn.limitInfo?.apiUsage;
    return usage ? { used: usage.used, max: usage.limit } : null;
  }

  async limits(): Promise<ApiLimits> {
    const all = await this.run('limits', () => this.conn.limits());
    const daily = all.DailyApiRequests;
    if (!daily) {
      throw new SyncError('UPSTREAM_UNAVAILABLE', 'Salesforce /limits has no DailyApiRequests', {
        retriable: true,
      });
    }
    return { dailyApiRequests: { max: daily.Max, remaining: daily.Remaining }, all };
  }

  private async run<T>(op: string, call: () => PromiseLike<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw toSalesforceError(err, { op });
    }
  }

  private mapItems(
    raw: unknown,
    expected: number,
    op: string,
    ids?: readonly string[],
  ): SalesforceItemResult[] {
    const items = (Array.isArray(raw) ? raw : [raw]) as RawItem[];
    if (items.length !== expected) {
      throw new SyncError(
        'INTERNAL',
        `Salesforce answered ${items.length} results for ${expected} records`,
        { context: { op } },
      );
    }
    return items.map((item, i) => {
      const id = typeof item.id === 'string' && item.id !== '' ? item.id : (ids?.[i] ?? null);
      if (item.success === true && id !== null) {
        return { success: true, id, created: item.created === true };
      }
      const errors = itemErrorsOf(item.errors);
      return {
        success: false,
        id,
        errors,
        error: itemError(errors, { op, ...(id ? { id } : {}) }),
      };
    });
  }
}

/** The SalesforceApi of one org connection. */
export function createSalesforceApi(
  conn: Connection,
  options: SalesforceApiOptions = {},
): SalesforceApi {
  return new JsforceSalesforceApi(conn, options);
}
