import { parse } from 'csv-parse/sync';
import type { Connection } from 'jsforce';
import { HttpApi } from 'jsforce/lib/http-api';
import { toSalesforceError } from './salesforce-api';

/**
 * Raw calls to the Salesforce data API through the org's jsforce connection (so token refresh,
 * the pinned API version and the Sforce-Call-Options client tag all apply), for the Bulk API
 * 2.0 endpoints jsforce does not expose page by page. Errors come back as SyncErrors.
 */

function dataUrl(conn: Connection, path: string): string {
  return `/services/data/v${conn.version}${path}`;
}

/** A JSON call; resolves with the parsed body. */
export async function sfJson<T>(
  conn: Connection,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  try {
    return await conn.request<T>({
      method,
      url: dataUrl(conn, path),
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
  } catch (err) {
    throw toSalesforceError(err, { path });
  }
}

/** A CSV call: the body as text plus the response headers (Sforce-Locator and friends). */
export async function sfCsv(
  conn: Connection,
  method: 'GET' | 'PUT',
  path: string,
  body?: string,
): Promise<{ text: string; headers: Record<string, string | string[] | undefined> }> {
  // jsforce would parse a text/csv body into objects; as text/plain the CSV comes back as is.
  const api = new HttpApi(conn, { responseType: 'text/plain', noContentResponse: '' });
  let headers: Record<string, string | string[] | undefined> = {};
  api.on('response', (res: { headers?: Record<string, string | string[] | undefined> }) => {
    headers = res.headers ?? {};
  });
  try {
    const text = await api.request<unknown>({
      method,
      url: new URL(dataUrl(conn, path), conn.instanceUrl).toString(),
      headers: {
        Accept: 'text/csv',
        ...(body === undefined ? {} : { 'Content-Type': 'text/csv' }),
      },
      ...(body === undefined ? {} : { body }),
    });
    return { text: typeof text === 'string' ? text : '', headers };
  } catch (err) {
    throw toSalesforceError(err, { path });
  }
}

export function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | null {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

/**
 * A Bulk API 2.0 CSV text as rows keyed by the header: empty cells are nulls (Bulk's CSV has
 * no other way to say null). A row equal to the header is dropped: some clients (jsforce
 * 3.10's bulk2.query) splice every page's header in as data, and no record holds its own
 * column names as values.
 */
export function parseCsv(text: string): Array<Record<string, string | null>> {
  if (text.trim() === '') return [];
  const rows = parse(text, { skip_empty_lines: true, relax_column_count: true }) as string[][];
  const header = rows[0];
  if (!header) return [];
  const out: Array<Record<string, string | null>> = [];
  for (const row of rows.slice(1)) {
    if (row.length === header.length && row.every((v, i) => v === header[i])) continue;
    const rec: Record<string, string | null> = {};
    header.forEach((h, i) => {
      const v = row[i];
      rec[h] = v === undefined || v === '' ? null : v;
    });
    out.push(rec);
  }
  return out;
}
