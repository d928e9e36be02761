import { z } from 'zod';
import { SyncError } from '../../errors';
import { noteAudit } from '../audit';
import { requireRoot } from '../auth';
import type { RouteDef } from '../context';
import { jsonObjectBody, orgIdOf, validate } from '../http';
import { TOKEN_ROLES, newApiToken, type ApiToken } from '../token-store';

const CreateToken = z
  .object({
    name: z.string().trim().min(1).max(64),
    role: z.enum(TOKEN_ROLES),
  })
  .strict();

/** A token as the API shows it: never its secret or the secret's hash. */
function view(t: ApiToken): Record<string, unknown> {
  return {
    id: t.id,
    orgId: t.orgId,
    name: t.name,
    role: t.role,
    createdAt: new Date(t.createdAt).toISOString(),
    lastUsedAt: t.lastUsedAt === null ? null : new Date(t.lastUsedAt).toISOString(),
  };
}

/**
 * POST /api/orgs/:orgId/tokens (root token only): creates an API token for the organization,
 * `{ name, role: "admin" | "viewer" }`. 201 with the token's `secret`, shown this once.
 */
export const postToken: RouteDef = {
  method: 'post',
  path: '/api/orgs/:orgId/tokens',
  auth: true,
  audit: 'token.created',
  handler: (ctx) => async (req, res) => {
    if (!requireRoot(res)) return;
    const orgId = orgIdOf(req);
    const body = validate(CreateToken, jsonObjectBody(req), 'token');
    if (!ctx.directory.states().some((s) => s.orgId === orgId)) {
      throw new SyncError('NOT_FOUND', `organization ${orgId} is not known to this deployment`);
    }
    const { token, secret } = newApiToken(orgId, body.name, body.role, ctx.now());
    await ctx.tokens.create(token);
    noteAudit(res, { detail: { tokenId: token.id, name: token.name, role: token.role } });
    ctx.logger.info('api token created', { orgId, tokenId: token.id, role: token.role });
    res.status(201).json({ ...view(token), secret });
  },
};

/** GET /api/orgs/:orgId/tokens (root token only): the organization's tokens, without secrets. */
export const getTokens: RouteDef = {
  method: 'get',
  path: '/api/orgs/:orgId/tokens',
  auth: true,
  handler: (ctx) => async (req, res) => {
    if (!requireRoot(res)) return;
    res.json({ tokens: (await ctx.tokens.list(orgIdOf(req))).map(view) });
  },
};

/** DELETE /api/orgs/:orgId/tokens/:tokenId (root token only): revokes at once (204), 404 if none. */
export const deleteToken: RouteDef = {
  method: 'delete',
  path: '/api/orgs/:orgId/tokens/:tokenId',
  auth: true,
  audit: 'token.revoked',
  handler: (ctx) => async (req, res) => {
    if (!requireRoot(res)) return;
    const orgId = orgIdOf(req);
    const tokenId = String(req.params.tokenId);
    noteAudit(res, { detail: { tokenId } });
    if (!(await ctx.tokens.revoke(orgId, tokenId))) {
      throw new SyncError('NOT_FOUND', `organization ${orgId} has no token ${tokenId}`);
    }
    ctx.logger.info('api token revoked', { orgId, tokenId });
    res.status(204).end();
  },
};
