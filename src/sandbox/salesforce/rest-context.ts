import type { NextFunction, Request, Response } from 'express';
import { ApiFault } from './api-fault';
import type { Org } from './org';
import type { OrgRegistry } from './org-registry';
import type { WriteContext } from './store';
import { SUBREQUEST_HEADER } from './rest-composite';
import { parseVersion } from './versions';

/** Per-call facts every data API handler needs. */
export interface CallContext {
  apiVersion: string;
  userId: string;
  orgId: string;
  /** `client=` from Sforce-Call-Options, or null. */
  client: string | null;
}

/**
 * Parses `Sforce-Call-Options`. jsforce joins pairs with ", ", Salesforce's docs show "; ",
 * so both separate pairs. Returns the `client` value or null.
 */
export function parseCallOptionsClient(header: string | string[] | undefined): string | null {
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (!raw) return null;
  for (const part of raw.split(/[,;]/)) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim().toLowerCase() === 'client') {
      const v = part.slice(eq + 1).trim();
      return v === '' ? null : v;
    }
  }
  return null;
}

export function callContext(res: Response): CallContext {
  return res.locals.sf as CallContext;
}

/** The org the call's access token belongs to (set by the gate). */
export function requestOrg(res: Response): Org {
  return res.locals.org as Org;
}

export function writeContext(res: Response, api: WriteContext['api']): WriteContext {
  const c = callContext(res);
  return { api, apiVersion: c.apiVersion, client: c.client, userId: c.userId };
}

/**
 * Gate in front of every `/services/data/vXX.X/**` call, in Salesforce's order: version,
 * session (401 INVALID_SESSION_ID, not counted), daily allocation (403 REQUEST_LIMIT_EXCEEDED,
 * not counted), armed 503 faults (not counted), then the call counts one against the
 * allocation. The access token picks the org, whose data, allocation and faults apply. A
 * composite request's subrequests (marked with `subrequestSecret`) pass on the session alone.
 * Every response carries `Sforce-Limit-Info` (of the default org when the token names none).
 */
export function dataApiGate(orgs: OrgRegistry, subrequestSecret?: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const m = /^(?:Bearer|OAuth)\s+(\S+)$/.exec(req.headers.authorization ?? '');
    const named = m ? orgs.orgOfToken(m[1]!) : undefined;
    res.setHeader('Sforce-Limit-Info', (named ?? orgs.defaultOrg).usage.header());
    const apiVersion = parseVersion(String(req.params.version));
    if (!apiVersion) throw new ApiFault(404, 'NOT_FOUND', 'The requested resource does not exist');
    const who = m ? orgs.authenticate(m[1]!) : null;
    if (!who) throw new ApiFault(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
    const org = who.org;
    res.locals.org = org;
    const ctx: CallContext = {
      apiVersion,
      userId: who.userId,
      orgId: who.orgId,
      client: parseCallOptionsClient(req.headers['sforce-call-options']),
    };
    // A composite's subrequest: its call was counted (and could fail) once, as a whole.
    if (subrequestSecret !== undefined && req.headers[SUBREQUEST_HEADER] === subrequestSecret) {
      res.locals.sf = ctx;
      return next();
    }
    if (org.usage.exhausted())
      throw new ApiFault(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
    const failure = org.faults.takeFailure();
    if (failure === 429) {
      res.status(429).set('Retry-After', '1').type('text/plain').send('Too Many Requests');
      return;
    }
    if (failure === 503) {
      throw new ApiFault(
        503,
        'SERVER_UNAVAILABLE',
        'Server is unavailable. Please try again later.',
      );
    }
    org.usage.count();
    res.setHeader('Sforce-Limit-Info', org.usage.header());
    res.on('finish', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      org.usage.countEndpoint(`${req.method} ${typeof route === 'string' ? route : '(unmatched)'}`);
    });
    res.locals.sf = ctx;
    const delay = org.faults.latencyMs;
    if (delay > 0) setTimeout(next, delay);
    else next();
  };
}
