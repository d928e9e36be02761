import { randomUUID } from 'node:crypto';
import type { Connection } from 'jsforce';
import { defaultMapping } from '../../src/core/mapping';
import type { ReconcileSettings } from '../../src/core/reconcile';
import { FullSyncJob } from '../../src/batch/full-sync-job';
import type { FullSyncOptions } from '../../src/batch/full-sync-job';
import { createInitLiveClient } from '../../src/infra/initlive';
import type { InitLiveApi } from '../../src/infra/initlive';
import { MemoryLock } from '../../src/infra/memory/memory-lock';
import { MemoryParkedWriteStore } from '../../src/infra/memory/memory-parked-write-store';
import { MemoryRecordStatusStore } from '../../src/infra/memory/memory-record-status-store';
import { MemoryRunStore } from '../../src/infra/memory/memory-run-store';
import { createSalesforceConnection } from '../../src/infra/salesforce/connection';
import type { OrgRuntime } from '../../src/orgs/org-directory';
import { OutcomeTracker } from '../../src/outcomes/outcome-tracker';
import { Reconciler } from '../../src/reconciler/reconciler';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox } from '../../src/sandbox/initlive';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { InitLiveSink } from '../../src/sink/initlive-sink';
import { SalesforceSink } from '../../src/sink/salesforce-sink';
import { memoryDeps } from '../fixtures/pipeline-deps';

/** Shared set-up of the full-sync unit tests: both sandboxes, memory pipeline, real components. */

export const ORG_ID = 'org_demo';
export const CLIENT_TAG = 'InitLiveSync';
export const ORIGIN = 'salesforce-sync';

export interface Seed {
  staff: number;
  contacts: number;
  /** People present on both sides (same email, different details). */
  shared: number;
}

