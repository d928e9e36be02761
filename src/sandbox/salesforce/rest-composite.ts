import { randomBytes } from 'node:crypto';
import express from 'express';
import type { Request, Router } from 'express';
import { ApiFault } from './api-fault';

/** Salesforce's limits on one composite request. */
export const MAX_SUBREQUESTS = 25;
export const MAX_COLLECTION_OR_QUERY_SUBREQUESTS = 5;

/** Header a subrequest carries back into the data API: it is part of a call already counted. */
export const SUBREQUEST_HEADER = 'x-sandbox-composite-subrequest';

interface Subrequest {
  method: string;
  url: string;
  referenceId: string;
  body?: unknown;
}

const METHODS = new Set(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']);
const REFERENCE_ID = /^[A-Za-z0-9_]{1,80}$/;
const DATA_URL = /^\/services\/data\/v\d+\.\d\//;

function invalid(message: string): ApiFault {
  return new ApiFault(400, 'INVALID_API_INPUT', message);
}

function parseComposite(body: unknown): { allOrNone: boolean; requests: Subrequest[] } {
  const b = body as { allOrNone?: unknown; compositeRequest?: unknown } | null;
  if (typeof b !== 'object' || b === null || !Array.isArray(b.compositeRequest)) {
    throw new ApiFault(400, 'JSON_PARSER_ERROR', 'The request body must have a compositeRequest');
  }
  const requests = b.compositeRequest as unknown[];
  if (requests.length === 0) throw invalid('compositeRequest must not be empty');
  if (requests.length > MAX_SUBREQUESTS) {
    throw invalid(`Composite request may have at most ${MAX_SUBREQUESTS} subrequests`);
  }
  const seen = new Set<string>();
  let heavy = 0;
  const out = requests.map((raw): Subrequest => {
    const r = raw as Partial<Subrequest> | null;
    if (typeof r !== 'object' || r === null) throw invalid('Each subrequest must be an object');
    const method = typeof r.method === 'string' ? r.method.toUpperCase() : '';
    if (!METHODS.has(method)) throw invalid(`Invalid subrequest method: ${String(r.method)}`);
    if (typeof r.url !== 'string' || !DATA_URL.test(r.url)) {
      throw invalid('A subrequest url must start with /services/data/vXX.X/');
    }
    if (typeof r.referenceId !== 'string' || !REFERENCE_ID.test(r.referenceId)) {
      throw invalid('A subrequest needs a referenceId of letters, digits and underscores');
    }
    if (seen.has(r.referenceId)) throw invalid(`Duplicate referenceId: ${r.referenceId}`);
    if (/@\{/.test(r.url) || /@\{/.test(JSON.stringify(r.body ?? null))) {
      throw invalid('The sandbox does not support @{reference} substitution');
    }
    seen.add(r.referenceId);
    if (/\/(composite\/sobjects|query|queryAll)(\/|\?|$)/.test(r.url)) heavy++;
    else if (/\/composite(\/|\?|$)/.test(r.url)) throw invalid('Composite requests do not nest');
    return { method, url: r.url, referenceId: r.referenceId, body: r.body };
  });
  if (heavy > MAX_COLLECTION_OR_QUERY_SUBREQUESTS) {
    throw invalid(
      `Composite request may have at most ${MAX_COLLECTION_OR_QUERY_SUBREQUESTS} sObject Collections or query subrequests`,
    );
  }
  if (b.allOrNone === true) {
    // Rolling back earlier subrequests is not modelled; refused rather than pretended.
    throw invalid('The sandbox does not support allOrNone composite requests');
  }
  return { allOrNone: false, requests: out };
}

function baseUrl(req: Request): string {
  const address = req.socket.localAddress ?? '127.0.0.1';
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${req.socket.localPort}`;
}

/**
 * `POST /composite`: up to 25 subrequests, at most 5 of them sObject Collections or queries,
 * run in order, the whole counting as one API call. Each subrequest goes back through the data
 * API as its own request (same session, same routes and validation), marked so that the gate
 * neither counts it nor arms a fault on it. `@{reference}` substitution and allOrNone are refused.
 */
export function compositeRouter(): { router: Router; subrequestSecret: string } {
  const subrequestSecret = randomBytes(16).toString('hex');
  const router = express.Router({ mergeParams: true });
  router.post('/composite', async (req, res) => {
    const { requests } = parseComposite(req.body);
    const base = baseUrl(req);
    const compositeResponse = [];
    for (const sub of requests) {
      const headers: Record<string, string> = {
        authorization: req.headers.authorization ?? '',
        [SUBREQUEST_HEADER]: subrequestSecret,
      };
      const callOptions = req.headers['sforce-call-options'];
      if (typeof callOptions === 'string') headers['sforce-call-options'] = callOptions;
      if (sub.body !== undefined) headers['content-type'] = 'application/json';
      const answer = await fetch(base + sub.url, {
        method: sub.method,
        headers,
        ...(sub.body !== undefined ? { body: JSON.stringify(sub.body) } : {}),
      });
      const text = await answer.text();
      compositeResponse.push({
        body: text === '' ? null : (JSON.parse(text) as unknown),
        httpHeaders: {},
        httpStatusCode: answer.status,
        referenceId: sub.referenceId,
      });
    }
    res.json({ compositeResponse });
  });
  return { router, subrequestSecret };
}
