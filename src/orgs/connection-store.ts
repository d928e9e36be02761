import type { SyncSettings } from '../core/settings';
import { syncSettingsSchema } from '../core/settings';
import { SyncError } from '../errors';
import type { SecretBox } from '../infra/secrets';

/**
 * An organization's connection as the control plane keeps it: which state it is in, the
 * Salesforce grant, the InitLive key, and the sync settings. Secrets are held here in plain
 * text only in memory; the adapters store them sealed with AES-256-GCM (see `sealConnection`),
 * so neither Redis nor a memory dump of the store holds a readable token.
 */
export type ConnectionState = 'connected' | 'disconnected' | 'needs_reauth' | 'package_missing';

export const connectionStates: readonly ConnectionState[] = [
  'connected',
  'disconnected',
  'needs_reauth',
  'package_missing',
];

export type SalesforceFlow = 'web_server' | 'jwt';

export interface SalesforceGrant {
  instanceUrl: string;
  loginUrl: string;
  /** From the identity URL of the token response. */
  userId: string | null;
  organizationId: string | null;
  flow: SalesforceFlow;
  /** The JWT bearer subject; null for the web-server flow. */
  username: string | null;
  /** null once revoked (disconnect). */
  accessToken: string | null;
  /** Web-server flow only. */
  refreshToken: string | null;
  /** RS256 key for re-minting JWT assertions; null means HS256 with the client secret. */
  privateKeyPem: string | null;
  connectedAt: number;
}

export interface InitLiveCredentials {
  baseUrl: string;
  apiKey: string;
}

export interface OrgConnection {
  orgId: string;
  state: ConnectionState;
  /** Why the state was entered (e.g. the refresh error of needs_reauth); null when healthy. */
  reason: string | null;
  salesforce: SalesforceGrant | null;
  /** null: the deployment's default InitLive credentials apply. */
  initlive: InitLiveCredentials | null;
  settings: SyncSettings;
  updatedAt: number;
}

/** A started OAuth web-server flow, waiting for its callback. */
export interface PendingAuthorization {
  state: string;
  orgId: string;
  codeVerifier: string;
  redirectUri: string;
  loginUrl: string;
  initlive: InitLiveCredentials | null;
  createdAt: number;
  expiresAt: number;
}

/**
 * Where connections live. `update` is an atomic read-modify-write per organization, so a token
 * refresh and a settings change made at once (even from two processes) do not lose each other.
 *
 * Adapters: MemoryConnectionStore and RedisConnectionStore, held to one conformance suite
 * (test/conformance/connection-store.conformance.ts).
 */
export interface ConnectionStore {
  get(orgId: string): Promise<OrgConnection | null>;
  list(): Promise<OrgConnection[]>;
  /**
   * Applies `change` to the current record (null when none) and stores its result atomically;
   * when another writer got in between, `change` runs again on the newer record. Returning
   * null leaves the record as it is. Resolves to the stored record.
   */
  update(
    orgId: string,
    change: (current: OrgConnection | null) => OrgConnection | null,
  ): Promise<OrgConnection | null>;
  delete(orgId: string): Promise<boolean>;
  /**
   * Puts back a record exactly as it was stored (sealed, from `raw`, e.g. kept by the state
   * witness) unless the organization has one now. Refuses (INVALID_INPUT) a record that does
   * not open with this store's key or names another organization. True when it was put back.
   */
  restore(orgId: string, sealed: string): Promise<boolean>;
  /** Keeps a pending authorization until `ttlMs` after its expiry (so expiry can be told apart). */
  putPending(pending: PendingAuthorization): Promise<void>;
  /** Returns and forgets a pending authorization in one step: a state can be used once. */
  takePending(state: string): Promise<PendingAuthorization | null>;
  /** The record exactly as stored (sealed), for tests and audits. */
  raw(orgId: string): Promise<string | null>;
  close(): Promise<void>;
}

/** How long a pending authorization is kept past its expiry, to answer "expired" rather than "unknown". */
export const PENDING_GRACE_MS = 60 * 60_000;

const aad = (orgId: string, field: string): string => `${orgId}:${field}`;

function sealNullable(
  box: SecretBox,
  v: string | null,
  orgId: string,
  field: string,
): string | null {
  return v === null ? null : box.seal(v, aad(orgId, field));
}

