import { randomUUID } from 'node:crypto';
import type { PositionStore } from '../core/position-store';
import type { SyncRunEvent } from '../core/records';
import { recoveryRunId } from '../core/recovery';
import { recordKey } from '../core/topics';
import { toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { ConnectionStore } from '../orgs/connection-store';
import { retry, type RetryPolicy } from '../retry';
import type { PipelineDeps } from './deps';
import { produce } from './deps';
import type { StateWitness, WitnessedState } from './state-witness';

/** The position-store name of the deployment's state epoch. */
export const STATE_EPOCH = 'state-epoch';

export type EpochCheck = { lost: false } | { lost: true; epoch: string; restored: number };

export interface StateEpochDeps {
  positions: PositionStore;
  logger: Logger;
  /** The copy outside the store (Kafka); without one, a loss while no process ran goes unseen. */
  witness?: StateWitness;
  /** Where the witnessed connections are put back after a loss. */
  connections?: Pick<ConnectionStore, 'restore'>;
}

/** A few tries over about half a minute: the witness is read while Kafka may still be settling. */
const WITNESS_READ_RETRY: RetryPolicy = {
  maxAttempts: 6,
  initialDelayMs: 500,
  maxDelayMs: 8_000,
  factor: 2,
  jitter: 0.2,
};

/**
 * Tells when the state store (Redis) lost its data: a restart without persistence, a failover
 * to an empty replica, a FLUSHALL. The first process to find no epoch writes a random one next
 * to the links, versions and positions; each process remembers the one it saw. An epoch that is
 * gone or another one later means everything the store held may be gone with it, including
 * state only this process still knows (connections, positions), so the caller writes that
 * back and runs a full sync (`requestStateRecovery`). Every process finds the loss, once.
 *
 * The witness (a compacted Kafka topic) keeps the epoch, the connections and the source
 * positions outside the store, so a process that starts on an emptied store, with nobody left
 * who remembers it, still finds the loss: the witness names an epoch the store does not hold.
 * What the witness kept is put back before the new epoch is written, so a process dying half
 * way leaves the store without an epoch and the next one starts the same repair again.
 */
export class StateEpoch {
  private known: string | null = null;

  constructor(private readonly deps: StateEpochDeps) {}

  /** The epoch this process trusts, creating the store's first on the first look. */
  async check(): Promise<EpochCheck> {
    const stored = await this.deps.positions.get(STATE_EPOCH);
    if (this.known === null) {
      const witnessed = this.deps.witness ? await this.readWitness() : null;
      if (witnessed?.epoch && witnessed.epoch !== stored) {
        // The store lost its data while no process that knew the epoch was running (or the
        // process that found the loss died before its witness heard of the new epoch).
        const restored = await this.restore(witnessed);
        this.known = stored ?? (await this.create());
        await this.deps.witness?.recordEpoch(this.known);
        this.deps.logger.error(
          'the state store lost its data while no process held it (the state witness names another epoch); connections put back, running a full sync',
          { was: witnessed.epoch, epoch: this.known, restored },
        );
        return { lost: true, epoch: this.known, restored };
      }
      this.known = stored ?? (await this.create());
      if (this.deps.witness && witnessed?.epoch !== this.known) {
        await this.deps.witness.recordEpoch(this.known);
      }
      return { lost: false };
    }
    if (stored === this.known) return { lost: false };
    const was = this.known;
    const restored = this.deps.witness ? await this.restore(await this.readWitness()) : 0;
    // Another process may have found the loss first and written the new epoch: adopt it.
    this.known = stored ?? (await this.create());
    await this.deps.witness?.recordEpoch(this.known);
    this.deps.logger.error(
      'the state store lost its data (state epoch gone); restoring what this process holds and running a full sync',
      { was, epoch: this.known, restored },
    );
    return { lost: true, epoch: this.known, restored };
  }

  private readWitness(): Promise<WitnessedState> {
    return retry(() => this.deps.witness!.read(), WITNESS_READ_RETRY, {
      onRetry: (err, attempt) =>
        this.deps.logger.warn('the state witness could not be read; trying again', {
          attempt,
          err: toSyncError(err),
        }),
    });
  }

  /**
   * Puts the witnessed source positions and connections back where the store has none (a
   * source holder may have written its own back first); how many connections it put back.
   */
  private async restore(kept: WitnessedState): Promise<number> {
    let positions = 0;
    for (const [name, value] of kept.positions) {
      try {
        if (await this.deps.positions.compareAndSet(name, null, value)) positions++;
      } catch (err) {
        this.deps.logger.error('a witnessed source position could not be put back', {
          name,
          err: toSyncError(err),
        });
      }
    }
    if (positions > 0)
      this.deps.logger.warn('source positions put back from the state witness', { positions });
    if (!this.deps.connections) return 0;
    let restored = 0;
    for (const [orgId, sealed] of kept.connections) {
      try {
        if (await this.deps.connections.restore(orgId, sealed)) restored++;
      } catch (err) {
        this.deps.logger.error('a witnessed connection could not be put back', {
          orgId,
          err: toSyncError(err),
        });
      }
    }
    return restored;
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
