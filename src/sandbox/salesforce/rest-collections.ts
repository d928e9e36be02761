import express from 'express';
import type { Request, Response, Router } from 'express';
import { ApiFault, RecordFault } from './api-fault';
import type { RecordError } from './api-fault';
import type { Org } from './org';
import { malformedId, renderRecord, requireContact } from './render';
import { callContext, requestOrg, writeContext } from './rest-context';
import { KeyPrefix, to18 } from './ids';
import type { Transaction } from './store';
import { deserializeRecord } from './validation';
import type { FieldValues } from './validation';

/** sObject Collections take at most 200 records per call. */
export const MAX_COLLECTION = 200;

interface ItemResult {
  id?: string;
  success: boolean;
  errors: RecordError[];
  created?: boolean;
}

const ROLLED_BACK: RecordError = {
  statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  message:
    'Record rolled back because not all records were valid and the request was using AllOrNone header',
  fields: [],
};

function tooMany(): ApiFault {
  return new ApiFault(
    400,
    'EXCEEDED_ID_LIMIT',
    `record limit reached. cannot submit more than ${MAX_COLLECTION} records into this call`,
  );
}

interface CollectionBody {
  allOrNone: boolean;
  records: Record<string, unknown>[];
}

function parseBody(req: Request): CollectionBody {
  const body = req.body as unknown;
  if (
    typeof body !== 'object' ||
    body === null ||
    !Array.isArray((body as { records?: unknown }).records)
  ) {
    throw new ApiFault(
      400,
      'JSON_PARSER_ERROR',
      'The request body must be an object with a records array',
    );
  }
  const { allOrNone, records } = body as { allOrNone?: unknown; records: unknown[] };
  if (records.length > MAX_COLLECTION) throw tooMany();
  for (const r of records) {
    if (typeof r !== 'object' || r === null)
      throw new ApiFault(400, 'JSON_PARSER_ERROR', 'Each record must be an object');
    const type = (r as { attributes?: { type?: unknown } }).attributes?.type;
    if (typeof type !== 'string') {
      throw new ApiFault(
        400,
        'INVALID_TYPE',
        'When the request body contains an sObject, the sObject type must be specified',
      );
    }
    if (type.toLowerCase() !== 'contact')
      throw new ApiFault(400, 'INVALID_TYPE', `sObject type '${type}' is not supported.`);
  }
  return {
    allOrNone: allOrNone === true || allOrNone === 'true',
    records: records as Record<string, unknown>[],
  };
}

/**
 * Runs the items in order inside one transaction (one API call = one transaction key). With
 * allOrNone, any failure rolls everything back and the other items report
 * ALL_OR_NONE_OPERATION_ROLLED_BACK; nothing is published.
 */
function runItems(
  org: Org,
  res: Response,
  allOrNone: boolean,
  items: ((tx: Transaction) => ItemResult)[],
): ItemResult[] {
  const tx = org.store.begin(writeContext(res, 'rest'));
  const results = items.map((work) => {
    try {
      return work(tx);
    } catch (err) {
      if (err instanceof RecordFault) return { success: false, errors: [err.error] };
      tx.rollback();
      throw err;
    }
  });
  if (allOrNone && results.some((r) => !r.success)) {
    tx.rollback();
    // Ids of rolled-back inserts no longer exist, so only surviving records keep theirs.
    const survives = (id?: string): boolean => id !== undefined && org.store.get(id) !== undefined;
    return results.map((r) =>
      r.success
        ? { ...(survives(r.id) ? { id: r.id } : {}), success: false, errors: [ROLLED_BACK] }
        : r,
    );
  }
  tx.commit();
  return results;
}

function recordId(raw: unknown): string {
  if (typeof raw !== 'string' || raw === '')
    throw new RecordFault('MISSING_ARGUMENT', 'Id not specified in an update call', ['Id']);
  const id = to18(raw);
  if (!id || !id.startsWith(KeyPrefix.contact)) throw malformedId(raw);
  return id;
}

/** Missing records in a collection write: never-existing ids differ from recycled ones. */
function liveOrFault(tx: Transaction, id: string): void {
  try {
    tx.live(id);
  } catch (err) {
    if (err instanceof RecordFault && err.error.statusCode === 'NOT_FOUND') {
      throw new RecordFault('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', []);
    }
    throw err;
  }
}

