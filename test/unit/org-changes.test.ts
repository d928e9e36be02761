import { silentLogger } from '../../src/logger';
import { OrgChanges } from '../../src/pipeline/org-changes';

function setup() {
  const scheduled: string[] = [];
  const restarted: string[] = [];
  let stopping = false;
  const changes = new OrgChanges({
    schedule: (orgId) => scheduled.push(orgId),
    restart: async (orgId) => {
      restarted.push(orgId);
    },
    stopping: () => stopping,
    logger: silentLogger,
  });
  return { changes, scheduled, restarted, stop: () => (stopping = true) };
}

describe('OrgChanges', () => {
  it('restarts the sources of an organization that changed while they started, once they have', async () => {
    const { changes, scheduled, restarted } = setup();
    changes.onChanged('org_b', { state: 'connected', kind: 'connected', reason: null });
    await changes.settled();
    changes.starting();
    changes.onChanged('org_a', { state: 'needs_reauth', kind: 'reloaded', reason: null });
    changes.onChanged('org_a', { state: 'connected', kind: 'reloaded', reason: null });
    await changes.settled();
    expect(scheduled).toEqual(['org_b', 'org_a', 'org_a']);
    expect(restarted).toEqual([]);

    // org_b changed before the sources read the directory: they start from it as it is.
    changes.start();
    await changes.settled();
    expect(restarted).toEqual(['org_a']);
  });

  it('restarts at once after start, one change at a time per organization', async () => {
    const { changes, restarted } = setup();
    changes.start();
    changes.onChanged('org_a', { state: 'connected', kind: 'connected', reason: null });
    changes.onChanged('org_b', { state: 'disconnected', kind: 'disconnected', reason: null });
    changes.onChanged('org_a', { state: 'connected', kind: 'settings', reason: null });
    await changes.settled();
    expect(restarted).toEqual(['org_a', 'org_b', 'org_a']);
  });

  it('applies nothing once the connector is stopping', async () => {
    const { changes, scheduled, restarted, stop } = setup();
    changes.starting();
    changes.onChanged('org_a', { state: 'connected', kind: 'reloaded', reason: null });
    await changes.settled();
    stop();
    changes.start();
    changes.onChanged('org_b', { state: 'connected', kind: 'connected', reason: null });
    await changes.settled();
    expect(scheduled).toEqual(['org_a']);
    expect(restarted).toEqual([]);
  });
});
