import type { Request } from 'express';
import { ApiFault, RecordFault } from './api-fault';
import { KeyPrefix, to18 } from './ids';
import type { ContactRecord } from './model';
import type { FieldDef } from './schema';

export function recordUrl(apiVersion: string, id: string): string {
  return `/services/data/v${apiVersion}/sobjects/Contact/${id}`;
}

/** A record as the REST API returns it: `attributes` first, then the fields in order. */
export function renderRecord(
  r: ContactRecord,
  fields: readonly FieldDef[],
  apiVersion: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    attributes: { type: 'Contact', url: recordUrl(apiVersion, String(r.Id)) },
  };
  for (const f of fields) out[f.name] = r[f.name] ?? null;
  return out;
}

/** 404 unless the `:sobject` path segment names Contact (case-insensitive, like Salesforce). */
export function requireContact(req: Request): void {
  if (String(req.params.sobject).toLowerCase() !== 'contact') {
    throw new ApiFault(404, 'NOT_FOUND', 'The requested resource does not exist');
  }
}

/**
 * Resolves a record id from a URL segment. Something that is not id-shaped is read by
 * Salesforce as an external id field name, hence its 404 text; an id of another object is a
 * MALFORMED_ID.
 */
export function pathRecordId(raw: string): string {
  const id = to18(raw);
  if (id === null) {
    if (/^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(raw)) throw malformedId(raw).toApiFault();
    throw new ApiFault(
      404,
      'NOT_FOUND',
      `Provided external ID field does not exist or is not accessible: ${raw}`,
    );
  }
  if (!id.startsWith(KeyPrefix.contact)) throw malformedId(raw).toApiFault();
  return id;
}

export function malformedId(raw: string): RecordFault {
  return new RecordFault('MALFORMED_ID', `Contact ID: id value of incorrect type: ${raw}`, ['Id']);
}

/** Status for a single-record failure: missing and deleted records are 404s. */
export function singleRecordFault(err: RecordFault): ApiFault {
  const notFound =
    err.error.statusCode === 'NOT_FOUND' || err.error.statusCode === 'ENTITY_IS_DELETED';
  return err.toApiFault(notFound ? 404 : 400);
}
