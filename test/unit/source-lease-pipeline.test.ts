import type { Connection } from 'jsforce';
import { defaultMapping } from '../../src/core/mapping';
import { createInitLiveClient, signWebhookBody } from '../../src/infra/initlive';
import type { InitLiveApi } from '../../src/infra/initlive';
import { MemoryLock } from '../../src/infra/memory/memory-lock';
import { createSalesforceConnection } from '../../src/infra/salesforce/connection';
import { silentLogger } from '../../src/logger';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import type { OrgRuntime } from '../../src/orgs/org-directory';
import { createPipeline } from '../../src/pipeline/connector';
import type { Pipeline } from '../../src/pipeline/connector';
import { SyncEvents } from '../../src/pipeline/events';
import type { ReconcilerDeps } from '../../src/reconciler/reconciler';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox } from '../../src/sandbox/initlive';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { passwordToken } from '../fixtures/e2e';
import { collect, memoryDeps } from '../fixtures/pipeline-deps';
import { eventually } from './source-initlive-helpers';
import { ControllableLock } from './source-lease-helpers';

/**
 * Two connector "processes" in one jest process: each its own pipeline, org directory and
 * clients (so each one's InitLive calls can be counted), sharing what processes share: the
 * memory transport (one consumer group), the stores, and the lock (a MemoryLock, as Redis).
 * Both sandboxes count what reaches them.
 */

jest.setTimeout(60_000);

const ORG = 'org_demo';
const LEASE_MS = 600;
const FEED_ROUTE = 'GET /organizations/:orgId/staff/changes';
const WEBHOOK_SECRET = 'whsec-lease-test-42';

interface Member {
  name: string;
  pipeline: Pipeline;
  lock: ControllableLock;
  /** Feed reads this process made. */
  feedReads: () => number;
}

