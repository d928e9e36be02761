import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../logger';
import type { Logger } from '../../logger';
import { createPrng } from '../demo-people';
import { API_PREFIX, createInitLiveApp } from './app';
import type { ControlSurface, NewOrgOptions, OrgFaults, SandboxCounters } from './app';
import { ApiError } from './model';
import type { FeedEntry, SandboxOrg, StaffRecord, WritableStaffFields } from './model';
import { KeyRateLimiter } from './rate-limit';
import type { RateLimitOptions } from './rate-limit';
import { generateSeedStaff } from './seed';
import { InitLiveStore } from './store';
import type { StoreSnapshot } from './store';
import { parseStaffWrite } from './validation';
import { WebhookDispatcher, defaultWebhookDeliveryOptions } from './webhooks';
import type { DeliveryAttempt, WebhookDeliveryOptions, WebhookMode } from './webhooks';

export const DEFAULT_SANDBOX_ORG: SandboxOrg = {
  id: 'org_demo',
  name: 'Demo Volunteer Organization',
  timezone: 'America/Los_Angeles',
  apiKey: 'sandbox-key',
};

const SEVEN_DAYS_MS = 7 * 24 * 60 * 60 * 1000;

export interface InitLiveSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: one org, `org_demo` with key `sandbox-key`. Keys must be unique. */
  orgs?: SandboxOrg[];
  /** Per key; default 20/s with a burst of 40. `false` turns the limiter off. */
  rateLimit?: RateLimitOptions | false;
  /** How long feed entries are kept; default 7 days. */
  feedRetentionMs?: number;
  /** Seeds staff into an org (default the first) when it has none after loading the state file. */
  seed?: { staffCount: number; seed?: string | number; orgId?: string };
  /** Seed of the id generator, so ids repeat from run to run. */
  randomSeed?: string | number;
  /** Epoch ms; defaults to Date.now. `control.advanceClock` adds to it. */
  clock?: () => number;
  /** JSON snapshot: loaded at start when present, rewritten shortly after each change and on close. */
  stateFile?: string;
  webhooks?: Partial<WebhookDeliveryOptions>;
  logger?: Logger;
}

export interface OrgOption {
  /** Which org; default the first configured one. */
  orgId?: string;
}

/** In-process control of the sandbox; each method is also reachable over `/__sandbox`. */
export interface InitLiveSandboxControl {
  counters(): SandboxCounters;
  resetCounters(): void;
  /** The next `count` API requests of the org get 429 with `Retry-After: retryAfterSeconds` (default 1). */
  failNextWithRateLimit(count: number, options?: OrgOption & { retryAfterSeconds?: number }): void;
  /** The next `count` API requests of the org get `status` (default 503) before anything is done. */
  failNextWithServerError(count: number, options?: OrgOption & { status?: number }): void;
  /** Purges every feed entry recorded up to now; returns how many. */
  expireFeed(options?: OrgOption): number;
  /** Moves the sandbox clock forward (ages the feed, stamps later writes); returns the new now. */
  advanceClock(ms: number): number;
  now(): number;
  setWebhookMode(mode: Partial<WebhookMode>): WebhookMode;
  webhookAttempts(): DeliveryAttempt[];
  /** Resolves when no webhook delivery is held, in flight or scheduled for retry. */
  webhooksIdle(): Promise<void>;
  /** Writes "as a human in the InitLive UI": validated like the API, recorded with origin null. */
  createStaff(input: unknown, options?: OrgOption): StaffRecord;
  updateStaff(id: string, patch: unknown, options?: OrgOption): StaffRecord;
  /**
   * Changes a staff member below the API (a restore, a data fix): same version, no feed entry.
   * What a full sync's drift repair is for.
   */
  driftStaff(id: string, patch: unknown, options?: OrgOption): StaffRecord;
  archiveStaff(id: string, options?: OrgOption): StaffRecord;
  deleteStaff(id: string, options?: OrgOption): void;
  /** Simulates check-ins: sets hoursWorked (read-only over the API), bumping the version. */
  setHoursWorked(id: string, hours: number, options?: OrgOption): StaffRecord;
  getStaff(id: string, options?: OrgOption): StaffRecord;
  listStaff(options?: OrgOption): StaffRecord[];
  feed(options?: OrgOption): FeedEntry[];
  /**
   * Adds `count` generated staff (seed/seed.ts), continuing the seed's people after those
   * already present. By default no feed entries are recorded, as for data older than the
   * retention window: a connector meets them through a full sync.
   */
  seedStaff(
    count: number,
    options?: OrgOption & { seed?: string | number; recordChanges?: boolean },
  ): StaffRecord[];
  /** Writes the state file now (no-op without one). */
  saveState(): Promise<void>;
  /**
   * Adds an organization with its own key, staff, feed, webhooks, faults and rate limit
   * bucket; kept in the state file. Defaults: id `org_<n>`, a random key.
   */
  createOrg(options?: NewOrgOptions): SandboxOrg;
}

