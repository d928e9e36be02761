import { MemoryWriteHoldStore } from '../../src/infra/memory/memory-write-hold-store';
import { silentLogger } from '../../src/logger';
import { SyncEvents } from '../../src/pipeline/events';
import { WriteHoldBoard } from '../../src/sink/write-holds';

const TTL_MS = 30_000;

describe('WriteHoldBoard', () => {
  let now: number;
  let store: MemoryWriteHoldStore;
  let events: SyncEvents;
  let board: WriteHoldBoard;

  beforeEach(() => {
    jest.useFakeTimers();
    now = 1_000_000;
    store = new MemoryWriteHoldStore({ now: () => now });
    events = new SyncEvents();
    board = new WriteHoldBoard({
      events,
      store,
      process: 'host:1',
      logger: silentLogger,
      ttlMs: TTL_MS,
      now: () => now,
    });
    board.start();
  });

  afterEach(() => {
    board.stop();
    jest.useRealTimers();
  });

  /** Moves the store's clock and the board's timers together, in steps. */
  async function pass(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 1_000) {
      now += 1_000;
      jest.advanceTimersByTime(1_000);
      await Promise.resolve();
    }
  }

  /** Org_a's Salesforce writes held (again) by the sink whose events these are. */
  function pause(on: SyncEvents = events): void {
    on.emit('sink.paused', {
      sink: 'salesforce',
      orgId: 'org_a',
      reason: 'needs_reauth',
      untilMs: null,
      since: now,
      code: 'AUTH_FAILED',
      heldWrites: 3,
    });
  }

  it('keeps a hold listed while its sink holds it, however long between the sink’s looks', async () => {
    pause();
    await Promise.resolve();
    await pass(5 * TTL_MS);
    const holds = await store.list('org_a');
    expect(holds).toEqual([
      expect.objectContaining({ side: 'salesforce', reason: 'needs_reauth', heldWrites: 3 }),
    ]);
  });

  it('lets the hold of a process that died vanish within its time to live', async () => {
    pause();
    await Promise.resolve();
    await pass(TTL_MS);
    expect(await store.list('org_a')).toHaveLength(1);
    board.stop(); // the process is gone: nothing puts its entry again
    await pass(TTL_MS);
    expect(await store.list('org_a')).toEqual([]);
  });

  it('does not put a resumed hold back', async () => {
    pause();
    await Promise.resolve();
    events.emit('sink.resumed', { sink: 'salesforce', orgId: 'org_a' });
    await pass(2 * TTL_MS);
    expect(await store.list('org_a')).toEqual([]);
  });

  it('wakes its sink once when another process ended a hold of the same organization', async () => {
    const otherEvents = new SyncEvents();
    const other = new WriteHoldBoard({
      events: otherEvents,
      store,
      process: 'host:2',
      logger: silentLogger,
      ttlMs: TTL_MS,
      now: () => now,
    });
    other.start();
    const wakes: string[] = [];
    events.on('sink.wake', (e) => wakes.push(e.orgId));
    try {
      pause(); // this process holds org_a
      pause(otherEvents);
      await pass(TTL_MS);
      expect(wakes).toEqual([]);
      otherEvents.emit('sink.resumed', { sink: 'salesforce', orgId: 'org_a' });
      await Promise.resolve();
      await pass(TTL_MS / 3);
      expect(wakes).toEqual(['org_a']);
      // Its sink looked and still holds (reported again): no second wake for the same end.
      pause();
      await pass(TTL_MS);
      expect(wakes).toEqual(['org_a']);
      // A hold that begins after the other's end is not woken by it.
      events.emit('sink.resumed', { sink: 'salesforce', orgId: 'org_a' });
      await pass(1_000);
      pause();
      await pass(TTL_MS);
      expect(wakes).toEqual(['org_a']);
    } finally {
      other.stop();
    }
  });
});
