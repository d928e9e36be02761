import express from 'express';
import type { Request, Response, Router } from 'express';
import { ApiFault, RecordFault } from './api-fault';
import { describeContact, describeGlobal } from './describe';
import type { Org } from './org';
import { pathRecordId, renderRecord, requireContact, singleRecordFault } from './render';
import { callContext, requestOrg, writeContext } from './rest-context';
import type { Transaction } from './store';
import { deserializeRecord } from './validation';

/** Runs one single-record write as its own transaction; record faults become HTTP errors. */
function single<T>(org: Org, res: Response, work: (tx: Transaction) => T): T {
  const tx = org.store.begin(writeContext(res, 'rest'));
  try {
    const out = work(tx);
    tx.commit();
    return out;
  } catch (err) {
    tx.rollback();
    if (err instanceof RecordFault) throw singleRecordFault(err);
    throw err;
  }
}

/** The external id field named in a URL, or a 404 as Salesforce answers for unknown ones. */
function externalIdField(org: Org, name: string): string {
  const f = org.store.schema.field(name);
  if (!f || !(f.externalId || f.name === 'Id')) {
    throw new ApiFault(
      404,
      'NOT_FOUND',
      `Provided external ID field does not exist or is not accessible: ${name}`,
    );
  }
  return f.name;
}

/**
 * `/sobjects` routes: global and Contact describe, create, retrieve, update, delete, and
 * upsert / retrieve by external id. Each call is one transaction.
 */
export function sobjectsRouter(): Router {
  const router = express.Router({ mergeParams: true });

  router.get('/sobjects', (_req, res) => {
    res.json(describeGlobal(callContext(res).apiVersion));
  });

  router.get('/sobjects/:sobject/describe', (req, res) => {
    requireContact(req);
    res.json(describeContact(requestOrg(res).store.schema, callContext(res).apiVersion));
  });

  router.get('/sobjects/:sobject', (req, res) => {
    requireContact(req);
    const full = describeContact(requestOrg(res).store.schema, callContext(res).apiVersion);
    const { fields: _fields, ...objectDescribe } = full;
    res.json({ objectDescribe, recentItems: [] });
  });

  router.post('/sobjects/:sobject', (req, res) => {
    requireContact(req);
    const values = deserializeRecord(req.body, requestOrg(res).store.schema);
    const id = single(requestOrg(res), res, (tx) => tx.insert(values));
    res.status(201).json({ id, success: true, errors: [] });
  });

  const fieldsParam = (req: Request, res: Response) => {
    const raw = typeof req.query.fields === 'string' ? req.query.fields : undefined;
    if (!raw) return requestOrg(res).store.schema.fields();
    return raw.split(',').map((name) => {
      const f = requestOrg(res).store.schema.field(name.trim());
      if (!f)
        throw new ApiFault(
          400,
          'INVALID_FIELD',
          `No such column '${name.trim()}' on sobject of type Contact`,
        );
      return f;
    });
  };

  const getById = (req: Request, res: Response, id: string): void => {
    const r = requestOrg(res).store.get(id);
    if (!r) throw new ApiFault(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (r.IsDeleted) throw new ApiFault(404, 'ENTITY_IS_DELETED', 'entity is deleted', []);
    res.json(renderRecord(r, fieldsParam(req, res), callContext(res).apiVersion));
  };

  router.get('/sobjects/:sobject/:id', (req, res) => {
    requireContact(req);
    getById(req, res, pathRecordId(String(req.params.id)));
  });

  router.patch('/sobjects/:sobject/:id', (req, res) => {
    requireContact(req);
    const id = pathRecordId(String(req.params.id));
    const values = deserializeRecord(req.body, requestOrg(res).store.schema);
    single(requestOrg(res), res, (tx) => tx.update(id, values));
    res.status(204).end();
  });

  router.delete('/sobjects/:sobject/:id', (req, res) => {
    requireContact(req);
    const id = pathRecordId(String(req.params.id));
    single(requestOrg(res), res, (tx) => tx.remove(id));
    res.status(204).end();
  });

  router.get('/sobjects/:sobject/:field/:value', (req, res) => {
    requireContact(req);
    const field = externalIdField(requestOrg(res), String(req.params.field));
    const value = String(req.params.value);
    if (field === 'Id') {
      getById(req, res, pathRecordId(value));
      return;
    }
    const ids = requestOrg(res).store.findByExternalId(field, value);
    if (ids.length === 0)
      throw new ApiFault(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (ids.length > 1) {
      res
        .status(300)
        .json(
          ids.map((id) => `/services/data/v${callContext(res).apiVersion}/sobjects/Contact/${id}`),
        );
      return;
    }
    getById(req, res, ids[0]!);
  });

  router.patch('/sobjects/:sobject/:field/:value', (req, res) => {
    requireContact(req);
    const field = externalIdField(requestOrg(res), String(req.params.field));
    const value = String(req.params.value);
    const values = deserializeRecord(req.body, requestOrg(res).store.schema);
    const inBody = values[field];
    if (inBody !== undefined && String(inBody).toLowerCase() !== value.toLowerCase()) {
      throw new ApiFault(
        400,
        'INVALID_FIELD',
        `The value of ${field} in the request body does not match the value in the URL: ${value}`,
        [field],
      );
    }
    delete values[field];
    const version = callContext(res).apiVersion;
    const matches =
      field === 'Id' ? [pathRecordId(value)] : requestOrg(res).store.findByExternalId(field, value);
    if (matches.length > 1) {
      res
        .status(300)
        .json(matches.map((id) => `/services/data/v${version}/sobjects/Contact/${id}`));
      return;
    }
    const existing = matches[0];
    if (existing === undefined) {
      const id = single(requestOrg(res), res, (tx) => tx.insert({ ...values, [field]: value }));
      res.status(201).json({ id, success: true, errors: [], created: true });
      return;
    }
    single(requestOrg(res), res, (tx) => tx.update(existing, values));
    // Before v46.0 an upsert that updated answered 204.
    if (Number(version) < 46) res.status(204).end();
    else res.status(200).json({ id: existing, success: true, errors: [], created: false });
  });

  router.delete('/sobjects/:sobject/:field/:value', (req, res) => {
    requireContact(req);
    const field = externalIdField(requestOrg(res), String(req.params.field));
    const ids =
      field === 'Id'
        ? [pathRecordId(String(req.params.value))]
        : requestOrg(res).store.findByExternalId(field, String(req.params.value));
    if (ids.length === 0)
      throw new ApiFault(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (ids.length > 1) throw new ApiFault(300, 'MULTIPLE_CHOICES', 'More than one record matches');
    single(requestOrg(res), res, (tx) => tx.remove(ids[0]!));
    res.status(204).end();
  });

  return router;
}