/** `/composite/sobjects` (create, update, delete, retrieve) and its upsert form. */
export function collectionsRouter(): Router {
  const router = express.Router({ mergeParams: true });

  router.post('/composite/sobjects', (req, res) => {
    const body = parseBody(req);
    const values = body.records.map((r) =>
      deserializeRecord(r, requestOrg(res).store.schema, true),
    );
    const results = runItems(
      requestOrg(res),
      res,
      body.allOrNone,
      values.map((v) => (tx) => {
        if (v.Id !== undefined)
          throw new RecordFault('INVALID_FIELD', 'cannot specify Id in an insert call', ['Id']);
        return { id: tx.insert(v), success: true, errors: [] };
      }),
    );
    res.json(results);
  });

  router.patch('/composite/sobjects', (req, res) => {
    const body = parseBody(req);
    const items = body.records.map((r) => ({
      rawId: r.id ?? r.Id,
      values: deserializeRecord(
        { ...r, id: undefined, Id: undefined },
        requestOrg(res).store.schema,
      ),
    }));
    const results = runItems(
      requestOrg(res),
      res,
      body.allOrNone,
      items.map((item) => (tx) => {
        const id = recordId(item.rawId);
        try {
          liveOrFault(tx, id);
          tx.update(id, item.values);
        } catch (err) {
          if (err instanceof RecordFault) return { id, success: false, errors: [err.error] };
          throw err;
        }
        return { id, success: true, errors: [] };
      }),
    );
    res.json(results);
  });

  router.delete('/composite/sobjects', (req, res) => {
    const raw = typeof req.query.ids === 'string' ? req.query.ids : '';
    const ids = raw.split(',').filter((s) => s !== '');
    if (ids.length === 0)
      throw new ApiFault(400, 'MISSING_ARGUMENT', 'The ids parameter is required');
    if (ids.length > MAX_COLLECTION) throw tooMany();
    const allOrNone = req.query.allOrNone === 'true';
    const results = runItems(
      requestOrg(res),
      res,
      allOrNone,
      ids.map((rawId) => (tx) => {
        const id = recordId(rawId);
        try {
          liveOrFault(tx, id);
          tx.remove(id);
        } catch (err) {
          if (err instanceof RecordFault) return { id, success: false, errors: [err.error] };
          throw err;
        }
        return { id, success: true, errors: [] };
      }),
    );
    res.json(results);
  });

  const retrieve = (req: Request, res: Response, ids: string[], fieldNames: string[]): void => {
    requireContact(req);
    if (ids.length > 2000) throw tooMany();
    const fields = fieldNames.map((n) => {
      const f = requestOrg(res).store.schema.field(n);
      if (!f)
        throw new ApiFault(
          400,
          'INVALID_FIELD',
          `No such column '${n}' on sobject of type Contact`,
        );
      return f;
    });
    const version = callContext(res).apiVersion;
    res.json(
      ids.map((raw) => {
        const id = to18(raw);
        const r = id ? requestOrg(res).store.get(id) : undefined;
        return r && !r.IsDeleted ? renderRecord(r, fields, version) : null;
      }),
    );
  };
  router.get('/composite/sobjects/:sobject', (req, res) => {
    const list = (v: unknown): string[] =>
      typeof v === 'string' ? v.split(',').filter((s) => s !== '') : [];
    retrieve(req, res, list(req.query.ids), list(req.query.fields));
  });

  router.post('/composite/sobjects/:sobject', (req, res) => {
    const body = (req.body ?? {}) as { ids?: unknown; fields?: unknown };
    const ids = Array.isArray(body.ids) ? body.ids.map(String) : [];
    const fields = Array.isArray(body.fields) ? body.fields.map(String) : [];
    retrieve(req, res, ids, fields);
  });

  router.patch('/composite/sobjects/:sobject/:field', (req, res) => {
    requireContact(req);
    const fieldName = String(req.params.field);
    const field = requestOrg(res).store.schema.field(fieldName);
    if (!field || !(field.externalId || field.name === 'Id')) {
      throw new ApiFault(
        400,
        'INVALID_FIELD',
        `Field name provided, ${fieldName} does not match an External ID, Salesforce Id, or indexed field for Contact`,
      );
    }
    const body = parseBody(req);
    const items: FieldValues[] = body.records.map((r) =>
      deserializeRecord(r, requestOrg(res).store.schema, true),
    );
    const counts = new Map<string, number>();
    for (const v of items) {
      const key = v[field.name];
      if (typeof key === 'string')
        counts.set(key.toLowerCase(), (counts.get(key.toLowerCase()) ?? 0) + 1);
    }
    const results = runItems(
      requestOrg(res),
      res,
      body.allOrNone,
      items.map((v) => (tx) => {
        const key = v[field.name];
        if (key === null || key === undefined) {
          throw new RecordFault('MISSING_ARGUMENT', `${field.name} not specified`, [field.name]);
        }
        const keyText = String(key);
        if ((counts.get(keyText.toLowerCase()) ?? 0) > 1) {
          throw new RecordFault(
            'DUPLICATE_EXTERNAL_ID',
            `Duplicate external id specified: ${keyText}`,
            [field.name],
          );
        }
        const { Id: _ignored, ...rest } = v;
        const matches =
          field.name === 'Id'
            ? [recordId(keyText)]
            : requestOrg(res).store.findByExternalId(field.name, keyText);
        if (matches.length > 1) {
          throw new RecordFault(
            'DUPLICATE_EXTERNAL_ID',
            `Multiple records matched ${field.name}: ${keyText}`,
            [field.name],
          );
        }
        const existing = matches[0];
        if (existing === undefined)
          return { id: tx.insert(rest), success: true, errors: [], created: true };
        delete rest[field.name];
        tx.update(existing, rest);
        return { id: existing, success: true, errors: [], created: false };
      }),
    );
    res.json(results);
  });

  return router;
}
