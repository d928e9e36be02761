import { EventEmitter } from 'node:events';
import type { Connection, Schema } from 'jsforce';
import SessionRefreshDelegate from 'jsforce/lib/session-refresh-delegate';
import type { SyncSettings } from '../core/settings';
import { defaultSyncSettings, toReconcileSettings } from '../core/settings';
import { SyncError, toSyncError } from '../errors';
import type { InitLiveApi } from '../infra/initlive';
import { createInitLiveClient } from '../infra/initlive';
import { createSalesforceConnection } from '../infra/salesforce/connection';
import type { Logger } from '../logger';
import type {
  ConnectionState,
  ConnectionStore,
  InitLiveCredentials,
  OrgConnection,
  SalesforceFlow,
  SalesforceGrant,
} from './connection-store';
import type { OrgDirectory, OrgRuntime } from './org-directory';
import type { OAuthClient, TokenSet } from './salesforce-oauth';
import type { StateEpoch } from '../pipeline/state-epoch';
import { isInvalidGrant, mintJwtToken, refreshAccessToken, revokeToken } from './salesforce-oauth';

export interface ManagedOrgDirectoryDeps {
  store: ConnectionStore;
  logger: Logger;
  /** The connected app, for refreshes, JWT re-mints and revocation. */
  oauth: OAuthClient;
  apiVersion: string;
  /** Deadline of one Salesforce call (SALESFORCE_REQUEST_TIMEOUT_MS); jsforce's default otherwise. */
  salesforceRequestTimeoutMs?: number;
  /** Sforce-Call-Options client tag (SALESFORCE_CLIENT_TAG). */
  salesforceClientTag: string;
  /** X-Change-Origin of our InitLive writes (INITLIVE_CHANGE_ORIGIN). */
  initliveOrigin: string;
  /** InitLive credentials for an organization whose record names none (the configured org). */
  defaultInitLive?: (orgId: string) => InitLiveCredentials | null;
  /** Re-reads the store this often to see other processes' changes; 0 turns polling off. Default 5 s. */
  pollIntervalMs?: number;
  now?: () => number;
  /** Builds InitLive clients; defaults to createInitLiveClient. */
  initliveClient?: (options: { orgId: string; credentials: InitLiveCredentials }) => InitLiveApi;
  /** Told each org's Salesforce API usage from every answer its connection gets. */
  onApiUsage?: (orgId: string, usage: { used: number; max: number }) => void;
}

export type OrgChangeKind =
  | 'connected'
  | 'disconnected'
  | 'state'
  | 'settings'
  | 'reloaded'
  /** Mapped Salesforce fields were held back or released (drift; see holdFields). */
  | 'mapping';

export interface OrgChange {
  state: ConnectionState;
  kind: OrgChangeKind;
  reason: string | null;
}

export interface ManagedOrgDirectoryEvents {
  /**
   * An organization's runtime was replaced: it connected, disconnected, changed state (e.g.
   * needs_reauth) or settings. The pipeline restarts that organization's sources, which
   * re-read it from the directory and resume from their stored positions.
   */
  changed: [orgId: string, change: OrgChange];
  /**
   * The store lost its data (StateEpoch); the connections this process held are written back
   * already. `epoch` names the loss.
   */
  'state-lost': [epoch: string];
}

/** What the admin API may show of a connection: never a token or key. */
export interface ConnectionView {
  orgId: string;
  state: ConnectionState;
  reason: string | null;
  instanceUrl: string | null;
  salesforceOrganizationId: string | null;
  salesforceUserId: string | null;
  flow: SalesforceFlow | null;
  connectedAt: number | null;
  initliveBaseUrl: string | null;
  settings: SyncSettings;
  updatedAt: number | null;
}

interface Entry {
  record: OrgConnection;
  /** Everything but the access token: when it differs the runtime is rebuilt. */
  shape: string;
  runtime: OrgRuntime | null;
  /** When this process last applied it (a count of applies, not a clock). */
  appliedAt: number;
}

