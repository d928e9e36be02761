import { sourceLockName } from '../../src/batch/lock';
import { SyncError } from '../../src/errors';
import type { InitLiveApi } from '../../src/infra/initlive';
import { MemoryLock } from '../../src/infra/memory/memory-lock';
import { silentLogger } from '../../src/logger';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import { SourceLease } from '../../src/pipeline/source-lease';
import type { LeasedReaders } from '../../src/pipeline/source-lease';
import { eventually, orgRuntime } from './source-initlive-helpers';
import { ControllableLock } from './source-lease-helpers';

/**
 * The per-organization source lease on its own: two "processes" (two SourceLease instances)
 * share one MemoryLock, as processes share Redis; their readers are recorded, not real.
 */

const LEASE_MS = 1_500;
const THIRD_MS = LEASE_MS / 3;
/** Timer and event-loop slack allowed on every timing assertion. */
// Event-loop delays on a loaded machine (CI runs suites side by side) eat into the margins.
const SLACK_MS = 500;

/** Records which organizations' readers run, and every start and stop with its time. */
class RecordedReaders implements LeasedReaders {
  readonly running = new Set<string>();
  readonly log: Array<{ what: 'start' | 'stop'; orgId: string; at: number }> = [];
  failStart = new Set<string>();

  async start(orgId: string): Promise<void> {
    if (this.failStart.has(orgId)) {
      throw new SyncError('STORE_UNAVAILABLE', 'injected: positions unavailable');
    }
    this.running.add(orgId);
    this.log.push({ what: 'start', orgId, at: Date.now() });
  }

  async stop(orgId: string): Promise<void> {
    // A reader finishes its in-flight page before it is stopped.
    await new Promise((r) => setTimeout(r, 5));
    if (this.running.delete(orgId)) this.log.push({ what: 'stop', orgId, at: Date.now() });
  }

  starts(orgId: string): number {
    return this.log.filter((e) => e.what === 'start' && e.orgId === orgId).length;
  }

