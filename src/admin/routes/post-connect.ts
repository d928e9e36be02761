import { z } from 'zod';
import { SyncError, toSyncError } from '../../errors';
import { mintJwtToken, authorizeUrl, newState, pkcePair } from '../../orgs/salesforce-oauth';
import type { AdminContext, RouteDef } from '../context';
import { orgIdOf, sendError, validate } from '../http';
import { packageInstalled } from '../salesforce-package';

const initliveSchema = z
  .object({
    baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    apiKey: z.string().min(1, 'must not be empty'),
  })
  .strict();

const connectSchema = z.discriminatedUnion('flow', [
  z
    .object({
      flow: z.literal('web_server'),
      initlive: initliveSchema.optional(),
    })
    .strict(),
  z
    .object({
      flow: z.literal('jwt'),
      username: z
        .string({ error: 'is required for the JWT flow' })
        .min(1, 'is required for the JWT flow'),
      privateKeyPem: z
        .string()
        .regex(/-----BEGIN (RSA |ENCRYPTED )?PRIVATE KEY-----/, 'must be a PEM private key')
        .optional(),
      initlive: initliveSchema.optional(),
    })
    .strict(),
]);

/** The configured callback URL; CONFLICT when there is none (the web flow cannot run). */
function redirectUriOf(ctx: AdminContext): string {
  const configured = ctx.oauth.redirectUri;
  const uri = typeof configured === 'function' ? configured() : configured;
  if (!uri) {
    throw new SyncError(
      'CONFLICT',
      'the OAuth web flow needs the callback URL registered on the connected app: set SALESFORCE_REDIRECT_URI (or PUBLIC_URL) and restart, or connect with {"flow":"jwt"}',
      { context: { reason: 'redirect_uri_unset' } },
    );
  }
  return uri;
}

/**
 * POST /api/orgs/:orgId/salesforce/connect. Without a body (or `{flow:'web_server'}`) it
 * starts the OAuth web-server flow with PKCE and answers `{ authorizeUrl }` for the admin's
 * browser; the one-time state lives 10 minutes. With `{flow:'jwt', username, privateKeyPem?}`
 * it connects at once through the JWT bearer grant.
 */
export const postConnect: RouteDef = {
  method: 'post',
  path: '/api/orgs/:orgId/salesforce/connect',
  auth: true,
  audit: 'connect.started',
  handler: (ctx) => async (req, res) => {
    const orgId = orgIdOf(req);
    const raw: unknown = req.body ?? {};
    const body = validate(
      connectSchema,
      typeof raw === 'object' && raw !== null && !('flow' in raw)
        ? { ...raw, flow: 'web_server' }
        : raw,
      'connect request',
    );
    if (
      body.initlive === undefined &&
      !ctx.directory.connection(orgId)?.initlive &&
      !ctx.directory.view(orgId).initliveBaseUrl
    ) {
      throw new SyncError(
        'INVALID_INPUT',
        `organization ${orgId} has no InitLive credentials; send initlive: {baseUrl, apiKey}`,
        {
          context: {
            fields: [
              {
                path: 'initlive',
                message: 'is required for an organization without InitLive credentials',
              },
            ],
          },
        },
      );
    }
    if (body.initlive) ctx.logger.redact(body.initlive.apiKey);
    const client = {
      loginUrl: ctx.oauth.loginUrl,
      clientId: ctx.oauth.clientId,
      ...(ctx.oauth.clientSecret ? { clientSecret: ctx.oauth.clientSecret } : {}),
    };

    if (body.flow === 'jwt') {
      ctx.logger.redact(body.privateKeyPem);
      let tokens;
      try {
        tokens = await mintJwtToken(client, {
          username: body.username,
          privateKeyPem: body.privateKeyPem ?? null,
          now: ctx.now(),
        });
      } catch (err) {
        const e = toSyncError(err);
        if (e.code !== 'AUTH_FAILED') throw e;
        // 400, not 401: the admin token was fine, Salesforce refused the grant.
        sendError(res, e.code, e.message, e.context, 400);
        return;
      }
      const installed =
        ctx.checkPackage === false
          ? undefined
          : await packageInstalled(tokens, ctx.salesforceApiVersion, ctx.logger);
      await ctx.directory.connect(orgId, {
        tokens,
        flow: 'jwt',
        loginUrl: client.loginUrl,
        username: body.username,
        privateKeyPem: body.privateKeyPem ?? null,
        ...(body.initlive ? { initlive: body.initlive } : {}),
        ...(installed === undefined ? {} : { packageInstalled: installed }),
      });
      const view = ctx.directory.view(orgId);
      res.json({ orgId, connection: view.state, instanceUrl: view.instanceUrl, flow: 'jwt' });
      return;
    }

    const state = newState();
    const { verifier, challenge } = pkcePair();
    const redirectUri = redirectUriOf(ctx);
    const now = ctx.now();
    await ctx.connections.putPending({
      state,
      orgId,
      codeVerifier: verifier,
      redirectUri,
      loginUrl: client.loginUrl,
      initlive: body.initlive ?? null,
      createdAt: now,
      expiresAt: now + ctx.oauthStateTtlMs,
    });
    ctx.logger.info('salesforce authorization started', { orgId });
    res.json({
      authorizeUrl: authorizeUrl(client, { redirectUri, challenge, state }),
      expiresAt: new Date(now + ctx.oauthStateTtlMs).toISOString(),
    });
  },
};
