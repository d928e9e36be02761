import type { ConsumedRecord } from '../../src/core/transport';
import { MemoryParkedWriteStore } from '../../src/infra/memory/memory-parked-write-store';
import { silentLogger } from '../../src/logger';
import { WritePark } from '../../src/sink/write-park';
import { waitFor } from './sink-salesforce-fixture';

interface Env {
  record: ConsumedRecord;
}

let offset = 0;
function env(timestamp: number, orgId = 'org'): Env {
  return {
    record: {
      topic: 'writes',
      partition: 0,
      offset: String(offset++),
      key: `${orgId}/pair-${offset}`,
      value: Buffer.from('w'),
      headers: {},
      timestamp,
    },
  };
}

/**
 * A parked write is a change taken off its topic and not yet applied: the oldest-unapplied
 * gauge reads its age from WritePark.oldest, also in a process that only found the list.
 */
describe('WritePark.oldest', () => {
  const parkOver = (store: MemoryParkedWriteStore, held: () => string | null, written: Env[]) =>
    new WritePark<Env>({
      store,
      sink: 'test',
      logger: silentLogger,
      heldFor: held,
      decode: async (record) => ({ record }),
      write: async (_orgId, envs) => {
        written.push(...envs);
      },
      drainStep: 2,
      retryMs: 10,
    });

  it('names the oldest parked write while the org is held and forgets it once written', async () => {
    const store = new MemoryParkedWriteStore();
    const written: Env[] = [];
    let held: string | null = 'needs_reauth';
    const park = parkOver(store, () => held, written);
    expect(park.oldest()).toEqual([]);

    await park.submit('org', [env(2_000), env(1_000)], async () => undefined);
    await park.submit('org', [env(500)], async () => undefined);
    // Later parks append behind the list: its head stays the oldest waiting.
    expect(park.oldest()).toEqual([{ orgId: 'org', topic: 'writes', timestamp: 2_000 }]);

    // Another process that only finds the list reports it too, before any drain peeks.
    const other = parkOver(store, () => 'needs_reauth', []);
    await other.prepare(['org', 'quiet']);
    expect(other.oldest()).toEqual([{ orgId: 'org', topic: 'writes', timestamp: 2_000 }]);

    held = null;
    park.drain('org');
    await waitFor('list written', () => written.length === 3 && park.countOf('org') === 0);
    await waitFor('forgotten', () => park.oldest().length === 0);
    await park.stop();
    await other.stop();
  });

  it('a process that starts finds and drains lists parked before it ran', async () => {
    const store = new MemoryParkedWriteStore();
    await store.park('org-a', [
      {
        key: 'org-a/p',
        value: Buffer.from('w').toString('base64'),
        topic: 'writes',
        partition: 0,
        offset: '7',
        timestamp: 3_000,
        headers: {},
      },
    ]);
    const written: Env[] = [];
    const park = parkOver(store, () => null, written);
    park.recover(['org-a', 'org-b']);
    await waitFor('drained at start', () => written.length === 1);
    expect(written[0]!.record.offset).toBe('7');
    await waitFor('list dropped', () => park.oldest().length === 0);
    expect(await store.count('org-a')).toBe(0);
    await park.stop();
  });
});
