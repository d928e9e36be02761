import express from 'express';
import type { Request, Response, Router } from 'express';
import { ApiFault, RecordFault } from './api-fault';
import type { CustomFieldMetadata } from './field-metadata';
import type { CometdControl, ContactRecord, WriteListener } from './model';
import type { Org } from './org';
import type { OrgRegistry } from './org-registry';
import { CONTACT_SELECTION } from './setup';
import type { Transaction } from './store';
import { deserializeRecord } from './validation';
import { LATEST_VERSION } from './versions';
import { demoContacts } from '../seed-contacts';

export type GapType = 'GAP_CREATE' | 'GAP_UPDATE' | 'GAP_DELETE' | 'GAP_UNDELETE';

export interface SandboxCounters {
  /** Calls counted against the daily allocation (rolling 24 h). */
  apiCallsUsed: number;
  apiDailyMax: number;
  /** Records written by any API or the UI since start. */
  writes: number;
  /** Data API calls per route, e.g. `PATCH /composite/sobjects/:sobject/:field`. */
  endpoints: Record<string, number>;
  accessTokens: number;
  refreshTokens: number;
  cometdClients: number;
  /** 503 failures still armed. */
  pendingFailures: number;
}

/**
 * In-process control of one sandbox org: fault and limit injection, counters, and direct data
 * access acting as a person in the Salesforce UI (empty changeOrigin, no API call counted).
 */
export interface SandboxControl {
  /** Every access token expires now (refresh tokens keep working). */
  expireAccessTokens(): void;
  /** Every grant is revoked (refresh tokens too); CometD sessions end. */
  revokeAllGrants(): void;
  /** The next `count` data API calls answer 503 SERVER_UNAVAILABLE, or 429 (not counted). */
  failNext(count: number, status?: 503 | 429): void;
  /** Extra latency on each data API call. */
  setLatencyMs(ms: number): void;
  /** Uses up the daily allocation: further calls get 403 REQUEST_LIMIT_EXCEEDED. */
  exhaustApiLimit(): void;
  setApiDailyMax(max: number): void;
  /** Forgets counted calls and per-endpoint counts. */
  resetApiUsage(): void;
  /** Disarms 503s and latency. */
  clearFaults(): void;
  dropCometdClients(): void;
  emitGap(changeType: GapType, recordIds: string[]): void;
  emitOverflow(): void;
  purgeReplayRetention(): void;
  /** Removes the InitLive package: its fields (and their data), permission set and CDC selection. */
  uninstallPackage(): void;
  /** Deploys the InitLive package from its source files (see package-source.ts). */
  installPackage(): void;
  isPackageInstalled(): boolean;
  /**
   * Creates a Contact custom field as a Tooling API CustomField create does
   * (`{ type: 'Text', length: 10, label: 'T-Shirt Size' }`); returns its id.
   */
  createContactField(apiName: string, metadata: CustomFieldMetadata): string;
  /** Deletes a custom field (not one of the package's) and its data, by API name. */
  deleteContactField(apiName: string): void;
  /** Selects (true) or deselects (false) Contact for Change Data Capture. */
  setChangeDataCapture(selected: boolean): void;
  counters(): SandboxCounters;
  getContact(id: string): ContactRecord | undefined;
  listContacts(options?: { includeDeleted?: boolean }): ContactRecord[];
  /** Creates a Contact as a UI user; throws RecordFault (`.error.statusCode`) when invalid. */
  createContact(fields: Record<string, unknown>): ContactRecord;
  /**
   * Updates as a UI user. `gapOnly` makes it a change CDC cannot describe (a database-level
   * change): no regular event, only a GAP_UPDATE naming the record.
   */
  updateContact(
    id: string,
    fields: Record<string, unknown>,
    options?: { gapOnly?: boolean },
  ): ContactRecord;
  /**
   * Changes a Contact below the API (a database restore, a data fix): LastModifiedDate stays and
   * no change event is published. What a full sync's drift repair is for.
   */
  driftContact(id: string, fields: Record<string, unknown>): ContactRecord;
  deleteContact(id: string): void;
  /** Restores a Contact from the recycle bin (an UNDELETE event). */
  undeleteContact(id: string): ContactRecord;
  /** Every committed write, from any API or the UI. */
  onWrite(listener: WriteListener): () => void;
  /** The streaming side, when attached. */
  readonly cometd: CometdControl | null;
}