function openNullable(box: SecretBox, v: unknown, orgId: string, field: string): string | null {
  return typeof v === 'string' ? box.open(v, aad(orgId, field)) : null;
}

/** The stored JSON of a record: every secret sealed, bound to its organization and field. */
export function sealConnection(box: SecretBox, c: OrgConnection): string {
  const sf = c.salesforce;
  return JSON.stringify({
    ...c,
    salesforce: sf && {
      ...sf,
      accessToken: sealNullable(box, sf.accessToken, c.orgId, 'salesforce.accessToken'),
      refreshToken: sealNullable(box, sf.refreshToken, c.orgId, 'salesforce.refreshToken'),
      privateKeyPem: sealNullable(box, sf.privateKeyPem, c.orgId, 'salesforce.privateKeyPem'),
    },
    initlive: c.initlive && {
      ...c.initlive,
      apiKey: box.seal(c.initlive.apiKey, aad(c.orgId, 'initlive.apiKey')),
    },
  });
}

/** Reverses `sealConnection`; settings are re-validated so an old record gains new defaults. */
export function openConnection(box: SecretBox, stored: string): OrgConnection {
  let parsed: OrgConnection;
  try {
    parsed = JSON.parse(stored) as OrgConnection;
  } catch (err) {
    throw new SyncError('INTERNAL', 'a stored connection record is not JSON', { cause: err });
  }
  const orgId = parsed.orgId;
  const sf = parsed.salesforce;
  const settings = syncSettingsSchema.safeParse(parsed.settings);
  return {
    ...parsed,
    salesforce: sf && {
      ...sf,
      accessToken: openNullable(box, sf.accessToken, orgId, 'salesforce.accessToken'),
      refreshToken: openNullable(box, sf.refreshToken, orgId, 'salesforce.refreshToken'),
      privateKeyPem: openNullable(box, sf.privateKeyPem, orgId, 'salesforce.privateKeyPem'),
    },
    initlive: parsed.initlive && {
      ...parsed.initlive,
      apiKey: box.open(parsed.initlive.apiKey, aad(orgId, 'initlive.apiKey')),
    },
    settings: settings.success ? settings.data : syncSettingsSchema.parse({}),
  };
}

/** Checks that a sealed record (for `restore`) opens with this key and belongs to `orgId`. */
export function assertRestorable(box: SecretBox, orgId: string, sealed: string): void {
  let opened: OrgConnection;
  try {
    opened = openConnection(box, sealed);
  } catch (err) {
    throw new SyncError('INVALID_INPUT', 'a kept connection record does not open with this key', {
      cause: err,
      context: { orgId },
    });
  }
  if (opened.orgId !== orgId) {
    throw new SyncError('INVALID_INPUT', 'a kept connection record names another organization', {
      context: { orgId },
    });
  }
}

/** Pending authorizations keep their PKCE verifier sealed too. */
export function sealPending(box: SecretBox, p: PendingAuthorization): string {
  return JSON.stringify({
    ...p,
    codeVerifier: box.seal(p.codeVerifier, aad(p.orgId, 'pkce')),
    initlive: p.initlive && {
      ...p.initlive,
      apiKey: box.seal(p.initlive.apiKey, aad(p.orgId, 'initlive.apiKey')),
    },
  });
}

export function openPending(box: SecretBox, stored: string): PendingAuthorization {
  const p = JSON.parse(stored) as PendingAuthorization;
  return {
    ...p,
    codeVerifier: box.open(p.codeVerifier, aad(p.orgId, 'pkce')),
    initlive: p.initlive && {
      ...p.initlive,
      apiKey: box.open(p.initlive.apiKey, aad(p.orgId, 'initlive.apiKey')),
    },
  };
}

/**
 * What an organization id may be. It names keys, topics' record keys and URL paths (InitLive's
 * `/organizations/<id>`), so nothing that could mean something there: no dots (`..`), slashes,
 * braces or percent signs.
 */
export const ORG_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Checks an organization id against ORG_ID; every route and store goes through here. */
export function assertOrgId(orgId: string): void {
  if (!ORG_ID.test(orgId)) {
    throw new SyncError(
      'INVALID_INPUT',
      'organization ids are 1-64 letters, digits, "_" or "-", starting with a letter or digit',
      { context: { orgId: orgId.slice(0, 64) } },
    );
  }
}
