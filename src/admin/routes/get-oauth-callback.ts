import { noteAudit } from '../audit';
import type { Request, Response } from 'express';
import type { ErrorCode } from '../../errors';
import { toSyncError } from '../../errors';
import { exchangeCode } from '../../orgs/salesforce-oauth';
import type { RouteDef } from '../context';
import { sendError } from '../http';
import { packageInstalled } from '../salesforce-package';

const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function wantsHtml(req: Request): boolean {
  return req.accepts(['json', 'html']) === 'html';
}

/** Where the console shows an organization's Integrations page (console/js/router.js). */
export function consolePathOf(orgId: string | null, outcome?: string): string {
  if (orgId === null) return '/#/orgs';
  return `/#/orgs/${encodeURIComponent(orgId)}${outcome ? `?oauth=${outcome}` : ''}`;
}

/** A failure page in the console's look (its stylesheet, no inline style or script). */
function page(title: string, text: string, back: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><link rel="stylesheet" href="/console/console.css"></head><body><main class="page narrow"><h1>${escapeHtml(title)}</h1><p class="notice notice-error">${escapeHtml(text)}</p><p><a class="button" href="${escapeHtml(back)}">Back to the console</a></p></main></body></html>`;
}

/** Callback failures answer 400 (the browser's request was bad), whatever the code's default. */
function fail(
  req: Request,
  res: Response,
  code: ErrorCode,
  message: string,
  status = 400,
  orgId: string | null = null,
): void {
  if (wantsHtml(req)) {
    res
      .status(status)
      .type('html')
      .send(page('Salesforce was not connected', message, consolePathOf(orgId)));
    return;
  }
  sendError(res, code, message, undefined, status);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * GET /oauth/salesforce/callback?code&state: where Salesforce sends the admin's browser back.
 * The state must be one we issued, unused and under 10 minutes old; it is spent on the first
 * try whatever happens next. The code is exchanged with the PKCE verifier, the tokens stored
 * sealed, and the organization becomes connected. No admin token: the state is the credential.
 */
export const getOAuthCallback: RouteDef = {
  method: 'get',
  path: '/oauth/salesforce/callback',
  auth: false,
  audit: 'connect.completed',
  handler: (ctx) => async (req, res) => {
    const stateParam = str(req.query.state);
    if (!stateParam) {
      fail(
        req,
        res,
        'INVALID_INPUT',
        'missing state: start again from POST /api/orgs/:orgId/salesforce/connect',
      );
      return;
    }
    const pending = await ctx.connections.takePending(stateParam);
    if (!pending) {
      ctx.logger.warn('oauth callback with an unknown or used state');
      fail(req, res, 'INVALID_INPUT', 'unknown or already used state: start the connection again');
      return;
    }
    const { orgId } = pending;
    noteAudit(res, { orgId });
    if (pending.expiresAt <= ctx.now()) {
      ctx.logger.warn('oauth callback with an expired state', { orgId });
      fail(
        req,
        res,
        'INVALID_INPUT',
        'expired state: the connection was not completed within 10 minutes; start again',
        400,
        orgId,
      );
      return;
    }
    const denied = str(req.query.error);
    if (denied) {
      const description = str(req.query.error_description) ?? denied;
      ctx.logger.warn('salesforce authorization denied', { orgId, upstreamCode: denied });
      fail(req, res, 'AUTH_FAILED', `Salesforce did not authorize: ${description}`, 400, orgId);
      return;
    }
    const code = str(req.query.code);
    if (!code) {
      fail(req, res, 'INVALID_INPUT', 'missing code', 400, orgId);
      return;
    }
    const client = {
      loginUrl: pending.loginUrl,
      clientId: ctx.oauth.clientId,
      ...(ctx.oauth.clientSecret ? { clientSecret: ctx.oauth.clientSecret } : {}),
    };
    let tokens;
    try {
      tokens = await exchangeCode(client, {
        code,
        codeVerifier: pending.codeVerifier,
        redirectUri: pending.redirectUri,
      });
    } catch (err) {
      const e = toSyncError(err);
      ctx.logger.warn('authorization code exchange failed', { orgId, err: e });
      fail(req, res, e.code, e.message, e.retriable ? 502 : 400, orgId);
      return;
    }
    const installed =
      ctx.checkPackage === false
        ? undefined
        : await packageInstalled(tokens, ctx.salesforceApiVersion, ctx.logger);
    await ctx.directory.connect(orgId, {
      tokens,
      flow: 'web_server',
      loginUrl: pending.loginUrl,
      ...(pending.initlive ? { initlive: pending.initlive } : {}),
      ...(installed === undefined ? {} : { packageInstalled: installed }),
    });
    const view = ctx.directory.view(orgId);
    if (wantsHtml(req)) {
      // Back to the console, which shows the tile in its new state. 303: the next request is a GET.
      res.redirect(
        303,
        consolePathOf(orgId, view.state === 'connected' ? 'connected' : view.state),
      );
      return;
    }
    res.json({ orgId, connection: view.state, instanceUrl: view.instanceUrl });
  },
};
