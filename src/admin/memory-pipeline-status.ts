import type { Side } from '../core/pair-state';
import type { ConsumerLagView, PipelineStatus, SourceStatusView } from './ports';

/**
 * PipelineStatus held in memory: whoever knows the values sets them (a test, a small process
 * with no transport). main.ts uses a live one over the transport and sources instead.
 */
export class MemoryPipelineStatus implements PipelineStatus {
  private readonly sourceViews = new Map<string, SourceStatusView>();
  private lag: ConsumerLagView[] = [];

  setSource(orgId: string, view: SourceStatusView): void {
    this.sourceViews.set(`${orgId}/${view.source}`, { ...view });
  }

  clearSource(orgId: string, source: Side): void {
    this.sourceViews.delete(`${orgId}/${source}`);
  }

  setConsumerLag(lag: ConsumerLagView[]): void {
    this.lag = lag.map((l) => ({ ...l }));
  }

  async sources(orgId: string): Promise<SourceStatusView[]> {
    return (['initlive', 'salesforce'] as const).map(
      (source) =>
        this.sourceViews.get(`${orgId}/${source}`) ?? {
          source,
          state: 'stopped',
          position: null,
          lastEventAt: null,
          lastError: null,
          lag: null,
        },
    );
  }

  async consumerLag(): Promise<ConsumerLagView[]> {
    return this.lag.map((l) => ({ ...l }));
  }
}