export interface InitLiveSandbox {
  /** Where the server listens, e.g. http://127.0.0.1:53121. */
  url: string;
  /** What a client is configured with (INITLIVE_BASE_URL); the API lives at `${baseUrl}/api/v1`. */
  baseUrl: string;
  apiUrl: string;
  /** The configured organizations, then those created since (a live list). */
  orgs: readonly SandboxOrg[];
  control: InitLiveSandboxControl;
  /** Stops deliveries, closes connections and writes the state file. */
  close(): Promise<void>;
}

function checkOrgs(orgs: readonly SandboxOrg[]): void {
  if (orgs.length === 0) throw new Error('The InitLive sandbox needs at least one organization');
  const ids = new Set<string>();
  const keys = new Set<string>();
  for (const org of orgs) {
    if (ids.has(org.id)) throw new Error(`Duplicate sandbox organization id ${org.id}`);
    if (keys.has(org.apiKey))
      throw new Error(`Two sandbox organizations share one API key (${org.id})`);
    ids.add(org.id);
    keys.add(org.apiKey);
  }
}

function emptyCounters(): SandboxCounters {
  return {
    requests: {},
    requestsTotal: 0,
    responses: {},
    writes: 0,
    changes: 0,
    rateLimited: 0,
    webhook: { attempts: 0, delivered: 0, failed: 0 },
  };
}

/**
 * Starts the InitLive sandbox: the contract's API under `/api/v1`, in memory, plus the
 * `/__sandbox` control routes. Resolves once listening. See docs/sandbox-initlive.md.
 */
