import { LivePipelineStatus } from '../../src/admin/live-pipeline-status';
import { topicNames } from '../../src/core/topics';
import type { Transport } from '../../src/core/transport';
import type { Pipeline } from '../../src/pipeline/connector';

/**
 * The source status of every organization carries the reconciler's lag on the change topics,
 * which all organizations share. A metrics scrape asks for every organization's sources: the
 * lag must be read from Kafka once for all of them, not once each.
 */
describe('LivePipelineStatus', () => {
  const topics = topicNames('t');

  function statusWith(lagReads: { count: number }, clock: { now: number }): LivePipelineStatus {
    const transport = {
      lag: async (_group: string, asked: string[]) => {
        lagReads.count += 1;
        return asked.map((topic, i) => ({ topic, partition: 0, lag: (i + 1) * lagReads.count }));
      },
    } as unknown as Transport;
    const pipeline = {
      initliveSource: { status: () => ({ running: true, retryAt: null, position: '7' }) },
      salesforceSource: {
        status: () => ({ state: 'streaming', lastReplayId: '9', lastEventAt: null }),
      },
      sourceLease: null,
    } as unknown as Pipeline;
    return new LivePipelineStatus({
      transport,
      topics,
      groupPrefix: 'g',
      pipeline,
      moreGroups: [],
      now: () => clock.now,
    });
  }

  test("one read of the reconciler's lag serves every organization's sources for a second", async () => {
    const reads = { count: 0 };
    const clock = { now: 1_000_000 };
    const status = statusWith(reads, clock);
    const orgs = Array.from({ length: 200 }, (_, i) => `org${i}`);

    const views = await Promise.all(orgs.map((o) => status.sources(o)));
    expect(reads.count).toBe(1);
    expect(views[199]!.map((v) => [v.source, v.state, v.lag])).toEqual([
      ['initlive', 'running', 1],
      ['salesforce', 'streaming', 2],
    ]);

    clock.now += 999;
    await status.sources('org0');
    expect(reads.count).toBe(1);

    // A second later the lag is read again, and shows what Kafka says now.
    clock.now += 1;
    const later = await status.sources('org0');
    expect(reads.count).toBe(2);
    expect(later.map((v) => v.lag)).toEqual([2, 4]);
  });
});