/** Builds the control for `org`; `cometd` is the streaming side (null when not attached). */
export function createControl(org: Org, cometd: CometdControl | null): SandboxControl {
  const ui = <T>(work: (tx: Transaction) => T, silent = false): T => {
    const tx = org.store.begin({
      api: 'ui',
      apiVersion: LATEST_VERSION,
      client: null,
      userId: org.identity.userId,
    });
    try {
      const out = work(tx);
      tx.commit({ silent });
      return out;
    } catch (err) {
      tx.rollback();
      throw err;
    }
  };
  const mustGet = (id: string): ContactRecord => {
    const r = org.store.get(id);
    if (!r) throw new RecordFault('NOT_FOUND', 'The requested resource does not exist');
    return r;
  };
  const idOf = (id: string): string => String(mustGet(id).Id);
  return {
    cometd,
    expireAccessTokens: () => org.tokens.expireAllAccessTokens(),
    revokeAllGrants: () => org.tokens.revokeAll(),
    failNext: (count, status) => org.faults.failNext(count, status),
    setLatencyMs: (ms) => {
      org.faults.latencyMs = Math.max(0, ms);
    },
    exhaustApiLimit: () => org.usage.exhaust(),
    setApiDailyMax: (max) => {
      org.usage.max = max;
    },
    resetApiUsage: () => org.usage.reset(),
    clearFaults: () => org.faults.clear(),
    dropCometdClients: () => cometd?.dropAllClients(),
    emitGap: (changeType, recordIds) => cometd?.emitGap(changeType, recordIds),
    emitOverflow: () => cometd?.emitOverflow(),
    purgeReplayRetention: () => cometd?.purgeRetention(),
    uninstallPackage: () => org.setup.uninstallPackage(),
    installPackage: () => org.setup.installPackage(),
    isPackageInstalled: () => org.setup.packageInstalled,
    createContactField: (apiName, metadata) =>
      org.setup.createCustomField(`Contact.${apiName}`, metadata),
    deleteContactField: (apiName) => {
      const f = org.setup
        .customFields()
        .find((x) => x.name.toLowerCase() === apiName.toLowerCase());
      if (!f) throw new RecordFault('NOT_FOUND', `No custom field ${apiName} on Contact`);
      org.setup.deleteCustomField(f.id);
    },
    setChangeDataCapture: (selected) => {
      const member = org.setup
        .channelMembers()
        .find(
          (m) =>
            m.eventChannel === CONTACT_SELECTION.eventChannel &&
            m.selectedEntity === CONTACT_SELECTION.selectedEntity,
        );
      if (selected && !member) {
        org.setup.createChannelMember(
          `${CONTACT_SELECTION.eventChannel}_${CONTACT_SELECTION.selectedEntity}`,
          CONTACT_SELECTION.eventChannel,
          CONTACT_SELECTION.selectedEntity,
        );
      } else if (!selected && member) org.setup.deleteChannelMember(member.id);
    },
    counters: () => ({
      apiCallsUsed: org.usage.used(),
      apiDailyMax: org.usage.max,
      writes: org.store.writesCount,
      endpoints: org.usage.endpointCounts(),
      ...org.tokens.counts(),
      cometdClients: cometd?.clientCount() ?? 0,
      pendingFailures: org.faults.pendingUnavailable(),
    }),
    getContact: (id) => org.store.get(id),
    listContacts: (options = {}) =>
      [...org.store.rows()]
        .filter((r) => options.includeDeleted === true || r.IsDeleted !== true)
        .map((r) => ({ ...r })),
    createContact: (fields) => {
      const id = ui((tx) => tx.insert(deserializeRecord(fields, org.store.schema)));
      return mustGet(id);
    },
    updateContact: (id, fields, options = {}) => {
      const full = idOf(id);
      ui(
        (tx) => tx.update(full, deserializeRecord(fields, org.store.schema)),
        options.gapOnly === true,
      );
      if (options.gapOnly) cometd?.emitGap('GAP_UPDATE', [full]);
      return mustGet(full);
    },
    driftContact: (id, fields) => {
      const full = idOf(id);
      org.store.drift(full, deserializeRecord(fields, org.store.schema));
      return mustGet(full);
    },
    deleteContact: (id) => {
      const full = idOf(id);
      ui((tx) => tx.remove(full));
    },
    undeleteContact: (id) => {
      const full = idOf(id);
      ui((tx) => tx.undelete(full));
      return mustGet(full);
    },
    onWrite: (listener) => org.store.onWrite(listener),
  };
}

