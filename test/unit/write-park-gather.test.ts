import type { ConsumedRecord } from '../../src/core/transport';
import { MemoryParkedWriteStore } from '../../src/infra/memory/memory-parked-write-store';
import { silentLogger } from '../../src/logger';
import { WritePark } from '../../src/sink/write-park';
import { waitFor } from './sink-salesforce-fixture';

interface Env {
  record: ConsumedRecord;
}

let offset = 0;
function env(timestamp: number): Env {
  return {
    record: {
      topic: 'writes',
      partition: 0,
      offset: String(offset++),
      key: `org/pair-${offset}`,
      value: Buffer.from('w'),
      headers: {},
      timestamp,
    },
  };
}

/**
 * A paced full sync parks a few dozen writes at a time; written as they come, each few dozen
 * costs a call or more. A short list waits for company, up to a bound from its head's time.
 */
describe('WritePark gathering', () => {
  const parkOver = (waitMs: number, lots: number[]): WritePark<Env> =>
    new WritePark<Env>({
      store: new MemoryParkedWriteStore(),
      sink: 'test',
      logger: silentLogger,
      heldFor: () => null,
      decode: async (record) => ({ record }),
      write: async (_orgId, envs) => {
        lots.push(envs.length);
      },
      drainStep: 100,
      gather: { records: 5, waitMs },
      retryMs: 10,
    });
  const noop = async (): Promise<void> => undefined;

  it('writes a short list of new writes once it holds a lot', async () => {
    const lots: number[] = [];
    // A wait far longer than the test: only the lot's size can start the write.
    const park = parkOver(60_000, lots);
    await park.submit('org', [env(Date.now()), env(Date.now())], noop, 'full-sync');
    await new Promise((r) => setTimeout(r, 100));
    expect(lots).toEqual([]);
    await park.submit(
      'org',
      [env(Date.now()), env(Date.now()), env(Date.now())],
      noop,
      'full-sync',
    );
    await waitFor('one lot written', () => lots.length === 1);
    expect(lots).toEqual([5]);
    await park.stop();
  });

  it('writes a short list once its head has waited the bound', async () => {
    const lots: number[] = [];
    const park = parkOver(300, lots);
    const parkedAt = Date.now();
    await park.submit('org', [env(parkedAt), env(parkedAt)], noop, 'full-sync');
    await waitFor('the short lot written', () => lots.length === 1);
    expect(Date.now() - parkedAt).toBeGreaterThanOrEqual(290);
    expect(lots).toEqual([2]);
    await park.stop();
  });

  it('writes at once a list whose head is old (a hold that ended)', async () => {
    const lots: number[] = [];
    const park = parkOver(60_000, lots);
    await park.submit('org', [env(Date.now() - 120_000)], noop, 'full-sync');
    await waitFor('written', () => lots.length === 1);
    expect(lots).toEqual([1]);
    await park.stop();
  });
});
