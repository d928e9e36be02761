import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { ApiFault } from './api-fault';
import { Bulk2Service } from './bulk2';
import { attachCometd } from './cometd';
import { controlRouter, createControl, credentialsOf } from './control';
import type { OrgCredentials, SandboxControl } from './control';
import type { CometdDeps, ContactRecord } from './model';
import { oauthRouter } from './oauth';
import { Org } from './org';
import type { Site } from './org';
import { OrgRegistry } from './org-registry';
import type { NewOrgOptions } from './org-registry';
import { loadSalesforcePackage } from './package-source';
import type { SalesforcePackage } from './package-source';
import type { OrgConfig } from './org';
import { collectionsRouter } from './rest-collections';
import { compositeRouter } from './rest-composite';
import { dataApiGate } from './rest-context';
import { metaRouter } from './rest-meta';
import { queryRouter } from './rest-query';
import { sobjectsRouter } from './rest-sobjects';
import { loadState, saveState } from './state-file';
import { toolingRouter } from './tooling';
import { LATEST_VERSION, versionList } from './versions';

export interface SalesforceSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** URL advertised as login and instance URL (behind a proxy or in a container); default the listen address. */
  publicUrl?: string;
  /** Connected app consumer key. Default `sandbox-client`. */
  clientId?: string;
  /** Connected app consumer secret; also guards `/__sandbox`. Default `sandbox-secret`. */
  clientSecret?: string;
  /** Default `admin@sandbox.test`. */
  username?: string;
  /** Default `sandbox`. */
  password?: string;
  /** Registered callback URLs; default: any http(s) URL on localhost / 127.0.0.1. */
  redirectUris?: string[];
  /** PEM public key for RS256 JWT bearer assertions (HS256 with the client secret always works). */
  jwtPublicKeyPem?: string;
  /** Access token lifetime. Default 2 h (Salesforce's default session timeout). */
  accessTokenTtlMs?: number;
  /** CDC replay retention. Default 72 h. */
  retentionMs?: number;
  /** Daily API allocation. Default 15,000 (Developer Edition). */
  apiDailyMax?: number;
  /** REST query page size. Default 2,000. */
  pageSize?: number;
  /** Time a Bulk 2.0 job spends in each processing state. Default 500 ms. */
  bulkPollDelayMs?: number;
  /** Bulk 2.0 query results per page when the client sends no maxRecords. Default 50,000. */
  bulkResultPageSize?: number;
  /** Refresh tokens kept per user and app; the oldest is revoked beyond it. Default 5. */
  maxRefreshTokensPerUser?: number;
  /** Contacts created (as a UI user) at start when the org is empty. */
  seed?: Record<string, unknown>[];
  /** Clock, epoch ms. Default Date.now. */
  clock?: () => number;
  /** JSON file keeping the org's data and grants across restarts. */
  stateFile?: string;
  /** Serve `/__sandbox` over HTTP. Default true. */
  controlEndpoint?: boolean;
  /** Serve CDC over CometD at `/cometd/<version>`. Default true. */
  streaming?: boolean;
  /**
   * The InitLive package's source the org installs from. Default: the project's
   * salesforce/force-app, read at start (its field files define the package's Contact fields).
   */
  salesforcePackage?: SalesforcePackage;
  /**
   * Start with the package deployed (fields, permission set, CDC selection). Default true;
   * false starts an org without it, as a real org is before the setup guide's first step.
   */
  packageInstalled?: boolean;
  /** Keep the package's Change Data Capture selection of Contact. Default true. */
  changeDataCapture?: boolean;
}

/** An org created on a running sandbox: its credentials and its control. */
export interface SandboxOrg extends OrgCredentials {
  control: SandboxControl;
}

