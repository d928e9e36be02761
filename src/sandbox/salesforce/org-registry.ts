import { randomBytes } from 'node:crypto';
import { RecordFault } from './api-fault';
import { IdGenerator, KeyPrefix } from './ids';
import type { AccessTokenInfo, ContactWriteEvent, OrgWriteListener } from './model';
import { Org } from './org';
import type { OrgConfig, Site } from './org';
import type { SalesforcePackage } from './package-source';
import type { AuthorizationCode, RefreshTokenRecord } from './tokens';
import { deserializeRecord } from './validation';
import { LATEST_VERSION } from './versions';

/** What `createOrg` may set; everything else is the server's (connected app, TTLs, page sizes). */
export interface NewOrgOptions {
  /** The org's user, unique across the server (case-insensitive). Default `admin@org<n>.sandbox.test`. */
  username?: string;
  /** Default: the server's password. */
  password?: string;
  /** Daily API allocation. Default: the server's. */
  apiDailyMax?: number;
  /** Start with the InitLive package deployed. Default true. */
  packageInstalled?: boolean;
  /** Keep the package's CDC selection of Contact. Default true. */
  changeDataCapture?: boolean;
  /**
   * Contacts the org already holds: loaded in one silent transaction, so they publish no change
   * events, like data older than the connector (a full sync finds them).
   */
  contacts?: Record<string, unknown>[];
}

/**
 * Ids of created orgs' records start this far apart, so two orgs never hand out the same
 * Contact id (a real org's ids are unique across the instance). Nine base-62 digits hold
 * about 13,000 such bands.
 */
const ORG_ID_BAND = 1_000_000_000_000;

/**
 * The orgs one sandbox server hosts, and how a request finds its org: by the org id at the
 * front of an access token (Salesforce session ids start with it), by username at login, or
 * by org id in a path. The first org is the default one, which existing callers use alone.
 */
export class OrgRegistry {
  /** Keyed by the 15-character org id, the form session ids carry. */
  private readonly orgs = new Map<string, Org>();
  private readonly usernames = new Map<string, Org>();
  private readonly writeListeners = new Set<OrgWriteListener>();
  private readonly revokedListeners = new Set<(token: string) => void>();
  /** Org and user ids of created orgs: one generator, so they never collide. */
  private readonly identityIds = new IdGenerator();
  private readonly idBandStart = randomBytes(4).readUInt32BE(0) % ORG_ID_BAND;
  private createdCount = 0;

  constructor(
    readonly defaultOrg: Org,
    private readonly opts: {
      site: Site;
      now: () => number;
      pkg: SalesforcePackage | null;
    },
  ) {
    this.add(defaultOrg);
  }

  /**
   * Creates an org with its own id, user, grants, Contacts, change stream and allocation.
   * Throws RecordFault DUPLICATE_USERNAME when the username is taken.
   */
  create(options: NewOrgOptions = {}): Org {
    this.createdCount += 1;
    let username = options.username;
    for (let n = this.createdCount; username === undefined; n++) {
      const candidate = `admin@org${n}.sandbox.test`;
      if (!this.usernames.has(candidate)) username = candidate;
    }
    if (this.usernames.has(username.toLowerCase()))
      throw new RecordFault('DUPLICATE_USERNAME', `Username ${username} is taken`, ['username']);
    let orgId = this.identityIds.next(KeyPrefix.org);
    while (this.orgs.has(orgId.slice(0, 15))) orgId = this.identityIds.next(KeyPrefix.org);
    const base = this.defaultOrg.config;
    const config: OrgConfig = {
      ...base,
      username,
      password: options.password ?? base.password,
      apiDailyMax: options.apiDailyMax ?? base.apiDailyMax,
    };
    const org = new Org({
      config,
      now: this.opts.now,
      site: this.opts.site,
      identity: { orgId, userId: this.identityIds.next(KeyPrefix.user) },
      ids: new IdGenerator(this.createdCount * ORG_ID_BAND + (this.idBandStart % 1_000_000_000)),
      install: {
        pkg: this.opts.pkg,
        packageInstalled: options.packageInstalled !== false,
        changeDataCapture: options.changeDataCapture !== false,
      },
    });
    if (options.contacts && options.contacts.length > 0) loadContacts(org, options.contacts);
    this.add(org);
    return org;
  }

  /** By 15- or 18-character org id. */
  get(orgId: string): Org | undefined {
    const org = this.orgs.get(orgId.slice(0, 15));
    return org && (orgId.length === 15 || org.identity.orgId === orgId) ? org : undefined;
  }

  byUsername(username: string): Org | undefined {
    return this.usernames.get(username.toLowerCase());
  }

  /** The org an access token names (whether or not the token is still valid). */
  orgOfToken(token: string): Org | undefined {
    const bang = token.indexOf('!');
    return bang < 0 ? undefined : this.orgs.get(token.slice(0, bang));
  }

  /** Resolves a live access token of any org; null when unknown, expired or revoked. */
  authenticate(token: string): (AccessTokenInfo & { clientId: string; org: Org }) | null {
    const org = this.orgOfToken(token);
    const who = org?.tokens.authenticate(token) ?? null;
    return org && who ? { ...who, org } : null;
  }

  /** Refresh tokens are opaque, so each org is asked. */
  findRefresh(token: string): { org: Org; refresh: RefreshTokenRecord } | undefined {
    for (const org of this.orgs.values()) {
      const refresh = org.tokens.findRefresh(token);
      if (refresh) return { org, refresh };
    }
    return undefined;
  }

  /** Revokes an access or refresh token of whichever org issued it. */
  revoke(token: string): boolean {
    const org = this.orgOfToken(token);
    if (org?.tokens.revoke(token)) return true;
    for (const o of this.orgs.values()) if (o.tokens.revoke(token)) return true;
    return false;
  }

  /** Consumes an authorization code of whichever org issued it. */
  consumeCode(code: string): { org: Org; code: AuthorizationCode } | undefined {
    for (const org of this.orgs.values()) {
      const c = org.tokens.consumeCode(code);
      if (c) return { org, code: c };
    }
    return undefined;
  }

  all(): IterableIterator<Org> {
    return this.orgs.values();
  }

  size(): number {
    return this.orgs.size;
  }

  /** Committed writes of every org, with the org's id. */
  onWrite(listener: OrgWriteListener): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  /** Access tokens of any org that stop being valid. */
  onTokenRevoked(listener: (token: string) => void): () => void {
    this.revokedListeners.add(listener);
    return () => this.revokedListeners.delete(listener);
  }

  private add(org: Org): void {
    this.orgs.set(org.identity.orgId.slice(0, 15), org);
    this.usernames.set(org.config.username.toLowerCase(), org);
    const orgId = org.identity.orgId;
    org.store.onWrite((events: ContactWriteEvent[]) => {
      for (const l of this.writeListeners) l(orgId, events);
    });
    org.tokens.onRevoked((token) => {
      for (const l of this.revokedListeners) l(token);
    });
  }
}

function loadContacts(org: Org, contacts: Record<string, unknown>[]): void {
  const tx = org.store.begin({
    api: 'ui',
    apiVersion: LATEST_VERSION,
    client: null,
    userId: org.identity.userId,
  });
  try {
    for (const fields of contacts) tx.insert(deserializeRecord(fields, org.store.schema));
    tx.commit({ silent: true });
  } catch (err) {
    tx.rollback();
    throw err;
  }
}
