import type { ConsumedRecord } from '../../src/core/transport';
import { MemoryParkedWriteStore } from '../../src/infra/memory/memory-parked-write-store';
import { silentLogger } from '../../src/logger';
import { WritePark } from '../../src/sink/write-park';
import { waitFor } from './sink-salesforce-fixture';

interface Env {
  record: ConsumedRecord;
  value: string;
}

let offset = 0;
function env(value: string): Env {
  return {
    value,
    record: {
      topic: 'writes',
      partition: 0,
      offset: String(offset++),
      key: 'org/pair-1',
      value: Buffer.from(value),
      headers: {},
      timestamp: Date.now(),
    },
  };
}

/**
 * Two processes share the parked lists. A pair's partition can move from the process that
 * parked its older writes (its org held there) to one that had already seen the org: the
 * newer write must still land after the parked ones.
 */
describe('WritePark across processes', () => {
  it('a process parks a pair’s newer write behind what another process parked', async () => {
    const store = new MemoryParkedWriteStore();
    const written: string[] = [];
    const park = (held: () => string | null): WritePark<Env> =>
      new WritePark<Env>({
        store,
        sink: 'test',
        logger: silentLogger,
        heldFor: held,
        decode: async (record) => ({ record, value: record.value.toString() }),
        write: async (_orgId, envs) => {
          written.push(...envs.map((e) => e.value));
        },
        drainStep: 100,
        retryMs: 10,
      });
    let heldInA: string | null = null;
    const a = park(() => heldInA);
    const b = park(() => null);
    const direct = (w: WritePark<Env>, e: Env) =>
      w.submit('org', [e], async () => {
        written.push(e.value);
      });

    // B writes the org once, while nothing is held.
    await b.prepare(['org']);
    await direct(b, env('v1'));
    // The pair's partition is in A now; the org is held there, so v2 is parked.
    heldInA = 'api_limit';
    await a.prepare(['org']);
    await direct(a, env('v2'));
    expect(await store.count('org')).toBe(1);
    // The partition comes back to B with v3.
    await b.prepare(['org']);
    await direct(b, env('v3'));

    await waitFor('everything written', () => written.length === 3);
    await waitFor('list drained', () => b.countOf('org') === 0);
    expect(written).toEqual(['v1', 'v2', 'v3']);
    await a.stop();
    await b.stop();
  });
});
