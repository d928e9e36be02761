import type { InitLiveWrite } from '../../src/core/records';
import { recordKey } from '../../src/core/topics';
import { MemoryParkedWriteStore } from '../../src/infra/memory/memory-parked-write-store';
import { produce } from '../../src/pipeline/deps';
import { startInitLiveSandbox } from '../../src/sandbox/initlive';
import type { InitLiveSandbox } from '../../src/sandbox/initlive';
import { InitLiveSink } from '../../src/sink/initlive-sink';
import {
  client,
  eventually,
  fastBackoff,
  orgRuntime,
  testPipeline,
} from './source-initlive-helpers';
import type { TestPipeline } from './source-initlive-helpers';

const HELD = 'org-held';
const HEALTHY = 'org-healthy';

function create(orgId: string, i: number): InitLiveWrite {
  return {
    orgId,
    pairId: `pair-${i}`,
    operation: 'CREATE',
    initliveId: null,
    salesforceId: null,
    ifMatch: null,
    fields: { lastName: `Last${i}`, email: `p${i}@example.org` },
    fingerprint: `fp-${i}`,
    causedBy: 'test',
    decidedAt: Date.now(),
    attempt: 1,
  };
}

/** Two orgs (each its own InitLive sandbox) sharing one partition; HELD answers 503 for a while. */
describe('InitLiveSink parks an organization its InitLive refuses', () => {
  let held: InitLiveSandbox;
  let healthy: InitLiveSandbox;
  let pipeline: TestPipeline;
  let parked: MemoryParkedWriteStore;
  let sink: InitLiveSink;

  beforeEach(async () => {
    held = await startInitLiveSandbox({ rateLimit: false });
    healthy = await startInitLiveSandbox({ rateLimit: false });
    pipeline = await testPipeline([
      orgRuntime(client(held.baseUrl), HELD),
      orgRuntime(client(healthy.baseUrl), HEALTHY),
    ]);
    parked = new MemoryParkedWriteStore();
    sink = new InitLiveSink(pipeline.deps, {
      holdBackoff: { ...fastBackoff, initialDelayMs: 100, maxDelayMs: 200 },
      parked,
    });
  });

  afterEach(async () => {
    await sink.stop();
    await pipeline.memory.close();
    await held.close();
    await healthy.close();
  });

  const send = (writes: InitLiveWrite[]): Promise<void> =>
    produce(
      pipeline.deps,
      'initliveWrites',
      writes.map((value) => ({ key: recordKey(value.orgId, value.pairId), value })),
    );

  it("moves the shared partition on while one org's InitLive fails, and lands the held writes after", async () => {
    held.control.failNextWithServerError(1_000);
    await sink.start();
    await send([create(HELD, 1), create(HELD, 2)]);
    await eventually(() => sink.pausedFor(HELD) !== null, 'held');
    await send([create(HEALTHY, 3), create(HEALTHY, 4)]);
    await eventually(() => healthy.control.listStaff().length === 2, 'healthy writes');
    await eventually(async () => {
      const lag = await pipeline.memory.lag(sink.groupId, [pipeline.deps.topics.initliveWrites]);
      return lag.every((p) => p.lag === 0);
    }, 'partition committed');
    expect(held.control.listStaff()).toHaveLength(0);
    expect(await parked.count(HELD)).toBe(2);

    held.control.failNextWithServerError(0);
    await eventually(() => held.control.listStaff().length === 2, 'held writes', 10_000);
    await eventually(async () => (await parked.count(HELD)) === 0, 'parked list drained');
    expect(sink.pausedFor(HELD)).toBeNull();
  });
});
