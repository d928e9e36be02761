import { startConnector } from '../../src/app';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { eventually } from '../fixtures/e2e';
import { http } from '../fixtures/http';
import { ORG_ID, newRunId, startWorld } from './batch-fixture';

/** A full sync's reads count against the org's API budget like writes: seen, and bounded. */

jest.setTimeout(60_000);

describe('the API budget and full syncs', () => {
  it('stops a run whose reads reach the reserve left for others, and says so', async () => {
    const w = await startWorld({ staff: 30, contacts: 30, shared: 10 }, { sfPageSize: 5 });
    try {
      // 20 calls left; the run leaves 15 to others: it reads a few pages, then stops.
      w.sf.control.setApiDailyMax(w.sf.control.counters().apiCallsUsed + 20);
      const run = await w.job({ apiReserve: { calls: 15 } }).run(ORG_ID, newRunId());
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(
        /^API_LIMIT_EXCEEDED: .*calls left, below the reserve of 15 left for others; the run stopped/,
      );
      const left = w.sf.control.counters().apiDailyMax - w.sf.control.counters().apiCallsUsed;
      // At most one read past the reserve, and one /limits call that confirms it.
      expect(left).toBeGreaterThanOrEqual(13);
    } finally {
      await w.close();
    }
  });

  it('does not stop on a reading from before the allocation came back: it asks Salesforce again', async () => {
    const w = await startWorld({ staff: 10, contacts: 10, shared: 5 });
    try {
      // The connection's last answer says 10 calls are left, under the reserve of 15 ...
      w.sf.control.setApiDailyMax(w.sf.control.counters().apiCallsUsed + 11);
      await w.org.salesforce!.query('SELECT Id FROM Contact LIMIT 1');
      expect(w.org.salesforce!.limitInfo?.apiUsage?.limit).toBe(
        w.sf.control.counters().apiDailyMax,
      );
      // ... and then the allocation is back (a new day, a raised limit).
      w.sf.control.setApiDailyMax(1_000_000);
      const run = await w.job({ apiReserve: { calls: 15 } }).run(ORG_ID, newRunId());
      expect(run.error ?? null).toBeNull();
      expect(run.status).toBe('succeeded');
    } finally {
      await w.close();
    }
  });

  it("shows the budget a full sync's reads used in the organization's status", async () => {
    const c = await startConnector(
      loadConfig({
        PORT: '0',
        SANDBOX_SALESFORCE_PORT: '0',
        SANDBOX_INITLIVE_PORT: '0',
        SANDBOX_STAFF_COUNT: '3',
        SANDBOX_CONTACT_COUNT: '3',
      }),
      silentLogger,
      { print: () => undefined },
    );
    try {
      const api = (path: string, method = 'GET') =>
        http(`${c.url}/api/orgs/org_demo/salesforce${path}`, { token: c.token, method });
      // Converged: a second run reads both systems and writes nothing.
      const run = await api('/sync', 'POST');
      await eventually(async () =>
        expect((await api(`/runs/${String(run.body.runId)}`)).body.status).toBe('succeeded'),
      );
      const used = c.sandboxes!.salesforce.control.counters().apiCallsUsed;
      const budget = (await api('')).body.apiBudget as { used: number; max: number };
      // Every answer reports the usage it saw (the last one may be the call that reported it).
      expect(budget.used).toBeGreaterThanOrEqual(used - 1);
      expect(budget.max).toBe(c.sandboxes!.salesforce.control.counters().apiDailyMax);
    } finally {
      await c.stop();
    }
  });
});