  last(what: 'start' | 'stop', orgId: string): number {
    const hits = this.log.filter((e) => e.what === what && e.orgId === orgId);
    if (hits.length === 0) throw new Error(`no ${what} of ${orgId}`);
    return hits[hits.length - 1]!.at;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('SourceLease', () => {
  const noApi = {} as InitLiveApi;
  let orgs: StaticOrgDirectory;
  let lock: MemoryLock;
  const leases: SourceLease[] = [];
  const locks: ControllableLock[] = [];

  const member = (
    owner: string,
    readers = new RecordedReaders(),
  ): { lease: SourceLease; readers: RecordedReaders; lock: ControllableLock } => {
    const handle = new ControllableLock(new MemoryLock({ sharedWith: lock }));
    locks.push(handle);
    const lease = new SourceLease(
      { orgs, logger: silentLogger },
      { lock: handle, leaseMs: LEASE_MS, owner },
      readers,
    );
    leases.push(lease);
    return { lease, readers, lock: handle };
  };

  beforeEach(() => {
    orgs = new StaticOrgDirectory([orgRuntime(noApi, 'o1'), orgRuntime(noApi, 'o2')]);
    lock = new MemoryLock();
  });

  afterEach(async () => {
    for (const l of locks.splice(0)) l.thaw();
    await Promise.all(leases.splice(0).map((l) => l.stop()));
  });

  it('gives each organization to one of two processes; the other stands by and keeps trying', async () => {
    const a = member('a');
    const b = member('b');
    await a.lease.start();
    await b.lease.start();
    expect([...a.readers.running].sort()).toEqual(['o1', 'o2']);
    expect(b.readers.running.size).toBe(0);
    expect(a.lease.states()).toEqual([
      { orgId: 'o1', state: 'held' },
      { orgId: 'o2', state: 'held' },
    ]);
    expect(b.lease.state('o1')).toBe('standby');
    expect(await lock.holder(sourceLockName('o1'))).toBe('a');

    // Several lease lengths later the holder still has it: renewals keep it, and the
    // standby's retries never got it.
    await sleep(LEASE_MS * 2);
    expect(a.lease.holds('o1') && a.lease.holds('o2')).toBe(true);
    expect(a.readers.starts('o1')).toBe(1);
    expect(b.readers.log).toEqual([]);
    expect(b.lease.state('o2')).toBe('standby');
  });

  it('a clean stop stops the readers, then releases, and the peer takes over within a third of the lease', async () => {
    const a = member('a');
    const b = member('b');
    await a.lease.start();
    await b.lease.start();
    await a.lease.stop();
    expect(a.readers.running.size).toBe(0);
    // Released only after its readers stopped.
    expect(a.lock.releases.map((r) => r.name).sort()).toEqual(['source:o1', 'source:o2']);
    for (const r of a.lock.releases) {
      expect(r.at).toBeGreaterThanOrEqual(a.readers.last('stop', r.name.slice('source:'.length)));
    }
    await eventually(() => b.readers.running.size === 2, 'b running both organizations', 5_000);
    // Taken at the peer's first try after the stop (it tries every third of the lease), not
    // after the lease ran out: released, not left to expire. Counted in tries, not in
    // milliseconds, which a loaded machine stretches.
    for (const name of ['source:o1', 'source:o2']) {
      const released = a.lock.releases.find((r) => r.name === name)!.done!;
      const tries = b.lock.acquires.filter((t) => t.name === name && t.at >= released);
      expect(tries[0]).toMatchObject({ got: true });
    }
    expect(a.lease.state('o1')).toBe('idle');
  });

  it('a holder whose lock stops answering stops its readers within two thirds of the lease; the peer starts only after that', async () => {
    const a = member('a');
    const b = member('b');
    await a.lease.start();
    await b.lease.start();
    a.lock.mode = 'freeze';
    const frozenAt = Date.now();
    await eventually(() => b.readers.running.has('o1'), 'b taking o1 over', 8_000);
    const stoppedA = a.readers.last('stop', 'o1');
    const startedB = b.readers.last('start', 'o1');
    // The last answered renew was sent at most a third before the freeze.
    expect(stoppedA - frozenAt).toBeLessThanOrEqual(2 * THIRD_MS + SLACK_MS);
    // B could only acquire once the lease (renewed at most a third before the freeze) ran out.
    expect(startedB - frozenAt).toBeGreaterThanOrEqual(2 * THIRD_MS - SLACK_MS / 4);
    expect(startedB - frozenAt).toBeLessThanOrEqual(LEASE_MS + THIRD_MS + SLACK_MS);
    expect(stoppedA).toBeLessThanOrEqual(startedB);
    expect(a.readers.running.size).toBe(0);
    expect(a.lease.holds('o1')).toBe(false);
  });

  it('a renew answered false (another process holds it now) stops that organization at once', async () => {
    const a = member('a');
    await a.lease.start();
    // The lease ran out unnoticed and someone else took it.
    await lock.release(sourceLockName('o1'), 'a');
    expect(await lock.tryAcquire(sourceLockName('o1'), 'intruder', 10_000)).toBe(true);
    const takenAt = Date.now();
    await eventually(() => !a.readers.running.has('o1'), 'o1 stopped', 5_000);
    expect(a.readers.last('stop', 'o1') - takenAt).toBeLessThanOrEqual(THIRD_MS + SLACK_MS);
    expect(a.readers.running.has('o2')).toBe(true);
    await eventually(() => a.lease.state('o1') === 'standby', 'a standing by for o1', 5_000);
    // And it does not steal it back.
    await sleep(LEASE_MS);
    expect(await lock.holder(sourceLockName('o1'))).toBe('intruder');
    expect(a.readers.starts('o1')).toBe(1);
  });

  it('a failed renew stops the readers at once; once the lock answers, the lease is reclaimed before it would run out', async () => {
    const a = member('a');
    const b = member('b');
    await a.lease.start();
    await b.lease.start();
    a.lock.mode = 'fail';
    const failedAt = Date.now();
    await eventually(() => a.readers.running.size === 0, 'readers stopped', 5_000);
    expect(a.readers.last('stop', 'o1') - failedAt).toBeLessThanOrEqual(THIRD_MS + SLACK_MS);
    a.lock.mode = 'ok';
    await eventually(() => a.readers.running.size === 2, 'readers started again', 5_000);
    expect(a.readers.starts('o1')).toBe(2);
    // The lease never lapsed, so the standby never ran anything.
    expect(b.readers.log).toEqual([]);
    expect(await lock.holder(sourceLockName('o1'))).toBe('a');
  });

  it('lets an organization go (readers stopped, lease released) when it stops streaming', async () => {
    const a = member('a');
    await a.lease.start();
    orgs.set({ ...orgs.get('o2')!, streaming: false });
    await a.lease.refresh('o2');
    expect(a.readers.running.has('o2')).toBe(false);
    expect(await lock.holder(sourceLockName('o2'))).toBeNull();
    expect(a.lease.states()).toEqual([{ orgId: 'o1', state: 'held' }]);
    // Streaming on again: taken at once.
    orgs.set({ ...orgs.get('o2')!, streaming: true });
    await a.lease.refresh('o2');
    expect(a.readers.running.has('o2')).toBe(true);
  });

  it('gives the lease back when the sources cannot start, so another process can try', async () => {
    const failing = new RecordedReaders();
    failing.failStart.add('o1');
    const a = member('a', failing);
    await a.lease.start();
    expect(a.readers.running.has('o1')).toBe(false);
    expect(a.readers.running.has('o2')).toBe(true);
    const b = member('b');
    await b.lease.start();
    await eventually(() => b.readers.running.has('o1'), 'b running o1', 5_000);
    expect(b.readers.running.has('o2')).toBe(false);
  });

  it('refuses a lease too short to renew', () => {
    expect(
      () =>
        new SourceLease(
          { orgs, logger: silentLogger },
          { lock, leaseMs: 2 },
          new RecordedReaders(),
        ),
    ).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});
