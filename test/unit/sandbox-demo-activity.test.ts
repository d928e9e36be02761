import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startDemoActivity } from '../../src/sandbox/demo-activity';
import { startSandboxes } from '../../src/sandbox/start-sandboxes';
import type { Sandboxes } from '../../src/sandbox/start-sandboxes';
import { eventually } from '../fixtures/e2e';

/** SANDBOX_ACTIVITY_PER_MINUTE: the sandboxes edit their own records, as people would. */
describe('demo activity', () => {
  let sandboxes: Sandboxes;

  beforeAll(async () => {
    const config = loadConfig({
      SANDBOX_SALESFORCE_PORT: '0',
      SANDBOX_INITLIVE_PORT: '0',
      SANDBOX_STAFF_COUNT: '10',
      SANDBOX_CONTACT_COUNT: '8',
    });
    sandboxes = await startSandboxes(config, createLogger({ level: 'silent' }));
  });

  afterAll(async () => {
    await sandboxes.close();
  });

  test('edits records in both sandboxes, as changes their change feeds carry, until stopped', async () => {
    const orgId = 'org_demo';
    const il = sandboxes.initlive.control;
    const sf = sandboxes.salesforce.control;
    const feedBefore = il.feed({ orgId }).length;
    const sfWritesBefore = sf.counters().writes;
    const stop = startDemoActivity(sandboxes, {
      orgId,
      perMinute: 6_000,
      logger: createLogger({ level: 'silent' }),
    });
    await eventually(() => {
      expect(il.feed({ orgId }).length).toBeGreaterThanOrEqual(feedBefore + 2);
      expect(sf.counters().writes).toBeGreaterThanOrEqual(sfWritesBefore + 2);
    });
    stop();
    const feedAfter = il.feed({ orgId }).length;
    const sfWritesAfter = sf.counters().writes;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(il.feed({ orgId }).length).toBe(feedAfter);
    expect(sf.counters().writes).toBe(sfWritesAfter);
  });
});