export async function salesforceConnection(sb: SalesforceSandbox): Promise<Connection> {
  const res = await fetch(`${sb.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: sb.clientId,
      client_secret: sb.clientSecret,
      username: sb.username,
      password: sb.password,
    }),
  });
  if (!res.ok) throw new Error(`password grant answered ${res.status}`);
  const token = (await res.json()) as { access_token: string; instance_url: string };
  return createSalesforceConnection({
    credentials: {
      instanceUrl: token.instance_url,
      accessToken: token.access_token,
      loginUrl: sb.loginUrl,
      clientId: sb.clientId,
      clientSecret: sb.clientSecret,
    },
    apiVersion: '62.0',
    clientTag: CLIENT_TAG,
    logger: (await import('../../src/logger')).silentLogger,
  });
}

const pad = (i: number): string => String(i).padStart(6, '0');

/**
 * Seeds both sandboxes: staff s0..s(staff-1), contacts c0..c(contacts-1); the first `shared`
 * of each have the same email and the same person, with the phone differing.
 */
export function seedContacts(seed: Seed): Record<string, unknown>[] {
  return Array.from({ length: seed.contacts }, (_, i) =>
    i < seed.shared
      ? {
          FirstName: `Shared${pad(i)}`,
          LastName: 'Person',
          Email: `shared${pad(i)}@example.org`,
          Phone: `555-1${pad(i)}`,
        }
      : { FirstName: `Contact${pad(i)}`, LastName: 'Only', Email: `contact${pad(i)}@example.org` },
  );
}

export function seedStaff(il: InitLiveSandbox, seed: Seed): void {
  for (let i = 0; i < seed.staff; i++) {
    il.control.createStaff(
      i < seed.shared
        ? {
            firstName: `Shared${pad(i)}`,
            lastName: 'Person',
            email: `shared${pad(i)}@example.org`,
            phone: `555-2${pad(i)}`,
          }
        : { firstName: `Staff${pad(i)}`, lastName: 'Only', email: `staff${pad(i)}@example.org` },
    );
  }
}

export interface World {
  il: InitLiveSandbox;
  sf: SalesforceSandbox;
  deps: Awaited<ReturnType<typeof memoryDeps>> & { runStore: MemoryRunStore; lock: MemoryLock };
  org: OrgRuntime;
  reconciler: Reconciler;
  /** Counts outcomes into run tallies and record status, as the connector does. */
  tracker: OutcomeTracker;
  statuses: MemoryRecordStatusStore;
  sinks: { salesforce: SalesforceSink; initlive: InitLiveSink };
  job: (options?: FullSyncOptions) => FullSyncJob;
  /** Resolves when the reconciler and both sinks have consumed everything produced so far. */
  drained: (timeoutMs?: number) => Promise<void>;
  close: () => Promise<void>;
}

export async function startWorld(
  seed: Seed,
  options: {
    settings?: Partial<ReconcileSettings>;
    sinks?: boolean;
    sfPageSize?: number;
    /** Sinks park as deployed (PARK_HELD_WRITES), in memory. */
    parked?: boolean;
  } = {},
): Promise<World> {
  const il = await startInitLiveSandbox({ rateLimit: false });
  seedStaff(il, seed);
  const sf = await startSalesforceSandbox({
    seed: seedContacts(seed),
    bulkPollDelayMs: 20,
    streaming: false,
    ...(options.sfPageSize ? { pageSize: options.sfPageSize } : {}),
  });
  const conn = await salesforceConnection(sf);
  const initlive: InitLiveApi = createInitLiveClient({
    baseUrl: il.baseUrl,
    apiKey: 'sandbox-key',
    orgId: ORG_ID,
    changeOrigin: ORIGIN,
  });
  const org: OrgRuntime = {
    orgId: ORG_ID,
    settings: {
      direction: 'two_way',
      defaultSystem: 'initlive',
      deletePolicy: 'archive',
      mapping: defaultMapping,
      ...options.settings,
    },
    streaming: false,
    salesforce: conn,
    initlive,
    initliveOrigin: ORIGIN,
    salesforceClientTag: CLIENT_TAG,
  };
  const base = await memoryDeps([org]);
  const deps = Object.assign(base, { runStore: new MemoryRunStore(), lock: new MemoryLock() });
  const reconciler = new Reconciler(deps);
  await reconciler.start();
  const statuses = new MemoryRecordStatusStore();
  const tracker = new OutcomeTracker({ ...deps, runs: deps.runStore, statuses });
  await tracker.start();
  const parked = (): { parked?: MemoryParkedWriteStore } =>
    options.parked ? { parked: new MemoryParkedWriteStore() } : {};
  const sinks = {
    salesforce: new SalesforceSink(deps, { lingerMs: 20, ...parked() }),
    initlive: new InitLiveSink(deps, parked()),
  };
  if (options.sinks !== false)
    await Promise.all([sinks.salesforce.start(), sinks.initlive.start()]);
  const groups = [
    {
      group: `${deps.groupPrefix}.reconciler`,
      topics: [deps.topics.staffChanges, deps.topics.contactChanges],
    },
    ...(options.sinks === false
      ? []
      : [
          { group: sinks.salesforce.groupId, topics: [deps.topics.salesforceWrites] },
          { group: sinks.initlive.groupId, topics: [deps.topics.initliveWrites] },
        ]),
  ];
  const drained = async (timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let quiet = 0;
    // Several quiet looks in a row: a sink's write can produce more work (links, stamps).
    while (quiet < 5) {
      const lags = await Promise.all(groups.map((g) => deps.transport.lag(g.group, g.topics)));
      quiet = lags.flat().every((p) => p.lag === 0) ? quiet + 1 : 0;
      if (Date.now() > deadline) throw new Error(`pipeline not drained after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    il,
    sf,
    deps,
    org,
    reconciler,
    tracker,
    statuses,
    sinks,
    job: (o) => new FullSyncJob(deps, { settlePollMs: 10, bulkPollMs: 20, ...o }),
    drained,
    close: async () => {
      await Promise.all([
        reconciler.stop(),
        sinks.salesforce.stop(),
        sinks.initlive.stop(),
        tracker.stop(),
      ]);
      await deps.transport.close();
      await Promise.all([il.close(), sf.close()]);
    },
  };
}

/** What each side holds, comparable between two runs from identical seeds (no ids). */
export function peopleOf(w: World): { initlive: string[]; salesforce: string[] } {
  const il = w.il.control
    .listStaff()
    .map((s) => `${s.email}|${s.firstName}|${s.lastName}|${s.phone ?? ''}|${s.status}`)
    .sort();
  const sf = w.sf.control
    .listContacts()
    .map(
      (c) =>
        `${String(c.Email)}|${String(c.FirstName)}|${String(c.LastName)}|${String(c.Phone ?? '')}|${String(c.InitLive_Status__c ?? '')}`,
    )
    .sort();
  return { initlive: il, salesforce: sf };
}

export function newRunId(): string {
  return `run_${randomUUID()}`;
}