export async function startInitLiveSandbox(
  options: InitLiveSandboxOptions = {},
): Promise<InitLiveSandbox> {
  const orgs = [...(options.orgs ?? [DEFAULT_SANDBOX_ORG])];
  checkOrgs(orgs);
  const orgsByKey = new Map(orgs.map((o) => [o.apiKey, o]));
  /** Organizations created while running: the state file keeps them. */
  const created: SandboxOrg[] = [];
  const logger = (options.logger ?? silentLogger).child({ component: 'initlive-sandbox' });
  const baseClock = options.clock ?? (() => Date.now());
  let clockOffsetMs = 0;
  const now = (): number => baseClock() + clockOffsetMs;
  const firstOrgId = (orgs[0] as SandboxOrg).id;
  const orgOf = (o?: OrgOption): string => o?.orgId ?? firstOrgId;

  const store = new InitLiveStore({
    orgs,
    now,
    retentionMs: options.feedRetentionMs ?? SEVEN_DAYS_MS,
    random: createPrng(options.randomSeed ?? Date.now()),
  });
  const addOrg = (org: SandboxOrg): void => {
    store.addOrg(org);
    orgs.push(org);
    orgsByKey.set(org.apiKey, org);
  };
  if (options.stateFile && existsSync(options.stateFile)) {
    let snapshot: StoreSnapshot;
    try {
      snapshot = JSON.parse(readFileSync(options.stateFile, 'utf8')) as StoreSnapshot;
    } catch (err) {
      throw new Error(
        `InitLive sandbox state file ${options.stateFile} is not valid JSON; move it away to start fresh`,
        { cause: err },
      );
    }
    for (const org of snapshot.createdOrgs ?? []) {
      if (orgsByKey.has(org.apiKey) || orgs.some((o) => o.id === org.id)) continue;
      addOrg(org);
      created.push(org);
    }
    store.loadSnapshot(snapshot);
  }

  // State file: rewritten at most every 200 ms after a change, atomically (write then rename).
  let saveTimer: NodeJS.Timeout | undefined;
  let dirty = false;
  let saving: Promise<void> = Promise.resolve();
  const saveState = (force = false): Promise<void> => {
    if (saveTimer) clearTimeout(saveTimer);
    saveTimer = undefined;
    const file = options.stateFile;
    if (!file || (!dirty && !force)) return saving;
    dirty = false;
    saving = saving
      .catch(() => undefined)
      .then(async () => {
        const tmp = `${file}.${process.pid}.tmp`;
        const snapshot: StoreSnapshot = { ...store.toSnapshot(), createdOrgs: created };
        await writeFile(tmp, JSON.stringify(snapshot));
        await rename(tmp, file);
      });
    return saving;
  };
  const markDirty = (): void => {
    if (!options.stateFile) return;
    dirty = true;
    saveTimer ??= setTimeout(() => {
      saveState().catch((err: unknown) =>
        logger.error('initlive sandbox state not saved', { err }),
      );
    }, 200);
  };

  const counters = emptyCounters();
  const faults = new Map<string, OrgFaults>();
  const faultsOf = (orgId: string): OrgFaults => {
    store.organization(orgId);
    let f = faults.get(orgId);
    if (!f) {
      f = { rateLimitCount: 0, retryAfterSeconds: 1, serverErrorCount: 0, serverErrorStatus: 503 };
      faults.set(orgId, f);
    }
    return f;
  };

  const dispatcher = new WebhookDispatcher(
    { ...defaultWebhookDeliveryOptions, ...options.webhooks },
    (orgId, hook) => store.hasWebhook(orgId, hook.id),
    logger,
  );
  store.onChange((orgId, change) => {
    counters.changes++;
    dispatcher.dispatch(orgId, change, store.webhooks(orgId));
    markDirty();
  });

  const asHuman = { origin: null };
  const control: InitLiveSandboxControl & ControlSurface = {
    counters: () => structuredClone({ ...counters, webhook: { ...dispatcher.counters } }),
    resetCounters: () => {
      Object.assign(counters, emptyCounters());
      Object.assign(dispatcher.counters, { attempts: 0, delivered: 0, failed: 0 });
    },
    failNextWithRateLimit: (count, o) => {
      const f = faultsOf(orgOf(o));
      f.rateLimitCount = count;
      f.retryAfterSeconds = o?.retryAfterSeconds ?? 1;
    },
    failNextWithServerError: (count, o) => {
      const f = faultsOf(orgOf(o));
      f.serverErrorCount = count;
      f.serverErrorStatus = o?.status ?? 503;
    },
    expireFeed: (o) => store.purgeFeed(orgOf(o), now() + 1),
    advanceClock: (ms) => {
      clockOffsetMs += ms;
      return now();
    },
    now,
    setWebhookMode: (mode) => {
      Object.assign(dispatcher.mode, mode);
      return { ...dispatcher.mode };
    },
    webhookAttempts: () => dispatcher.attempts(),
    webhooksIdle: () => dispatcher.idle(),
    createStaff: (input, o) =>
      store.createStaff(orgOf(o), parseStaffWrite(input, 'create'), asHuman),
    updateStaff: (id, patch, o) =>
      store.updateStaff(orgOf(o), id, parseStaffWrite(patch, 'patch'), asHuman),
    driftStaff: (id, patch, o) => store.driftStaff(orgOf(o), id, parseStaffWrite(patch, 'patch')),
    archiveStaff: (id, o) => store.updateStaff(orgOf(o), id, { status: 'archived' }, asHuman),
    deleteStaff: (id, o) => store.deleteStaff(orgOf(o), id, asHuman),
    setHoursWorked: (id, hours, o) => store.setHoursWorked(orgOf(o), id, hours),
    getStaff: (id, o) => store.getStaff(orgOf(o), id),
    listStaff: (o) => store.allStaff(orgOf(o)),
    feed: (o) => store.feed(orgOf(o)),
    seedStaff: (count, o) => {
      const orgId = orgOf(o);
      const created: StaffRecord[] = [];
      const generated = generateSeedStaff(count, {
        seed: o?.seed ?? 1,
        offset: store.staffCount(orgId),
      });
      for (const { fields, hoursWorked } of generated) {
        const seeded = { hoursWorked, recordChange: o?.recordChanges ?? false };
        try {
          created.push(store.createStaff(orgId, fields, asHuman, seeded));
        } catch (err) {
          // A human already took this email: keep the person, without it.
          if (!(err instanceof ApiError && err.code === 'duplicate_email')) throw err;
          const withoutEmail: WritableStaffFields = { ...fields, email: null };
          created.push(store.createStaff(orgId, withoutEmail, asHuman, seeded));
        }
      }
      markDirty();
      return created;
    },
    saveState: () => saveState(true),
    createOrg: (o = {}) => {
      let id = o.id;
      for (let n = created.length + 2; id === undefined; n++) {
        if (!orgs.some((x) => x.id === `org_${n}`)) id = `org_${n}`;
      }
      const apiKey = o.apiKey ?? `sandbox-${randomBytes(18).toString('base64url')}`;
      if (orgs.some((x) => x.id === id))
        throw new ApiError(400, 'invalid_request', `Organization ${id} exists`, { id });
      if (orgsByKey.has(apiKey))
        throw new ApiError(400, 'invalid_request', 'That API key is taken', { apiKey });
      const org: SandboxOrg = {
        id,
        name: o.name ?? `Sandbox Organization ${id}`,
        timezone: o.timezone ?? DEFAULT_SANDBOX_ORG.timezone,
        apiKey,
      };
      addOrg(org);
      created.push(org);
      if (o.staffCount) control.seedStaff(o.staffCount, { orgId: id, seed: o.seed });
      markDirty();
      return { ...org };
    },
  };

  if (options.seed && options.seed.staffCount > 0) {
    const orgId = options.seed.orgId ?? firstOrgId;
    if (store.staffCount(orgId) === 0) {
      control.seedStaff(options.seed.staffCount, { orgId, seed: options.seed.seed });
    }
  }

  const limiter =
    options.rateLimit === false ? null : new KeyRateLimiter(options.rateLimit ?? { perSecond: 20 });
  const app = createInitLiveApp({
    store,
    orgByKey: (key) => orgsByKey.get(key),
    limiter,
    faults,
    counters,
    control,
    markDirty,
    logger,
  });
  const server = createServer(app);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;
  logger.info('initlive sandbox listening', { url, orgs: orgs.map((o) => o.id) });

  let closed: Promise<void> | undefined;
  return {
    url,
    baseUrl: url,
    apiUrl: url + API_PREFIX,
    orgs,
    control,
    close: () => {
      closed ??= (async () => {
        dispatcher.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Keep-alive sockets (fetch pools them) would otherwise hold close() open.
          server.closeAllConnections();
        });
        await saveState();
      })();
      return closed;
    },
  };
}
