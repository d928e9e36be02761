import { Reconciler, type ReconcilerDeps, type ReconcilerOptions } from '../reconciler/reconciler';
import { InitLiveSink, type InitLiveSinkOptions } from '../sink/initlive-sink';
import { SalesforceSink, type SalesforceSinkOptions } from '../sink/salesforce-sink';
import { InitLiveSource, type InitLiveSourceOptions } from '../source-initlive/initlive-source';
import {
  SalesforceSource,
  type SalesforceSourceOptions,
} from '../source-salesforce/salesforce-source';

export interface PipelineOptions {
  initliveSource?: InitLiveSourceOptions;
  salesforceSource?: SalesforceSourceOptions;
  reconciler?: ReconcilerOptions;
  salesforceSink?: SalesforceSinkOptions;
  initliveSink?: InitLiveSinkOptions;
}

export interface Pipeline {
  initliveSource: InitLiveSource;
  salesforceSource: SalesforceSource;
  reconciler: Reconciler;
  salesforceSink: SalesforceSink;
  initliveSink: InitLiveSink;
  start(): Promise<void>;
  /** Stops reading first, then lets what was read flow out: sources, reconciler, sinks. */
  stop(): Promise<void>;
}

/**
 * The streaming pipeline, in data-flow order. Every part is a member of its own consumer
 * group, so another process started with the same deps and group prefix shares the work.
 */
export function createPipeline(deps: ReconcilerDeps, options: PipelineOptions = {}): Pipeline {
  const initliveSource = new InitLiveSource(deps, options.initliveSource);
  const salesforceSource = new SalesforceSource(deps, options.salesforceSource);
  const reconciler = new Reconciler(deps, options.reconciler);
  const salesforceSink = new SalesforceSink(deps, options.salesforceSink);
  const initliveSink = new InitLiveSink(deps, options.initliveSink);
  let started = false;
  return {
    initliveSource,
    salesforceSource,
    reconciler,
    salesforceSink,
    initliveSink,
    async start() {
      if (started) return;
      started = true;
      // Consumers first, so nothing a source produces waits for a group to form.
      await Promise.all([salesforceSink.start(), initliveSink.start()]);
      await reconciler.start();
      await Promise.all([initliveSource.start(), salesforceSource.start()]);
    },
    async stop() {
      if (!started) return;
      started = false;
      await Promise.allSettled([initliveSource.stop(), salesforceSource.stop()]);
      await reconciler.stop();
      await Promise.allSettled([salesforceSink.stop(), initliveSink.stop()]);
    },
  };
}
