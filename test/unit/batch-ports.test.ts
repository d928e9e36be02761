import type {
  RunHistory as AdminRunHistory,
  SyncTrigger as AdminSyncTrigger,
} from '../../src/admin/ports';
import { SyncRunner } from '../../src/batch/sync-runner';
import { MemoryRunStore } from '../../src/infra/memory/memory-run-store';
import { queuedRun } from '../../src/batch/run-types';
import { MemoryLock } from '../../src/infra/memory/memory-lock';
import { memoryDeps } from '../fixtures/pipeline-deps';

describe('batch implements the admin ports', () => {
  it('SyncRunner is a SyncTrigger and the run stores are RunHistory (checked by the compiler)', async () => {
    const runStore = new MemoryRunStore();
    const deps = Object.assign(await memoryDeps(), { runStore, lock: new MemoryLock() });
    const trigger: AdminSyncTrigger = new SyncRunner(deps, { consumeRequests: false });
    const history: AdminRunHistory = runStore;
    await runStore.save(queuedRun('org_x', 'run_1', 'manual', null));
    const [run] = await history.list('org_x', 5);
    expect(run).toMatchObject({
      runId: 'run_1',
      status: 'queued',
      progress: { phase: 'queued', done: 0, total: null },
    });
    await expect(trigger.requestRun('org_missing', 'manual')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