export interface SalesforceSandbox {
  /** Base URL of the server (login and instance URL are the same here). */
  url: string;
  instanceUrl: string;
  loginUrl: string;
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
  orgId: string;
  userId: string;
  /** The default org's control. */
  control: SandboxControl;
  /**
   * Creates another org on this server: own id, user, grants, Contacts, change stream and API
   * allocation; the connected app is the server's. Not kept in the state file.
   */
  createOrg(options?: NewOrgOptions): SandboxOrg;
  /** An org of this server by 15- or 18-character id (the default org too). */
  org(orgId: string): SandboxOrg | undefined;
  /** Stops the server (answering held CometD connects first) and saves the state file. */
  close(): Promise<void>;
}

const DEFAULTS = {
  clientId: 'sandbox-client',
  clientSecret: 'sandbox-secret',
  username: 'admin@sandbox.test',
  password: 'sandbox',
  accessTokenTtlMs: 2 * 3_600_000,
  retentionMs: 72 * 3_600_000,
  apiDailyMax: 15_000,
  pageSize: 2000,
  bulkPollDelayMs: 500,
  bulkResultPageSize: 50_000,
  maxRefreshTokensPerUser: 5,
};

const SAVE_DEBOUNCE_MS = 250;

function errorHandler(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  if (err instanceof ApiFault) {
    res.status(err.status).json(err.errors);
    return;
  }
  const type = (err as { type?: unknown }).type;
  if (type === 'entity.parse.failed') {
    res.status(400).json([
      {
        message: `Unexpected character in JSON body: ${(err as Error).message}`,
        errorCode: 'JSON_PARSER_ERROR',
      },
    ]);
    return;
  }
  if (type === 'entity.too.large') {
    res
      .status(413)
      .json([{ message: 'Request entity too large', errorCode: 'REQUEST_ENTITY_TOO_LARGE' }]);
    return;
  }
  res.status(500).json([
    {
      message: `An unexpected error occurred: ${err instanceof Error ? err.message : String(err)}`,
      errorCode: 'UNKNOWN_EXCEPTION',
    },
  ]);
}

/**
 * Starts the emulated Salesforce: OAuth, REST (sObjects, Collections, query, describe,
 * limits), Bulk API 2.0 and CDC over CometD on one HTTP server, for a default org and any
 * created with `createOrg` (each request acts on the org its access token belongs to). State
 * is in memory; the default org's is optionally kept in `stateFile` (written shortly after
 * each commit and on close).
 */
