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
   * sObject Collections upsert by `externalIdField`, allOrNone false: one call per 200 records,
   * sequential, items in order. A record without its external id fails as INVALID_INPUT without
   * being sent. A request-level failure throws; chunks before it have landed (upserts are
   * idempotent, so a retry of all is safe).
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
  /** Records per collection call; Salesforce's maximum is 200. */
  chunkSize?: number;
  /** Ids per `Id IN (...)` query, keeping the URL well under Salesforce's 16 KB. */
  idsPerQuery?: number;
}

const MAX_COLLECTION = 200;
const SALESFORCE_ID = /^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/;
// jsforce stops a query at maxFetch (default 10,000) even page by page; pages are ours to bound.
const MAX_FETCH = Number.MAX_SAFE_INTEGER;

type RawItem = { id?: unknown; success?: unknown; created?: unknown; errors?: unknown };
type RawQueryResult = QueryResult<Record<string, unknown>>;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function stripAttributes(record: Record<string, unknown>): ContactRow {
  const { attributes: _attributes, ...rest } = record;
  return rest as ContactRow;
}

function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** jsforce Connection adapter of SalesforceApi (API version and client tag come with `conn`). */
export class JsforceSalesforceApi implements SalesforceApi {
  private readonly chunkSize: number;
  private readonly idsPerQuery: number;

  constructor(
    private readonly conn: Connection,
    options: SalesforceApiOptions = {},
  ) {
    this.chunkSize = Math.min(MAX_COLLECTION, Math.max(1, options.chunkSize ?? MAX_COLLECTION));
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
    for (const chunk of chunks(sendable, this.chunkSize)) {
      const raw = await this.run('upsert', () =>
        this.conn.sobject('Contact').upsert(
          chunk.map((c) => ({ ...c.record })),
          externalIdField,
          { allOrNone: false, allowRecursive: true },
        ),
      );
      const mapped = this.mapItems(raw, chunk.length, 'upsert');
      chunk.forEach((c, i) => (results[c.index] = mapped[i]));
    }
    return results as SalesforceItemResult[];
  }

  async updateContacts(
    records: ReadonlyArray<ContactFields & { Id: string }>,
  ): Promise<SalesforceItemResult[]> {
    const out: SalesforceItemResult[] = [];
    for (const chunk of chunks(records, this.chunkSize)) {
      const raw = await this.run('update', () =>
        this.conn.sobject('Contact').update(
          chunk.map((r) => ({ ...r })),
          { allOrNone: false, allowRecursive: true },
        ),
      );
      out.push(
        ...this.mapItems(
          raw,
          chunk.length,
          'update',
          chunk.map((r) => r.Id),
        ),
      );
    }
    return out;
  }

  async deleteContacts(ids: readonly string[]): Promise<SalesforceItemResult[]> {
    const out: SalesforceItemResult[] = [];
    for (const chunk of chunks(ids, this.chunkSize)) {
      const raw = await this.run('delete', () =>
        this.conn
          .sobject('Contact')
          .destroy([...chunk], { allOrNone: false, allowRecursive: true }),
      );
      out.push(...this.mapItems(raw, chunk.length, 'delete', chunk));
    }
    return out;
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
