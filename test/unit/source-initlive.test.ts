import type { InitLiveStaffChange, SyncRunEvent } from '../../src/core/records';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import { InitLiveSource, initLivePositionName } from '../../src/source-initlive';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox } from '../../src/sandbox/initlive';
import {
  ORG_ID,
  ORIGIN,
  client,
  collect,
  eventually,
  fastBackoff,
  orgRuntime,
  testPipeline,
} from './source-initlive-helpers';
import type { Collected, TestPipeline } from './source-initlive-helpers';

describe('InitLiveSource', () => {
  let sandbox: InitLiveSandbox;
  let pipeline: TestPipeline;
  let changes: Collected<InitLiveStaffChange>;
  const sources: InitLiveSource[] = [];

  const newSource = (
    options: ConstructorParameters<typeof InitLiveSource>[1] = {},
  ): InitLiveSource => {
    const source = new InitLiveSource(pipeline.deps, {
      pollIntervalMs: 20,
      pageSize: 2,
      errorBackoff: fastBackoff,
      ...options,
    });
    sources.push(source);
    return source;
  };

  beforeEach(async () => {
    sandbox = await startInitLiveSandbox({ rateLimit: false });
    pipeline = await testPipeline([orgRuntime(client(sandbox.baseUrl))]);
    changes = await collect(pipeline.deps, 'staffChanges');
  });

  afterEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.stop()));
    await changes.stop();
    await pipeline.memory.close();
    await sandbox.close();
  });

  it('turns every feed entry into a change record with canonical values, origin and changed fields', async () => {
    const positions: string[] = [];
    pipeline.events.on('source.position', (e) => positions.push(e.position));
    const ui = sandbox.control;
    const dana = ui.createStaff({
      firstName: 'Dana',
      lastName: 'Lee',
      email: 'dana@example.org',
      address: {
        street: '1 Main St',
        city: 'Springfield',
        region: 'IL',
        postalCode: '62701',
        country: 'US',
      },
      tags: ['Greeter'],
    });
    const api = client(sandbox.baseUrl);
    await api.updateStaff(dana.id, {
      phone: '+1 415 555 0142',
      address: {
        street: '1 Main St',
        city: 'Shelbyville',
        region: 'IL',
        postalCode: '62565',
        country: 'US',
      },
    });
    ui.archiveStaff(dana.id);
    ui.updateStaff(dana.id, { status: 'active' });
    ui.deleteStaff(dana.id);

    await newSource().start();
    await eventually(() => changes.values.length === 5, 'five change records');

    const feed = sandbox.control.feed();
    const [created, updated, archived, restored, deleted] = changes.values;
    expect(changes.values.map((c) => c.operation)).toEqual([
      'CREATE',
      'UPDATE',
      'ARCHIVE',
      'RESTORE',
      'DELETE',
    ]);
    expect(changes.values.map((c) => c.sourcePosition)).toEqual(feed.map((f) => String(f.seq)));
    expect(changes.values.map((c) => c.sourceVersion)).toEqual(feed.map((f) => f.version));
    for (const c of changes.values) {
      expect(c.key).toBe(`${ORG_ID}/${dana.id}`);
      expect(c).toMatchObject({
        orgId: ORG_ID,
        initliveId: dana.id,
        salesforceId: null,
        runId: null,
      });
    }
    expect(created).toMatchObject({
      origin: null,
      values: {
        initliveId: dana.id,
        firstName: 'Dana',
        lastName: 'Lee',
        email: 'dana@example.org',
        phone: null,
        street: '1 Main St',
        city: 'Springfield',
        region: 'IL',
        postalCode: '62701',
        country: 'US',
        tags: ['Greeter'],
        status: 'active',
        hoursWorked: 0,
      },
    });
    expect(created!.changedFields).toEqual(
      expect.arrayContaining(['firstName', 'lastName', 'email', 'street', 'city', 'tags']),
    );
    expect(created!.occurredAt).toBe(Date.parse(feed[0]!.occurredAt));
    // Our own write carries our origin; InitLive names `address`, we name its parts.
    expect(updated!.origin).toBe(ORIGIN);
    expect([...updated!.changedFields].sort()).toEqual(
      ['phone', 'street', 'city', 'region', 'postalCode', 'country'].sort(),
    );
    expect(updated!.values).toMatchObject({
      city: 'Shelbyville',
      postalCode: '62565',
      phone: '+1 415 555 0142',
    });
    expect(archived).toMatchObject({ changedFields: ['status'], values: { status: 'archived' } });
    expect(restored).toMatchObject({ changedFields: ['status'], values: { status: 'active' } });
    expect(deleted).toMatchObject({ changedFields: [], values: {} });

    const last = String(feed[feed.length - 1]!.seq);
    expect(await pipeline.positions.get(initLivePositionName(ORG_ID))).toBe(last);
    expect(positions[positions.length - 1]).toBe(last);
    // pageSize 2: the cursor moved page by page.
    expect(positions.length).toBeGreaterThanOrEqual(3);
  });

  it('commits the cursor only after the broker acknowledged the records', async () => {
    const ui = sandbox.control;
    for (let i = 0; i < 3; i++) ui.createStaff({ lastName: `Ack${i}` });
    pipeline.flaky.failTopic = pipeline.deps.topics.staffChanges;
    pipeline.flaky.failSends = 1;
    const committedAtFailure: Array<string | null> = [];
    const origSend = pipeline.flaky.send.bind(pipeline.flaky);
    pipeline.flaky.send = async (topic, records) => {
      try {
        await origSend(topic, records);
      } catch (err) {
        committedAtFailure.push(await pipeline.positions.get(initLivePositionName(ORG_ID)));
        throw err;
      }
    };

    const source = newSource({ pageSize: 10 });
    await source.start();
    await eventually(() => changes.values.length === 3, 'three records');
    await eventually(
      async () => (await pipeline.positions.get(initLivePositionName(ORG_ID))) === '3',
      'cursor at 3',
    );
    expect(pipeline.flaky.failures).toBe(1);
    expect(committedAtFailure).toEqual([null]);
    expect(changes.values.map((c) => c.sourcePosition)).toEqual(['1', '2', '3']);
    expect(source.status(ORG_ID)).toMatchObject({
      position: '3',
      recordsProduced: 3,
      lastError: null,
    });
  });

  it('puts its cursor back when the store lost it between a read and the commit, rather than reading the feed again (chaos seed 303)', async () => {
    const ui = sandbox.control;
    for (let i = 0; i < 6; i++) ui.createStaff({ lastName: `Lost${i}` });
    const positions = pipeline.positions;
    const real = {
      get: positions.get.bind(positions),
      compareAndSet: positions.compareAndSet.bind(positions),
    };
    // Redis comes back empty just before the second page's commit.
    let commits = 0;
    let lost = false;
    positions.get = (name) => (lost ? Promise.resolve(null) : real.get(name));
    positions.compareAndSet = async (name, expected, value) => {
      if (++commits === 2) lost = true;
      if (lost && expected !== null) return false;
      if (lost) {
        lost = false;
        await positions.set(name, value);
        return true;
      }
      return real.compareAndSet(name, expected, value);
    };

    await newSource().start();
    await eventually(() => changes.values.length >= 6, 'six records');
    await eventually(
      async () => (await real.get(initLivePositionName(ORG_ID))) === '6',
      'cursor at 6',
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(changes.values.map((c) => c.sourcePosition)).toEqual(['1', '2', '3', '4', '5', '6']);
  });

  it('resumes after a restart with nothing missed and nothing repeated', async () => {
    const ui = sandbox.control;
    for (let i = 0; i < 3; i++) ui.createStaff({ lastName: `Before${i}` });
    const first = newSource();
    await first.start();
    await eventually(() => changes.values.length === 3, 'first three');
    await first.stop();
    await first.stop(); // idempotent

    for (let i = 0; i < 2; i++) ui.createStaff({ lastName: `While${i}` });
    const staff = ui.listStaff();
    ui.updateStaff(staff[0]!.id, { firstName: 'Again' });
    await new Promise((r) => setTimeout(r, 50));
    expect(changes.values).toHaveLength(3);

    await newSource().start();
    await eventually(() => changes.values.length === 6, 'all six');
    await new Promise((r) => setTimeout(r, 100));
    expect(changes.values.map((c) => c.sourcePosition)).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(changes.values[5]).toMatchObject({ operation: 'UPDATE', changedFields: ['firstName'] });
  });

  it('backs off on 429 for at least Retry-After and skips nothing', async () => {
    const reads: Array<{ at: number; status: number }> = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const url = input instanceof Request ? input.url : input instanceof URL ? input.href : input;
      if (url.includes('/staff/changes')) reads.push({ at: Date.now(), status: res.status });
      return res;
    };
    // The client gives up after two attempts, so the source's own back-off is exercised too.
    const api = client(sandbox.baseUrl, {
      fetch: recordingFetch,
      retryPolicy: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 5, factor: 2, jitter: 0 },
    });
    pipeline.deps.orgs = new StaticOrgDirectory([orgRuntime(api)]);
    for (let i = 0; i < 4; i++) sandbox.control.createStaff({ lastName: `Limited${i}` });
    sandbox.control.failNextWithRateLimit(3, { retryAfterSeconds: 1 });

    const source = newSource({ pageSize: 10 });
    const failures: string[] = [];
    const started = Date.now();
    await source.start();
    await eventually(
      () => {
        const code = source.status(ORG_ID)?.lastError?.code;
        if (code && !failures.includes(code)) failures.push(code);
        return changes.values.length === 4;
      },
      'all four records',
      15_000,
    );

    expect(changes.values.map((c) => c.sourcePosition)).toEqual(['1', '2', '3', '4']);
    expect(failures).toEqual(['RATE_LIMITED']);
    expect(sandbox.control.counters().rateLimited).toBe(3);
    const limited = reads.filter((r) => r.status === 429);
    expect(limited).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      // Every request after a 429 came at least Retry-After (1 s) later.
      expect(reads[i + 1]!.at - reads[i]!.at).toBeGreaterThanOrEqual(950);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(source.status(ORG_ID)).toMatchObject({ lastError: null, position: '4' });
  });

  it('requests a full sync when the cursor expired, then reads on from the oldest retained change', async () => {
    const ui = sandbox.control;
    ui.createStaff({ lastName: 'Early1' });
    ui.createStaff({ lastName: 'Early2' });
    const first = newSource();
    await first.start();
    await eventually(() => changes.values.length === 2, 'first two');
    await first.stop();

    ui.createStaff({ lastName: 'Purged' });
    expect(ui.expireFeed()).toBe(3);
    const after = ui.createStaff({ lastName: 'AfterPurge' });

    const runs = await collect(pipeline.deps, 'syncRuns');
    const resyncs: string[] = [];
    pipeline.events.on('source.resync', (e) => resyncs.push(`${e.source}:${e.orgId}:${e.reason}`));
    const second = newSource();
    await second.start();
    await eventually(() => changes.values.length === 3, 'the change after the purge');
    await eventually(() => runs.values.length === 1, 'a sync-run request');

    const run: SyncRunEvent = runs.values[0]!;
    expect(run).toMatchObject({
      orgId: ORG_ID,
      kind: 'REQUESTED',
      trigger: 'RECOVERY',
      reason: 'cursor_expired',
      counts: {},
    });
    expect(run.runId).toMatch(/^run_recovery_[0-9a-f]{24}$/);
    expect(resyncs).toEqual([`initlive:${ORG_ID}:cursor_expired`]);
    expect(changes.values[2]).toMatchObject({ initliveId: after.id, sourcePosition: '4' });
    expect(await pipeline.positions.get(initLivePositionName(ORG_ID))).toBe('4');
    expect(second.status(ORG_ID)).toMatchObject({ resyncsRequested: 1, position: '4' });
    await runs.stop();
  });
});
