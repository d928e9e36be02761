import { randomUUID } from 'node:crypto';
import type { PositionStore } from '../core/position-store';
import type { SyncRunEvent } from '../core/records';
import { recoveryRunId } from '../core/recovery';
import { recordKey } from '../core/topics';
import type { Logger } from '../logger';
import type { PipelineDeps } from './deps';
import { produce } from './deps';

/** The position-store name of the deployment's state epoch. */
export const STATE_EPOCH = 'state-epoch';

export type EpochCheck = { lost: false } | { lost: true; epoch: string };

/**
 * Tells when the state store (Redis) lost its data: a restart without persistence, a failover
 * to an empty replica, a FLUSHALL. The first process to find no epoch writes a random one next
 * to the links, versions and positions; each process remembers the one it saw. An epoch that is
 * gone or another one later means everything the store held may be gone with it, including
 * state only this process still knows (connections, positions), so the caller writes that
 * back and runs a full sync (`requestStateRecovery`). Every process finds the loss, once.
 */
export class StateEpoch {
  private known: string | null = null;

  constructor(private readonly deps: { positions: PositionStore; logger: Logger }) {}

  /** The epoch this process trusts, creating the store's first on the first look. */
  async check(): Promise<EpochCheck> {
    const stored = await this.deps.positions.get(STATE_EPOCH);
    if (this.known === null) {
      this.known = stored ?? (await this.create());
      return { lost: false };
    }
    if (stored === this.known) return { lost: false };
    const was = this.known;
    // Another process may have found the loss first and written the new epoch: adopt it.
    this.known = stored ?? (await this.create());
    this.deps.logger.error(
      'the state store lost its data (state epoch gone); restoring what this process holds and running a full sync',
      { was, epoch: this.known },
    );
    return { lost: true, epoch: this.known };
  }

  private async create(): Promise<string> {
    const fresh = `epoch_${randomUUID()}`;
    await this.deps.positions.compareAndSet(STATE_EPOCH, null, fresh);
    return (await this.deps.positions.get(STATE_EPOCH)) ?? fresh;
  }
}

/**
 * Asks for one full sync per organization after a loss: the run id names the epoch, so every
 * process asking for it after the same loss merges into one run (see recoveryRunId).
 */
export async function requestStateRecovery(
  deps: Pick<PipelineDeps, 'transport' | 'codec' | 'topics' | 'now'>,
  orgIds: readonly string[],
  epoch: string,
): Promise<void> {
  if (orgIds.length === 0) return;
  const at = deps.now();
  const events: SyncRunEvent[] = orgIds.map((orgId) => ({
    orgId,
    runId: recoveryRunId(orgId, `state:lost@${epoch}`),
    kind: 'REQUESTED',
    trigger: 'RECOVERY',
    reason: 'state_lost',
    at,
    counts: {},
  }));
  await produce(
    deps,
    'syncRuns',
    events.map((value) => ({ key: recordKey(value.orgId, value.runId), value })),
  );
}