export interface ConnectOptions {
  tokens: TokenSet;
  flow: SalesforceFlow;
  loginUrl: string;
  username?: string | null;
  privateKeyPem?: string | null;
  /** Replaces the stored InitLive credentials when given. */
  initlive?: InitLiveCredentials | null;
  /** Result of the package check made right after connecting. */
  packageInstalled?: boolean;
}

function shapeOf(r: OrgConnection): string {
  return JSON.stringify({
    ...r,
    updatedAt: 0,
    salesforce: r.salesforce && { ...r.salesforce, accessToken: null },
  });
}

/** Usable Salesforce connection in these states; the others hold writes. */
const hasSalesforce = (s: ConnectionState): boolean => s === 'connected' || s === 'package_missing';

/**
 * The OrgDirectory the control plane manages: organizations come from the ConnectionStore,
 * each with live clients built from its (decrypted) credentials.
 *
 * - Every known organization is listed, whatever its state, so records for it are held rather
 *   than dead-lettered; `salesforce` is null unless it is connected (sinks then pause) and
 *   `streaming` is false once disconnected (sources stop, their positions stay stored).
 * - Token refreshes go through here: a new access token is persisted (sealed) at once; a
 *   refresh refused with `invalid_grant` moves the organization to needs_reauth.
 * - Changes made by this process apply at once; other processes' changes are picked up by
 *   polling the store. Each change emits `changed`.
 */