export async function startSalesforceSandbox(
  options: SalesforceSandboxOptions = {},
): Promise<SalesforceSandbox> {
  const now = options.clock ?? Date.now;
  const config: OrgConfig = {
    clientId: options.clientId ?? DEFAULTS.clientId,
    clientSecret: options.clientSecret ?? DEFAULTS.clientSecret,
    username: options.username ?? DEFAULTS.username,
    password: options.password ?? DEFAULTS.password,
    redirectUris: options.redirectUris ?? [],
    jwtPublicKeyPem: options.jwtPublicKeyPem,
    accessTokenTtlMs: options.accessTokenTtlMs ?? DEFAULTS.accessTokenTtlMs,
    retentionMs: options.retentionMs ?? DEFAULTS.retentionMs,
    apiDailyMax: options.apiDailyMax ?? DEFAULTS.apiDailyMax,
    pageSize: options.pageSize ?? DEFAULTS.pageSize,
    bulkPollDelayMs: options.bulkPollDelayMs ?? DEFAULTS.bulkPollDelayMs,
    bulkResultPageSize: options.bulkResultPageSize ?? DEFAULTS.bulkResultPageSize,
    maxRefreshTokensPerUser: options.maxRefreshTokensPerUser ?? DEFAULTS.maxRefreshTokensPerUser,
  };
  const saved = options.stateFile ? loadState(options.stateFile) : undefined;
  const pkg = options.salesforcePackage ?? loadSalesforcePackage();
  const site: Site = { baseUrl: '' };
  const org = new Org({
    config,
    now,
    site,
    identity: saved?.identity,
    install: {
      pkg,
      packageInstalled: saved ? false : options.packageInstalled !== false,
      changeDataCapture: options.changeDataCapture !== false,
    },
  });
  if (saved) {
    org.setup.restore(
      saved.setup ?? {
        packageInstalled: saved.store.packageInstalled,
        customFields: [],
        channelMembers: [],
      },
    );
    if (!saved.setup && saved.store.packageInstalled) {
      // Saved before the setup was kept: the package came with its CDC selection.
      org.setup.uninstallPackage();
      org.setup.installPackage();
    }
    org.store.restore(saved.store);
    org.tokens.restore(saved.tokens);
  }

  const orgs = new OrgRegistry(org, { site, now, pkg });
  const bulk = new Bulk2Service();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const oauth = oauthRouter(orgs);
  app.use(oauth);
  app.use('/orgs/:orgId', oauth);
  app.get('/services/data', (_req, res) => {
    res.json(versionList());
  });
  const composite = compositeRouter();
  const data = express.Router({ mergeParams: true });
  data.use(dataApiGate(orgs, composite.subrequestSecret));
  data.use(express.json({ limit: '50mb', type: ['application/json', 'application/*+json'] }));
  data.use(metaRouter());
  data.use(sobjectsRouter());
  data.use(collectionsRouter());
  data.use(composite.router);
  data.use(queryRouter());
  data.use(toolingRouter());
  data.use(bulk.router());
  data.use(() => {
    throw new ApiFault(404, 'NOT_FOUND', 'The requested resource does not exist');
  });
  app.use('/services/data/:version', data);

  const server = createServer(app);
  const deps: CometdDeps = {
    authenticate: (token) => {
      const who = orgs.authenticate(token);
      return who ? { userId: who.userId, orgId: who.orgId } : null;
    },
    onTokenRevoked: (listener) => orgs.onTokenRevoked(listener),
    onWrite: (listener) => orgs.onWrite(listener),
    contactSelected: (orgId) => orgs.get(orgId)?.setup.contactSelected() ?? false,
    now,
    retentionMs: config.retentionMs,
    apiVersion: LATEST_VERSION,
  };
  const cometd = options.streaming === false ? null : attachCometd(server, deps);
  // Made on first use, so an org nobody controls costs nothing here.
  const controls = new WeakMap<Org, SandboxControl>();
  const controlOf = (o: Org): SandboxControl => {
    let c = controls.get(o);
    if (!c) {
      c = createControl(o, cometd?.forOrg(o.identity.orgId) ?? null);
      controls.set(o, c);
    }
    return c;
  };
  const control = controlOf(org);
  const handleOf = (o: Org): SandboxOrg => ({ ...credentialsOf(o), control: controlOf(o) });
  if (options.controlEndpoint !== false) app.use('/__sandbox', controlRouter(orgs, controlOf));
  app.use(errorHandler);

  let saveTimer: NodeJS.Timeout | null = null;
  const save = (): void => {
    if (!options.stateFile) return;
    saveState(options.stateFile, {
      version: 1,
      identity: org.identity,
      setup: org.setup.snapshot(),
      store: org.store.snapshot(),
      tokens: org.tokens.snapshot(),
    });
  };
  const stopSaving = options.stateFile
    ? org.store.onWrite(() => {
        saveTimer ??= setTimeout(() => {
          saveTimer = null;
          save();
        }, SAVE_DEBOUNCE_MS);
      })
    : () => undefined;

  if (org.store.size() === 0) for (const seed of options.seed ?? []) control.createContact(seed);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = (options.publicUrl ?? `http://${host}:${address.port}`).replace(/\/$/, '');
  site.baseUrl = url;

  let closed = false;
  return {
    url,
    instanceUrl: url,
    loginUrl: url,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    username: config.username,
    password: config.password,
    orgId: org.identity.orgId,
    userId: org.identity.userId,
    control,
    createOrg: (o) => handleOf(orgs.create(o)),
    org: (orgId) => {
      const o = orgs.get(orgId);
      return o ? handleOf(o) : undefined;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      stopSaving();
      if (saveTimer) clearTimeout(saveTimer);
      bulk.close();
      await cometd?.close();
      save();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export type { ContactRecord };