/** What a new org's admin (or a benchmark) needs to connect to it. */
export interface OrgCredentials {
  orgId: string;
  userId: string;
  username: string;
  password: string;
  clientId: string;
  clientSecret: string;
  /** The shared login URL: the authorize request names the user with `login_hint`. */
  loginUrl: string;
  /** The org's own login URL (My Domain): every grant there is for this org. */
  orgLoginUrl: string;
  instanceUrl: string;
}

export function credentialsOf(org: Org): OrgCredentials {
  return {
    orgId: org.identity.orgId,
    userId: org.identity.userId,
    username: org.config.username,
    password: org.config.password,
    clientId: org.config.clientId,
    clientSecret: org.config.clientSecret,
    loginUrl: org.baseUrl,
    orgLoginUrl: `${org.baseUrl}/orgs/${org.identity.orgId}`,
    instanceUrl: org.baseUrl,
  };
}

/**
 * `/__sandbox/*`: the control over HTTP for the demo and for tests in other processes. Every
 * call needs `X-Sandbox-Secret: <client secret>`. `POST /__sandbox/faults` takes
 * `{"action": ..., ...}` (see docs/sandbox.md); `GET /__sandbox/counters`; `/__sandbox/contacts`
 * reads and writes as a UI user. These act on the default org; under
 * `/__sandbox/orgs/<orgId>/` the same routes act on that org. `POST /__sandbox/orgs` creates an
 * org (`{username?, password?, apiDailyMax?, packageInstalled?, contacts?, contactCount?,
 * seed?, offset?}`; `contactCount` adds that many demo people, as the demo seeds them) and
 * answers its credentials. Its contacts are existing data: no change events.
 */