export class ManagedOrgDirectory
  extends EventEmitter<ManagedOrgDirectoryEvents>
  implements OrgDirectory
{
  private readonly entries = new Map<string, Entry>();
  /** Per organization, lower-cased Salesforce fields its mapping leaves out for now. */
  private readonly held = new Map<string, ReadonlySet<string>>();
  /** Per organization, held fields that came back, and when (ReconcileSettings.forget). */
  private readonly restored = new Map<string, Map<string, number>>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private readonly resolving = new Map<string, Promise<void>>();
  private stateEpoch: StateEpoch | null = null;
  private checking: Promise<boolean> | null = null;
  private readonly lastMiss = new Map<string, number>();
  private applies = 0;

  constructor(private readonly deps: ManagedOrgDirectoryDeps) {
    super();
    this.now = deps.now ?? Date.now;
  }

  /**
   * Looks at the state epoch before each full reload: when the store lost its data, the
   * connections held here are written back (unless someone wrote them again first) instead of
   * every organization looking disconnected.
   */
  watchStateEpoch(epoch: StateEpoch): void {
    this.stateEpoch = epoch;
  }

  /** Loads every stored organization and starts polling. */
  async start(): Promise<void> {
    await this.reload();
    const every = this.deps.pollIntervalMs ?? 5_000;
    if (every > 0 && !this.timer) {
      this.timer = setInterval(() => {
        if (this.polling) return;
        this.polling = this.reload()
          .catch((err: unknown) =>
            this.deps.logger.warn('connection store poll failed', { err: toSyncError(err) }),
          )
          .finally(() => {
            this.polling = null;
          });
      }, every);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.polling;
  }

  get(orgId: string): OrgRuntime | undefined {
    return this.entries.get(orgId)?.runtime ?? undefined;
  }

  async resolve(orgId: string): Promise<OrgRuntime | undefined> {
    const known = this.get(orgId);
    if (known || this.deps.pollIntervalMs === 0) return known;
    // Records of an organization unknown everywhere (disconnected, never connected) read the
    // store at most once a second, however many arrive.
    const now = Date.now();
    if ((this.lastMiss.get(orgId) ?? -Infinity) > now - 1_000) return undefined;
    let pending = this.resolving.get(orgId);
    if (!pending) {
      pending = this.reload(orgId).finally(() => this.resolving.delete(orgId));
      this.resolving.set(orgId, pending);
    }
    await pending;
    const found = this.get(orgId);
    if (found) this.lastMiss.delete(orgId);
    else this.lastMiss.set(orgId, Date.now());
    return found;
  }

  list(): OrgRuntime[] {
    return [...this.entries.values()]
      .map((e) => e.runtime)
      .filter((r): r is OrgRuntime => r !== null);
  }

  /** Connection state; 'disconnected' for an organization never seen. */
  state(orgId: string): ConnectionState {
    return this.entries.get(orgId)?.record.state ?? 'disconnected';
  }

  /** Every known organization's state (for the connection-state gauge). */
  states(): Array<{ orgId: string; state: ConnectionState }> {
    return [...this.entries.values()].map((e) => ({
      orgId: e.record.orgId,
      state: e.record.state,
    }));
  }

  /** Organizations whose Salesforce connection is usable. */
  connectedOrgIds(): string[] {
    return [...this.entries.values()]
      .filter((e) => e.record.state === 'connected')
      .map((e) => e.record.orgId);
  }

  /** Full settings (schedule included), defaults for an organization never seen. */
  syncSettings(orgId: string): SyncSettings {
    return this.entries.get(orgId)?.record.settings ?? defaultSyncSettings;
  }

  /** The record with secrets, for the control plane only. */
  connection(orgId: string): OrgConnection | undefined {
    return this.entries.get(orgId)?.record;
  }

  view(orgId: string): ConnectionView {
    const r = this.entries.get(orgId)?.record;
    const sf = r?.salesforce ?? null;
    const il = r?.initlive ?? this.deps.defaultInitLive?.(orgId) ?? null;
    return {
      orgId,
      state: r?.state ?? 'disconnected',
      reason: r?.reason ?? null,
      instanceUrl: sf?.instanceUrl ?? null,
      salesforceOrganizationId: sf?.organizationId ?? null,
      salesforceUserId: sf?.userId ?? null,
      flow: sf?.flow ?? null,
      connectedAt: sf?.connectedAt ?? null,
      initliveBaseUrl: il?.baseUrl ?? null,
      settings: r?.settings ?? defaultSyncSettings,
      updatedAt: r?.updatedAt ?? null,
    };
  }

  /** Stores a new grant (connect or reconnect); settings and InitLive credentials are kept. */
  async connect(orgId: string, options: ConnectOptions): Promise<OrgConnection> {
    const { tokens } = options;
    this.deps.logger.redact(tokens.accessToken);
    this.deps.logger.redact(tokens.refreshToken);
    const grant: SalesforceGrant = {
      instanceUrl: tokens.instanceUrl,
      loginUrl: options.loginUrl,
      userId: tokens.userId,
      organizationId: tokens.organizationId,
      flow: options.flow,
      username: options.username ?? null,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      privateKeyPem: options.privateKeyPem ?? null,
      connectedAt: this.now(),
    };
    const state: ConnectionState =
      options.packageInstalled === false ? 'package_missing' : 'connected';
    const stored = await this.deps.store.update(orgId, (current) => ({
      orgId,
      state,
      reason:
        state === 'package_missing' ? 'the InitLive package fields are missing on Contact' : null,
      salesforce: grant,
      initlive: options.initlive ?? current?.initlive ?? null,
      settings: current?.settings ?? defaultSyncSettings,
      updatedAt: this.now(),
    }));
    this.apply(stored!, 'connected');
    this.deps.logger.info('salesforce connected', {
      orgId,
      state,
      flow: options.flow,
      instanceUrl: grant.instanceUrl,
    });
    return stored!;
  }

  /**
   * Revokes the grant at Salesforce and marks the organization disconnected. Settings, links,
   * version vectors and source positions stay, so a reconnect resumes where it stopped.
   * Resolves `revoked: false` when Salesforce could not be reached (the tokens are forgotten
   * here anyway).
   */
  async disconnect(orgId: string): Promise<{ revoked: boolean; wasConnected: boolean }> {
    const entry = this.entries.get(orgId);
    const grant = entry?.record.salesforce ?? null;
    let revoked = true;
    if (grant) {
      const client = { ...this.deps.oauth, loginUrl: grant.loginUrl };
      const live = entry?.runtime?.salesforce?.accessToken ?? null;
      const tokens = [grant.refreshToken, live, grant.accessToken].filter(
        (t, i, all): t is string => typeof t === 'string' && t !== '' && all.indexOf(t) === i,
      );
      for (const token of tokens) {
        try {
          await revokeToken(client, token);
        } catch (err) {
          revoked = false;
          this.deps.logger.warn('salesforce token revocation failed', {
            orgId,
            err: toSyncError(err),
          });
        }
      }
    }
    const wasConnected = entry !== undefined && entry.record.state !== 'disconnected';
    const stored = await this.deps.store.update(orgId, (current) =>
      current === null
        ? null
        : {
            ...current,
            state: 'disconnected',
            reason: 'disconnected by an administrator',
            salesforce: current.salesforce && {
              ...current.salesforce,
              accessToken: null,
              refreshToken: null,
              privateKeyPem: null,
            },
            updatedAt: this.now(),
          },
    );
    if (stored) this.apply(stored, 'disconnected');
    this.deps.logger.info('salesforce disconnected', { orgId, revoked });
    return { revoked, wasConnected };
  }

  /** Replaces the settings (creating a disconnected record for a new organization). */
  async updateSettings(orgId: string, settings: SyncSettings): Promise<OrgConnection> {
    const stored = await this.deps.store.update(orgId, (current) => ({
      orgId,
      state: current?.state ?? 'disconnected',
      reason: current?.reason ?? null,
      salesforce: current?.salesforce ?? null,
      initlive: current?.initlive ?? null,
      settings,
      updatedAt: this.now(),
    }));
    this.apply(stored!, 'settings');
    return stored!;
  }

  /**
   * The Salesforce grant no longer works (refresh refused with invalid_grant): the organization
   * waits for an admin to reconnect. Its Salesforce writes are held meanwhile, not dropped.
   * No-op unless it is connected.
   */
  async markNeedsReauth(orgId: string, reason: string): Promise<void> {
    await this.setState(orgId, 'needs_reauth', reason, ['connected', 'package_missing']);
  }

  /** The package check failed (or passed again after package_missing). */
  async markPackage(orgId: string, installed: boolean): Promise<void> {
    if (installed) await this.setState(orgId, 'connected', null, ['package_missing']);
    else
      await this.setState(
        orgId,
        'package_missing',
        'the InitLive package fields are missing on Contact',
        ['connected'],
      );
  }

  private async setState(
    orgId: string,
    state: ConnectionState,
    reason: string | null,
    from: ConnectionState[],
  ): Promise<void> {
    const stored = await this.deps.store.update(orgId, (current) =>
      current === null || !from.includes(current.state)
        ? null
        : { ...current, state, reason, updatedAt: this.now() },
    );
    if (stored && stored.state === state) {
      if (state === 'needs_reauth')
        this.deps.logger.error('salesforce needs reauthorization', { orgId, reason });
      this.apply(stored, 'state');
    }
  }

  /**
   * Leaves these Salesforce fields (of the organization's mapping) out of its sync for now:
   * the sources stop reading them, the reconciler stops merging them and nothing writes them,
   * while everything else carries on. A field that drifted away (deleted, changed type) is
   * held; one released because it came back is settled afresh (its Salesforce value since then
   * is not what was last synced). This process only: each one watches its own describe.
   */
  holdFields(orgId: string, fields: readonly string[], now: number = this.now()): void {
    const next = new Set(fields.map((f) => f.toLowerCase()));
    const prev = this.held.get(orgId) ?? new Set<string>();
    if (next.size === prev.size && [...next].every((f) => prev.has(f))) return;
    const back = this.restored.get(orgId) ?? new Map<string, number>();
    for (const f of prev) if (!next.has(f)) back.set(f, now);
    if (back.size > 0) this.restored.set(orgId, back);
    if (next.size === 0) this.held.delete(orgId);
    else this.held.set(orgId, next);
    const entry = this.entries.get(orgId);
    if (!entry?.runtime) return;
    entry.runtime.settings = toReconcileSettings(entry.record.settings, next, back);
    this.emit('changed', orgId, {
      state: entry.record.state,
      kind: 'mapping',
      reason: next.size === 0 ? null : `held back: ${[...next].join(', ')}`,
    });
  }

  /** The Salesforce fields held back for this organization (lower-cased). */
  heldFields(orgId: string): ReadonlySet<string> {
    return this.held.get(orgId) ?? new Set();
  }

  /** Re-reads the store (all organizations, or one) and applies what changed. */
  async reload(orgId?: string): Promise<void> {
    // A check that finds a loss reads the store itself, after writing the connections back.
    if (orgId === undefined && (await this.checkState())) return;
    await this.read(orgId);
  }

  /**
   * Looks at the state epoch now (a source about to start from the stored positions must not
   * read an emptied store as a fresh one); on a loss, writes the connections back, reloads and
   * emits 'state-lost'. Callers at the same time share one check. Whether a loss was found.
   */
  checkState(): Promise<boolean> {
    if (!this.stateEpoch) return Promise.resolve(false);
    this.checking ??= this.findLoss(this.stateEpoch).finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async findLoss(epoch: StateEpoch): Promise<boolean> {
    const loss = await epoch.check();
    if (!loss.lost) return false;
    for (const [id, entry] of this.entries) {
      await this.deps.store.update(id, (current) => current ?? entry.record);
    }
    this.deps.logger.warn('connections written back after the state store lost its data', {
      organizations: this.entries.size,
      fromWitness: loss.restored,
    });
    await this.read();
    // After the records are in, so the repair covers organizations only the witness kept.
    this.emit('state-lost', loss.epoch);
    return true;
  }

  private async read(orgId?: string): Promise<void> {
    // A record applied while the store was being read (a connect here, another read) is newer
    // than what the read brings back: a read of 1,000 records takes long enough to lose one.
    const since = this.applies;
    const fresher = (id: string): boolean => (this.entries.get(id)?.appliedAt ?? 0) > since;
    const records =
      orgId === undefined ? await this.deps.store.list() : [await this.deps.store.get(orgId)];
    const seen = new Set<string>();
    for (const r of records) {
      if (!r) continue;
      seen.add(r.orgId);
      if (!fresher(r.orgId)) this.apply(r, 'reloaded');
    }
    if (orgId === undefined) {
      for (const id of [...this.entries.keys()]) {
        if (seen.has(id) || fresher(id)) continue;
        this.entries.delete(id);
        this.emit('changed', id, { state: 'disconnected', kind: 'reloaded', reason: 'removed' });
      }
    }
  }

  private apply(record: OrgConnection, kind: OrgChangeKind): void {
    const prev = this.entries.get(record.orgId);
    const shape = shapeOf(record);
    const appliedAt = ++this.applies;
    if (prev && prev.shape === shape) {
      // Only the access token moved (a refresh here or in another process): no restart.
      prev.record = record;
      prev.appliedAt = appliedAt;
      const token = record.salesforce?.accessToken;
      if (token && prev.runtime?.salesforce && prev.runtime.salesforce.accessToken !== token) {
        this.deps.logger.redact(token);
        prev.runtime.salesforce.accessToken = token;
      }
      return;
    }
    const runtime = this.build(record);
    this.entries.set(record.orgId, { record, shape, runtime, appliedAt });
    this.emit('changed', record.orgId, { state: record.state, kind, reason: record.reason });
  }

  private build(record: OrgConnection): OrgRuntime | null {
    const { orgId } = record;
    const initlive = record.initlive ?? this.deps.defaultInitLive?.(orgId) ?? null;
    if (!initlive) {
      this.deps.logger.warn('organization has no InitLive credentials; it is not served', {
        orgId,
      });
      return null;
    }
    this.deps.logger.redact(initlive.apiKey);
    const grant = record.salesforce;
    const salesforce =
      grant && grant.accessToken && hasSalesforce(record.state)
        ? this.salesforceConnection(orgId, grant)
        : null;
    const initliveApi = this.deps.initliveClient
      ? this.deps.initliveClient({ orgId, credentials: initlive })
      : createInitLiveClient({
          baseUrl: initlive.baseUrl,
          apiKey: initlive.apiKey,
          orgId,
          changeOrigin: this.deps.initliveOrigin,
          logger: this.deps.logger.child({ orgId, system: 'initlive' }),
        });
    return {
      orgId,
      settings: toReconcileSettings(
        record.settings,
        this.held.get(orgId),
        this.restored.get(orgId),
      ),
      streaming: record.settings.streaming && record.state !== 'disconnected',
      salesforce,
      initlive: initliveApi,
      initliveOrigin: this.deps.initliveOrigin,
      salesforceClientTag: this.deps.salesforceClientTag,
    };
  }

  private salesforceConnection(orgId: string, grant: SalesforceGrant): Connection {
    const client: OAuthClient = { ...this.deps.oauth, loginUrl: grant.loginUrl };
    this.deps.logger.redact(grant.privateKeyPem);
    const conn = createSalesforceConnection({
      credentials: {
        instanceUrl: grant.instanceUrl,
        accessToken: grant.accessToken ?? '',
        ...(grant.refreshToken ? { refreshToken: grant.refreshToken } : {}),
        loginUrl: grant.loginUrl,
        clientId: client.clientId,
        ...(client.clientSecret ? { clientSecret: client.clientSecret } : {}),
      },
      apiVersion: this.deps.apiVersion,
      ...(this.deps.salesforceRequestTimeoutMs !== undefined
        ? { requestTimeoutMs: this.deps.salesforceRequestTimeoutMs }
        : {}),
      clientTag: this.deps.salesforceClientTag,
      logger: this.deps.logger.child({ orgId, system: 'salesforce' }),
      ...(this.deps.onApiUsage
        ? {
            onApiUsage: (usage: { used: number; max: number }) =>
              this.deps.onApiUsage!(orgId, usage),
          }
        : {}),
      onRefresh: (accessToken) => {
        this.persistAccessToken(orgId, grant.connectedAt, accessToken);
      },
    });
    // jsforce's own refresh only knows refresh tokens and reports failures as plain Errors.
    // Ours also re-mints JWT grants and sees invalid_grant, which ends the connection.
    conn._refreshDelegate = new SessionRefreshDelegate<Schema>(conn, (c, callback) => {
      const attempt =
        grant.flow === 'jwt'
          ? mintJwtToken(client, {
              username: grant.username ?? '',
              privateKeyPem: grant.privateKeyPem,
              now: this.now(),
            })
          : c.refreshToken
            ? refreshAccessToken(client, c.refreshToken)
            : Promise.reject(
                new SyncError('AUTH_FAILED', 'no refresh token stored', {
                  context: { upstreamCode: 'invalid_grant' },
                }),
              );
      attempt.then(
        (tokens) => {
          this.deps.logger.redact(tokens.accessToken);
          if (tokens.instanceUrl) c.instanceUrl = tokens.instanceUrl;
          callback(undefined, tokens.accessToken);
        },
        (err: unknown) => {
          const e = toSyncError(err, 'AUTH_FAILED');
          if (isInvalidGrant(err)) {
            this.markNeedsReauth(orgId, e.message).catch((markErr: unknown) =>
              this.deps.logger.error('could not record needs_reauth', {
                orgId,
                err: toSyncError(markErr),
              }),
            );
          }
          callback(e);
        },
      );
    });
    return conn;
  }

  private persistAccessToken(orgId: string, connectedAt: number, accessToken: string): void {
    this.deps.store
      .update(orgId, (current) =>
        // A reconnect in between brought a newer grant: do not overwrite it with this one's token.
        current?.salesforce?.connectedAt !== connectedAt
          ? null
          : {
              ...current,
              salesforce: { ...current.salesforce, accessToken },
              updatedAt: this.now(),
            },
      )
      .then(
        (stored) => {
          const entry = this.entries.get(orgId);
          if (stored && entry && stored.salesforce?.connectedAt === connectedAt)
            entry.record = stored;
        },
        (err: unknown) =>
          this.deps.logger.warn('could not store the refreshed access token', {
            orgId,
            err: toSyncError(err),
          }),
      );
  }
}
