import express from 'express';
import type { Request, Response, Router } from 'express';
import { ApiFault } from './api-fault';
import { KeyPrefix } from './ids';
import type { Org } from './org';
import { renderRecord } from './render';
import { callContext, requestOrg } from './rest-context';
import { dataSetupTables } from './setup-tables';
import { SoqlError } from './soql/errors';
import { compileSoql, runQuery } from './soql/evaluate';
import type { CompiledQuery } from './soql/evaluate';
import { parseSoql } from './soql/parser';
import { querySetupTables } from './tooling';

/** Salesforce drops idle query cursors after 15 minutes. */
const CURSOR_IDLE_MS = 15 * 60_000;
/** Open cursors kept per org before the oldest is dropped (Salesforce: 10 per user). */
const MAX_CURSORS = 50;

interface Cursor {
  records: Record<string, unknown>[];
  touchedAt: number;
}

/** Runs SOQL for REST or Bulk; SOQL failures become 400s with Salesforce's error codes. */
export function compileOrFault(org: Org, soql: string): CompiledQuery {
  try {
    return compileSoql(soql, org.store.schema);
  } catch (err) {
    if (err instanceof SoqlError) throw new ApiFault(400, err.errorCode, err.message);
    throw err;
  }
}

/** Rows a query sees: `/query` skips the recycle bin, `/queryAll` includes it. */
export function queryRows(org: Org, q: CompiledQuery, includeDeleted: boolean) {
  const rows = [...org.store.rows()].filter((r) => includeDeleted || r.IsDeleted !== true);
  return runQuery(q, rows);
}

/**
 * `/query` and `/queryAll`: pages of at most `pageSize` records (or the smaller
 * `Sforce-Query-Options: batchSize`), with server-side cursors snapshotting the result so
 * `nextRecordsUrl` pages are stable, as in Salesforce.
 */
export function queryRouter(): Router {
  const router = express.Router({ mergeParams: true });
  /** Each org's open cursors, made on its first paged query. */
  const cursorsByOrg = new WeakMap<Org, Map<string, Cursor>>();
  const cursorsOf = (org: Org): Map<string, Cursor> => {
    let cursors = cursorsByOrg.get(org);
    if (!cursors) {
      cursors = new Map();
      cursorsByOrg.set(org, cursors);
    }
    return cursors;
  };

  const pageSize = (org: Org, req: Request): number => {
    const m = /batchSize\s*=\s*(\d+)/i.exec(String(req.headers['sforce-query-options'] ?? ''));
    const asked = m ? Math.max(200, Math.min(2000, Number(m[1]))) : org.config.pageSize;
    return Math.min(asked, org.config.pageSize);
  };

  const page = (
    org: Org,
    res: Response,
    cursorId: string,
    cursor: Cursor,
    offset: number,
    size: number,
    route: string,
  ): void => {
    const records = cursor.records.slice(offset, offset + size);
    const next = offset + records.length;
    const done = next >= cursor.records.length;
    if (done) cursorsOf(org).delete(cursorId);
    else cursor.touchedAt = org.now();
    res.json({
      totalSize: cursor.records.length,
      done,
      ...(done
        ? {}
        : {
            nextRecordsUrl: `/services/data/v${callContext(res).apiVersion}/${route}/${cursorId}-${next}`,
          }),
      records,
    });
  };

  const prune = (org: Org): void => {
    const cursors = cursorsOf(org);
    const now = org.now();
    for (const [id, c] of cursors) if (now - c.touchedAt > CURSOR_IDLE_MS) cursors.delete(id);
    while (cursors.size >= MAX_CURSORS) cursors.delete(cursors.keys().next().value!);
  };

  /** PermissionSet and PermissionSetAssignment queries (few rows: one page, no cursor). */
  const setupObjectQuery = (org: Org, soql: string) => {
    let from: string;
    try {
      from = parseSoql(soql).from.name.toLowerCase();
    } catch {
      return null; // the Contact path reports the syntax error
    }
    const tables = dataSetupTables(org);
    if (!tables.some((t) => t.objectName.toLowerCase() === from)) return null;
    return (version: string) => {
      const { table, rows, count } = querySetupTables(tables, soql);
      const records = count
        ? []
        : rows.map((r) => ({
            attributes: {
              type: table.objectName,
              url: `/services/data/v${version}/sobjects/${table.objectName}/${String(r.Id ?? '')}`,
            },
            ...r,
          }));
      return { totalSize: rows.length, done: true, records };
    };
  };

  const run = (route: 'query' | 'queryAll') => (req: Request, res: Response) => {
    const soql = req.query.q;
    if (typeof soql !== 'string' || soql.trim() === '') {
      throw new ApiFault(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    }
    const org = requestOrg(res);
    const setup = setupObjectQuery(org, soql);
    if (setup) {
      res.json(setup(callContext(res).apiVersion));
      return;
    }
    const q = compileOrFault(org, soql);
    const hits = queryRows(org, q, route === 'queryAll');
    if (q.count) {
      res.json({ totalSize: hits.length, done: true, records: [] });
      return;
    }
    const version = callContext(res).apiVersion;
    prune(org);
    const cursorId = org.ids.next(KeyPrefix.queryLocator);
    const cursor: Cursor = {
      records: hits.map((r) => renderRecord(r, q.fields, version)),
      touchedAt: org.now(),
    };
    cursorsOf(org).set(cursorId, cursor);
    page(org, res, cursorId, cursor, 0, pageSize(org, req), 'query');
  };

  const more = (req: Request, res: Response): void => {
    const locator = String(req.params.locator);
    const m = /^(.+)-(\d+)$/.exec(locator);
    const org = requestOrg(res);
    const cursor = m ? cursorsOf(org).get(m[1]!) : undefined;
    if (!m || !cursor || Number(m[2]) > cursor.records.length) {
      throw new ApiFault(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    }
    page(org, res, m[1]!, cursor, Number(m[2]), pageSize(org, req), 'query');
  };

  router.get('/query', run('query'));
  router.get('/queryAll', run('queryAll'));
  router.get('/query/:locator', more);
  router.get('/queryAll/:locator', more);
  return router;
}
