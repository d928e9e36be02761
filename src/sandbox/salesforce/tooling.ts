import express from 'express';
import type { Request, Response, Router } from 'express';
import { ApiFault, RecordFault } from './api-fault';
import { developerNameOf, metadataTypeOf } from './field-metadata';
import type { CustomFieldMetadata } from './field-metadata';
import { singleRecordFault } from './render';
import { callContext, requestOrg } from './rest-context';
import { toolingTables } from './setup-tables';
import type { SetupTable } from './setup-tables';
import { SoqlError } from './soql/errors';
import { compileSoql, runQuery } from './soql/evaluate';
import { parseSoql } from './soql/parser';

/**
 * The Tooling API (`/services/data/vXX.X/tooling/...`) as far as an admin or the connector needs
 * it here: creating and deleting Contact custom fields (CustomField), selecting Contact for
 * Change Data Capture (PlatformEventChannelMember), and querying both. jsforce's
 * `conn.tooling.sobject('CustomField').create({ FullName: 'Contact.X__c', Metadata: {...} })`
 * lands here, and describe lists the field at once.
 */

/** Runs a setup-object query: the table named in FROM, or INVALID_TYPE as Salesforce says it. */
export function querySetupTables(
  tables: readonly SetupTable[],
  soql: string,
): {
  table: SetupTable;
  rows: Array<Record<string, string | number | boolean | null>>;
  count: boolean;
} {
  try {
    const from = parseSoql(soql).from;
    const table = tables.find((t) => t.objectName.toLowerCase() === from.name.toLowerCase());
    if (!table) {
      throw new ApiFault(
        400,
        'INVALID_TYPE',
        `sObject type '${from.name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    }
    const q = compileSoql(soql, table);
    const hits = runQuery(q, table.rows());
    return {
      table,
      count: q.count,
      rows: hits.map((r) => {
        const out: Record<string, string | number | boolean | null> = {};
        for (const f of q.fields) out[f.name] = r[f.name] ?? null;
        return out;
      }),
    };
  } catch (err) {
    if (err instanceof SoqlError) throw new ApiFault(400, err.errorCode, err.message);
    throw err;
  }
}

function toolingUrl(version: string, type: string, id: string): string {
  return `/services/data/v${version}/tooling/sobjects/${type}/${id}`;
}

/** Runs a setup change; record faults become Salesforce's single-record error answers. */
function change<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof RecordFault) throw singleRecordFault(err);
    throw err;
  }
}

function created(res: Response, id: string): void {
  res.status(201).json({ id, success: true, errors: [], warnings: [], infos: [] });
}

function bodyOf(req: Request): { FullName: unknown; Metadata: Record<string, unknown> } {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const md = body.Metadata;
  if (typeof md !== 'object' || md === null || Array.isArray(md)) {
    throw new ApiFault(400, 'REQUIRED_FIELD_MISSING', 'Required fields are missing: [Metadata]', [
      'Metadata',
    ]);
  }
  return { FullName: body.FullName, Metadata: md as Record<string, unknown> };
}

export function toolingRouter(): Router {
  const router = express.Router({ mergeParams: true });

  router.get('/tooling/query', (req, res) => {
    const soql = req.query.q;
    if (typeof soql !== 'string' || soql.trim() === '') {
      throw new ApiFault(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    }
    const { table, rows, count } = querySetupTables(toolingTables(requestOrg(res)), soql);
    const version = callContext(res).apiVersion;
    const records = count
      ? []
      : rows.map((r) => ({
          attributes: {
            type: table.objectName,
            url: toolingUrl(version, table.objectName, String(r.Id ?? '')),
          },
          ...r,
        }));
    res.json({
      size: count ? rows.length : records.length,
      totalSize: count ? rows.length : records.length,
      done: true,
      queryLocator: null,
      entityTypeName: table.objectName,
      records,
    });
  });

  router.post('/tooling/sobjects/CustomField', (req, res) => {
    const { FullName, Metadata } = bodyOf(req);
    const org = requestOrg(res);
    const id = change(() =>
      org.setup.createCustomField(
        typeof FullName === 'string' ? FullName : '',
        Metadata as unknown as CustomFieldMetadata,
      ),
    );
    created(res, id);
  });

  router.get('/tooling/sobjects/CustomField/:id', (req, res) => {
    const org = requestOrg(res);
    const f = org.setup.customField(String(req.params.id));
    if (!f) throw new ApiFault(404, 'NOT_FOUND', 'The requested resource does not exist');
    const def = org.store.schema.field(f.name);
    res.json({
      attributes: {
        type: 'CustomField',
        url: toolingUrl(callContext(res).apiVersion, 'CustomField', f.id),
      },
      Id: f.id,
      DeveloperName: developerNameOf(f.name),
      TableEnumOrId: 'Contact',
      FullName: `Contact.${f.name}`,
      Metadata: { ...f.metadata, type: f.metadata.type || (def ? metadataTypeOf(def) : 'Text') },
    });
  });

  router.delete('/tooling/sobjects/CustomField/:id', (req, res) => {
    change(() => requestOrg(res).setup.deleteCustomField(String(req.params.id)));
    res.status(204).end();
  });

  router.post('/tooling/sobjects/PlatformEventChannelMember', (req, res) => {
    const { FullName, Metadata } = bodyOf(req);
    const org = requestOrg(res);
    const id = change(() =>
      org.setup.createChannelMember(
        typeof FullName === 'string' ? FullName : '',
        typeof Metadata.eventChannel === 'string' ? Metadata.eventChannel : '',
        typeof Metadata.selectedEntity === 'string' ? Metadata.selectedEntity : '',
      ),
    );
    created(res, id);
  });

  router.get('/tooling/sobjects/PlatformEventChannelMember/:id', (req, res) => {
    const m = requestOrg(res).setup.channelMember(String(req.params.id));
    if (!m) throw new ApiFault(404, 'NOT_FOUND', 'The requested resource does not exist');
    res.json({
      attributes: {
        type: 'PlatformEventChannelMember',
        url: toolingUrl(callContext(res).apiVersion, 'PlatformEventChannelMember', m.id),
      },
      Id: m.id,
      DeveloperName: m.developerName,
      SelectedEntity: m.selectedEntity,
      FullName: m.developerName,
      Metadata: { eventChannel: m.eventChannel, selectedEntity: m.selectedEntity },
    });
  });

  router.delete('/tooling/sobjects/PlatformEventChannelMember/:id', (req, res) => {
    change(() => requestOrg(res).setup.deleteChannelMember(String(req.params.id)));
    res.status(204).end();
  });

  return router;
}
