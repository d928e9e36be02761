import { toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { OrgChange } from '../orgs/managed-org-directory';

export interface OrgChangesDeps {
  /** Puts the organization's schedule in line with its connection; applied at once. */
  schedule(orgId: string): void;
  /** Restarts the organization's sources (and registers its webhooks where it reads them). */
  restart(orgId: string): Promise<void>;
  /** True once the connector is shutting down: nothing more is applied. */
  stopping(): boolean;
  logger: Logger;
}

/**
 * Applies the directory's changes (connect, disconnect, settings, needs_reauth) to an
 * organization's schedule and sources, one change at a time per organization. Sources start
 * from the directory as it is, so a change before `starting` needs nothing more; one between
 * `starting` and `start` is applied to the sources once `start` is called (a reconnect seen
 * then would otherwise leave the organization's Salesforce stream never started).
 */
export class OrgChanges {
  private readonly chains = new Map<string, Promise<void>>();
  /** Organizations that changed while the sources started, with their last change. */
  private readonly early = new Map<string, OrgChange>();
  private phase: 'before' | 'starting' | 'started' = 'before';

  constructor(private readonly deps: OrgChangesDeps) {}

  /** The directory's `changed` listener. */
  readonly onChanged = (orgId: string, change: OrgChange): void => {
    this.chain(orgId, () => this.apply(orgId, change));
  };

  /** The sources are about to start from the directory as it is now. */
  starting(): void {
    if (this.phase === 'before') this.phase = 'starting';
  }

  /** The sources run now: restarts those of every organization that changed meanwhile. */
  start(): void {
    this.phase = 'started';
    for (const [orgId, change] of this.early) this.chain(orgId, () => this.restart(orgId, change));
    this.early.clear();
  }

  /** Resolves once every change under way is applied. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }

  private async apply(orgId: string, change: OrgChange): Promise<void> {
    if (this.deps.stopping()) return;
    try {
      this.deps.schedule(orgId);
    } catch (err) {
      this.deps.logger.error('schedule not applied', { orgId, err: toSyncError(err) });
    }
    if (this.phase === 'before') return;
    if (this.phase === 'starting') {
      this.early.set(orgId, change);
      return;
    }
    await this.restart(orgId, change);
  }

  private async restart(orgId: string, change: OrgChange): Promise<void> {
    if (this.deps.stopping()) return;
    this.deps.logger.info('organization changed; restarting its sources', {
      orgId,
      state: change.state,
      kind: change.kind,
    });
    await this.deps.restart(orgId);
  }

  private chain(orgId: string, step: () => Promise<void>): void {
    const next = (this.chains.get(orgId) ?? Promise.resolve()).then(step).catch((err: unknown) =>
      this.deps.logger.error('organization change not applied', {
        orgId,
        err: toSyncError(err),
      }),
    );
    this.chains.set(orgId, next);
    void next.finally(() => {
      if (this.chains.get(orgId) === next) this.chains.delete(orgId);
    });
  }
}
