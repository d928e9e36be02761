import type { SyncEvents } from '../pipeline/events';

export interface ApiBudget {
  used: number;
  max: number;
  remaining: number;
  /** When the org last reported it (epoch ms). */
  reportedAt: number;
}

/** The last Salesforce API usage each organization reported (from `salesforce.api-usage`). */
export class ApiBudgetBook {
  private readonly budgets = new Map<string, ApiBudget>();
  private readonly listener = (e: { orgId: string; used: number; max: number }): void => {
    this.budgets.set(e.orgId, {
      used: e.used,
      max: e.max,
      remaining: Math.max(0, e.max - e.used),
      reportedAt: this.now(),
    });
  };

  constructor(
    private readonly events: SyncEvents | undefined,
    private readonly now: () => number = Date.now,
  ) {
    events?.on('salesforce.api-usage', this.listener);
  }

  get(orgId: string): ApiBudget | null {
    return this.budgets.get(orgId) ?? null;
  }

  close(): void {
    this.events?.off('salesforce.api-usage', this.listener);
  }
}