describe('source lease: two pipelines, one organization', () => {
  let sf: SalesforceSandbox;
  let il: InitLiveSandbox;
  let shared: ReconcilerDeps;
  let lock: MemoryLock;
  const members: Member[] = [];

  const startMember = async (name: string): Promise<Member> => {
    const access = (await passwordToken(sf)).access_token;
    const conn: Connection = createSalesforceConnection({
      credentials: {
        instanceUrl: sf.instanceUrl,
        accessToken: access,
        loginUrl: sf.loginUrl,
        clientId: sf.clientId,
        clientSecret: sf.clientSecret,
      },
      apiVersion: '62.0',
      clientTag: 'InitLiveSync',
      logger: silentLogger,
      mintAccessToken: async () => (await passwordToken(sf)).access_token,
    });
    const client = createInitLiveClient({
      baseUrl: il.baseUrl,
      apiKey: 'sandbox-key',
      orgId: ORG,
      changeOrigin: 'salesforce-sync',
    });
    let reads = 0;
    const initlive: InitLiveApi = {
      ...client,
      readChanges: (after, limit) => {
        reads++;
        return client.readChanges(after, limit);
      },
    };
    const org: OrgRuntime = {
      orgId: ORG,
      settings: {
        direction: 'initlive_to_salesforce',
        defaultSystem: 'initlive',
        deletePolicy: 'archive',
        mapping: defaultMapping,
      },
      streaming: true,
      salesforce: conn,
      initlive,
      initliveOrigin: 'salesforce-sync',
      salesforceClientTag: 'InitLiveSync',
    };
    const handle = new ControllableLock(new MemoryLock({ sharedWith: lock }));
    const pipeline = createPipeline(
      { ...shared, orgs: new StaticOrgDirectory([org]), events: new SyncEvents() },
      {
        initliveSource: { pollIntervalMs: 20, webhook: { secret: WEBHOOK_SECRET } },
        salesforceSink: { lingerMs: 10 },
        sourceLease: { lock: handle, leaseMs: LEASE_MS, owner: name },
      },
    );
    await pipeline.start();
    const member = { name, pipeline, lock: handle, feedReads: () => reads };
    members.push(member);
    return member;
  };

  beforeEach(async () => {
    sf = await startSalesforceSandbox();
    il = await startInitLiveSandbox({ rateLimit: false });
    shared = await memoryDeps();
    lock = new MemoryLock();
  });

  afterEach(async () => {
    for (const m of members) m.lock.thaw();
    await Promise.all(members.splice(0).map((m) => m.pipeline.stop()));
    await shared.transport.close();
    await Promise.allSettled([sf.close(), il.close()]);
  });

  it('only the lease holder polls the InitLive feed and subscribes to CometD; a webhook at the other is accepted', async () => {
    const a = await startMember('a');
    const b = await startMember('b');
    const staff = await collect(shared, 'staffChanges');
    try {
      expect(a.pipeline.sourceLease?.state(ORG)).toBe('held');
      expect(b.pipeline.sourceLease?.state(ORG)).toBe('standby');
      const created = il.control.createStaff({ firstName: 'Lease', lastName: 'One' });
      await staff.until(1);
      // Some thirty poll intervals and several renewals later, still one reader of each kind.
      await new Promise((r) => setTimeout(r, LEASE_MS));
      expect(sf.control.counters().cometdClients).toBe(1);
      expect(a.pipeline.salesforceSource.stream(ORG)).toBeDefined();
      expect(b.pipeline.salesforceSource.stream(ORG)).toBeUndefined();
      expect(b.pipeline.initliveSource.status(ORG)).toBeUndefined();

      // A nudge that lands at the standby process is a success for InitLive, not an error.
      const body = JSON.stringify({
        id: 'evt_1',
        type: 'staff.changed',
        orgId: ORG,
        seq: il.control.feed().at(-1)!.seq,
        occurredAt: new Date().toISOString(),
      });
      const signature = signWebhookBody(body, WEBHOOK_SECRET, Date.now() / 1000);
      const answer = b.pipeline.initliveSource.handleWebhook(Buffer.from(body), signature, ORG);
      expect(answer.status).toBe(202);
      expect(b.pipeline.initliveSource.stats().webhooks).toMatchObject({
        standby: 1,
        accepted: 0,
        rejected: 0,
      });

      await Promise.all(members.splice(0).map((m) => m.pipeline.stop()));
      // Every feed request the sandbox saw came from the holder.
      expect(b.feedReads()).toBe(0);
      expect(a.feedReads()).toBeGreaterThan(10);
      expect(il.control.counters().requests[FEED_ROUTE]).toBe(a.feedReads());
      expect(staff.records.filter((r) => r.initliveId === created.id)).toHaveLength(1);
    } finally {
      await staff.stop();
    }
  });

  /**
   * Changes made before, during and after a handover all reach the change topics exactly
   * once: each InitLive feed entry once, each (Contact, CDC replay id) once.
   */
  async function handover(loseHolder: (holder: Member) => Promise<void>): Promise<{
    takeoverMs: number;
    holder: Member;
    successor: Member;
  }> {
    const contacts = [1, 2, 3].map(
      (i) => sf.control.createContact({ LastName: `Lease${i}`, Email: `lease${i}@example.org` }).Id,
    ) as string[];
    const holder = await startMember('a');
    const successor = await startMember('b');
    const staff = await collect(shared, 'staffChanges');
    const contactChanges = await collect(shared, 'contactChanges');
    const phoneOf = (contactId: string, phone: string): number =>
      contactChanges.records.filter((r) => r.salesforceId === contactId && r.values.phone === phone)
        .length;
    const staffIds: string[] = [];
    try {
      const change = (i: number): void => {
        staffIds.push(il.control.createStaff({ firstName: 'Lease', lastName: `S${i}` }).id);
        sf.control.updateContact(contacts[i]!, { Phone: `+1 555 000${i}` });
      };
      change(0);
      await eventually(() => phoneOf(contacts[0]!, '+1 555 0000') === 1, 'first contact change');

      await loseHolder(holder);
      const lostAt = Date.now();
      // Made while nobody reads: the successor must pick them up from the stored positions.
      change(1);
      await eventually(
        () => successor.pipeline.sourceLease?.state(ORG) === 'held',
        'the successor holding the lease',
        5_000,
      );
      const takeoverMs = Date.now() - lostAt;
      change(2);

      await eventually(
        () =>
          [0, 1, 2].every((i) => phoneOf(contacts[i]!, `+1 555 000${i}`) >= 1) &&
          staffIds.every((id) => staff.records.some((r) => r.initliveId === id)),
        'every change on the topics',
        15_000,
      );
      // Let echoes of the sink's writes settle before counting.
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 0; i < 3; i++) expect(phoneOf(contacts[i]!, `+1 555 000${i}`)).toBe(1);
      const positions = staff.records.map((r) => r.sourcePosition).filter((p) => /^\d+$/.test(p));
      expect(new Set(positions).size).toBe(positions.length);
      expect([...positions].sort()).toEqual(
        il.control
          .feed()
          .map((f) => String(f.seq))
          .sort(),
      );
      const cdc = contactChanges.records.map((r) => `${r.salesforceId}@${r.sourcePosition}`);
      expect(new Set(cdc).size).toBe(cdc.length);
      expect(sf.control.counters().cometdClients).toBe(1);
      expect(successor.pipeline.salesforceSource.stream(ORG)).toBeDefined();
      return { takeoverMs, holder, successor };
    } finally {
      await Promise.all([staff.stop(), contactChanges.stop()]);
    }
  }

  it('a clean stop of the holder hands over promptly; nothing is missed or repeated', async () => {
    const { takeoverMs, holder } = await handover(async (a) => {
      await a.pipeline.stop();
      members.splice(members.indexOf(a), 1);
    });
    // The peer retries every third of the lease; the release makes its next try succeed.
    // With slack for a loaded machine (CI runs suites side by side).
    expect(takeoverMs).toBeLessThan(LEASE_MS / 3 + 1_500);
    expect(holder.pipeline.sourceLease?.state(ORG)).toBe('idle');
  });

  it('a holder that stops renewing (lock frozen, no release) is taken over after the lease; nothing is missed or repeated', async () => {
    const { takeoverMs, holder } = await handover(async (a) => {
      a.lock.mode = 'freeze';
    });
    // Not before its last renewal ran out (at least two thirds of a lease after the freeze).
    expect(takeoverMs).toBeGreaterThanOrEqual((2 * LEASE_MS) / 3 - 50);
    expect(takeoverMs).toBeLessThan(LEASE_MS + LEASE_MS / 3 + 1_500);
    // The frozen holder stopped its own readers rather than read alongside.
    expect(holder.pipeline.salesforceSource.stream(ORG)).toBeUndefined();
    expect(holder.pipeline.initliveSource.status(ORG)?.running).toBe(false);
  });
});