export function controlRouter(orgs: OrgRegistry, controlOf: (org: Org) => SandboxControl): Router {
  const outer = express.Router();
  outer.use((req: Request, res: Response, next) => {
    if (req.headers['x-sandbox-secret'] !== orgs.defaultOrg.config.clientSecret) {
      res
        .status(401)
        .json({ error: 'unauthorized', error_description: 'X-Sandbox-Secret header required' });
      return;
    }
    next();
  });
  outer.use(express.json({ limit: '10mb' }));
  const handle = (res: Response, work: () => unknown): void => {
    try {
      const out = work();
      if (out === undefined) res.status(204).end();
      else res.json(out);
    } catch (err) {
      if (err instanceof RecordFault) {
        res
          .status(err.error.statusCode === 'NOT_FOUND' ? 404 : 400)
          .json([
            { message: err.message, errorCode: err.error.statusCode, fields: err.error.fields },
          ]);
        return;
      }
      if (err instanceof ApiFault) {
        res.status(err.status).json(err.errors);
        return;
      }
      throw err;
    }
  };

  outer.post('/orgs', (req, res) =>
    handle(res, () => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const text = (k: string): string | undefined =>
        typeof body[k] === 'string' ? body[k] : undefined;
      const count = Number(body.contactCount ?? 0);
      if (!Number.isInteger(count) || count < 0)
        throw new RecordFault('INVALID_INPUT', 'contactCount must be a whole number');
      const given = Array.isArray(body.contacts)
        ? (body.contacts as Record<string, unknown>[])
        : [];
      const org = orgs.create({
        username: text('username'),
        password: text('password'),
        apiDailyMax: body.apiDailyMax === undefined ? undefined : Number(body.apiDailyMax),
        packageInstalled: body.packageInstalled !== false,
        contacts: [
          ...given,
          ...demoContacts(count, {
            seed: typeof body.seed === 'number' || typeof body.seed === 'string' ? body.seed : 1,
            offset: Number.isInteger(body.offset) ? Number(body.offset) : 0,
          }),
        ],
      });
      res.status(201);
      return credentialsOf(org);
    }),
  );
  outer.get('/orgs', (_req, res) => handle(res, () => [...orgs.all()].map(credentialsOf)));

  /** The org a per-org route acts on: `/orgs/<orgId>/...`, else the default org. */
  const control = (req: Request): SandboxControl => {
    const orgId = (req.params as { orgId?: string }).orgId;
    const org = orgId === undefined ? orgs.defaultOrg : orgs.get(orgId);
    if (!org) throw new RecordFault('NOT_FOUND', `No org ${orgId ?? ''}`);
    return controlOf(org);
  };
  const router = express.Router({ mergeParams: true });

  router.post('/faults', (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const num = (k: string): number => {
      const v = Number(body[k]);
      if (!Number.isFinite(v)) throw new RecordFault('INVALID_INPUT', `${k} must be a number`);
      return v;
    };
    handle(res, () => {
      const c = control(req);
      switch (body.action) {
        case 'expire-access-tokens':
          return c.expireAccessTokens();
        case 'revoke-all':
          return c.revokeAllGrants();
        case 'fail-next':
          return c.failNext(num('count'), body.status === 429 ? 429 : 503);
        case 'set-latency':
          return c.setLatencyMs(num('ms'));
        case 'exhaust-api-limit':
          return c.exhaustApiLimit();
        case 'set-api-daily-max':
          return c.setApiDailyMax(num('max'));
        case 'reset-api-usage':
          return c.resetApiUsage();
        case 'clear':
          return c.clearFaults();
        case 'drop-cometd-clients':
          return c.dropCometdClients();
        case 'emit-gap':
          return c.emitGap(
            (typeof body.changeType === 'string' ? body.changeType : 'GAP_UPDATE') as GapType,
            Array.isArray(body.recordIds) ? body.recordIds.map(String) : [],
          );
        case 'emit-overflow':
          return c.emitOverflow();
        case 'purge-retention':
          return c.purgeReplayRetention();
        case 'uninstall-package':
          return c.uninstallPackage();
        case 'install-package':
          return c.installPackage();
        case 'select-cdc':
          return c.setChangeDataCapture(true);
        case 'deselect-cdc':
          return c.setChangeDataCapture(false);
        default:
          throw new RecordFault('INVALID_INPUT', `unknown action: ${String(body.action)}`);
      }
    });
  });
  router.get('/counters', (req, res) => handle(res, () => control(req).counters()));
  router.get('/contacts', (req, res) =>
    handle(res, () =>
      control(req).listContacts({ includeDeleted: req.query.includeDeleted === 'true' }),
    ),
  );
  router.get('/contacts/:id', (req, res) =>
    handle(res, () => {
      const r = control(req).getContact(String(req.params.id));
      if (!r) throw new RecordFault('NOT_FOUND', 'The requested resource does not exist');
      return r;
    }),
  );
  router.post('/contacts', (req, res) =>
    handle(res, () => control(req).createContact((req.body ?? {}) as Record<string, unknown>)),
  );
  router.patch('/contacts/:id', (req, res) =>
    handle(res, () =>
      control(req).updateContact(
        String(req.params.id),
        (req.body ?? {}) as Record<string, unknown>,
      ),
    ),
  );
  router.delete('/contacts/:id', (req, res) =>
    handle(res, () => control(req).deleteContact(String(req.params.id))),
  );
  router.post('/contacts/:id/undelete', (req, res) =>
    handle(res, () => control(req).undeleteContact(String(req.params.id))),
  );
  outer.use('/orgs/:orgId', router);
  outer.use(router);
  return outer;
}
