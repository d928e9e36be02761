import { FaultState } from './faults';
import { IdGenerator, KeyPrefix } from './ids';
import { ApiUsage } from './limits';
import type { SalesforcePackage } from './package-source';
import { OrgSetup } from './setup';
import { ContactStore } from './store';
import { TokenRegistry } from './tokens';

/** Settings of one sandbox org (see `SalesforceSandboxOptions` for the documented defaults). */
export interface OrgConfig {
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
  /** Redirect URIs registered on the connected app; empty = any loopback http(s) URI. */
  redirectUris: string[];
  /** PEM public key for RS256 JWT bearer assertions. */
  jwtPublicKeyPem?: string;
  accessTokenTtlMs: number;
  retentionMs: number;
  apiDailyMax: number;
  /** REST query page size (Salesforce: 2,000). */
  pageSize: number;
  /** Time a Bulk 2.0 job spends in each of its processing states. */
  bulkPollDelayMs: number;
  /** Records per Bulk 2.0 query results page when the client sends no maxRecords. */
  bulkResultPageSize: number;
  maxRefreshTokensPerUser: number;
}

/** What the org starts with: the package source, and whether it is deployed. */
export interface OrgInstall {
  /** The InitLive package's source (salesforce/force-app), or null for an org that has none. */
  pkg: SalesforcePackage | null;
  /** Deploy the package at start. Default true (when there is one). */
  packageInstalled?: boolean;
  /** Keep the package's Change Data Capture selection of Contact. Default true. */
  changeDataCapture?: boolean;
}

export interface OrgIdentity {
  orgId: string;
  userId: string;
}

/** What every org of one server shares: the URL it answers on (login and instance URL). */
export interface Site {
  /** Set once the HTTP server listens. */
  baseUrl: string;
}

export interface OrgOptions {
  config: OrgConfig;
  now: () => number;
  site: Site;
  /** Default: fresh ids from `ids`. */
  identity?: OrgIdentity;
  /** Default: a generator with a random start. */
  ids?: IdGenerator;
  install?: OrgInstall;
}

/** Everything one emulated org holds; shared by the route modules. */
export class Org {
  readonly ids: IdGenerator;
  readonly store: ContactStore;
  readonly setup: OrgSetup;
  readonly tokens: TokenRegistry;
  readonly usage: ApiUsage;
  readonly faults = new FaultState();
  readonly identity: OrgIdentity;
  readonly config: OrgConfig;
  readonly now: () => number;
  private readonly site: Site;

  constructor(options: OrgOptions) {
    const { config, now, identity, install = { pkg: null } } = options;
    this.config = config;
    this.now = now;
    this.site = options.site;
    this.ids = options.ids ?? new IdGenerator();
    this.identity = identity ?? {
      orgId: this.ids.next(KeyPrefix.org),
      userId: this.ids.next(KeyPrefix.user),
    };
    this.store = new ContactStore(this.ids, now);
    this.setup = new OrgSetup(this.store, this.ids, install.pkg, this.identity.userId);
    if (install.packageInstalled !== false) {
      this.setup.installPackage({ changeDataCapture: install.changeDataCapture !== false });
    }
    this.tokens = new TokenRegistry({
      orgId: this.identity.orgId,
      now,
      accessTokenTtlMs: config.accessTokenTtlMs,
      maxRefreshTokensPerUser: config.maxRefreshTokensPerUser,
    });
    this.usage = new ApiUsage(config.apiDailyMax, now);
  }

  /** Login URL and instance URL (one server plays both, for every org). */
  get baseUrl(): string {
    return this.site.baseUrl;
  }

  /** `<loginUrl>/id/<orgId>/<userId>`: jsforce reads the user and org ids from it. */
  identityUrl(): string {
    return `${this.baseUrl}/id/${this.identity.orgId}/${this.identity.userId}`;
  }
}
