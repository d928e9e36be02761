import { Reconciler, type ReconcilerDeps, type ReconcilerOptions } from '../reconciler/reconciler';
import { InitLiveSink, type InitLiveSinkOptions } from '../sink/initlive-sink';
import { SalesforceSink, type SalesforceSinkOptions } from '../sink/salesforce-sink';
import { InitLiveSource, type InitLiveSourceOptions } from '../source-initlive/initlive-source';
import {
  SalesforceSource,
  type SalesforceSourceOptions,
} from '../source-salesforce/salesforce-source';
import { SourceLease, type SourceLeaseOptions } from './source-lease';

export interface PipelineOptions {
  initliveSource?: InitLiveSourceOptions;
  salesforceSource?: SalesforceSourceOptions;
  reconciler?: ReconcilerOptions;
  salesforceSink?: SalesforceSinkOptions;
  initliveSink?: InitLiveSinkOptions;
  /**
   * Runs an organization's sources only while this pipeline holds its lease, so that of
   * several processes sharing the lock one reads each organization; with its `membership`
   * (the default deployment, src/app.ts), the organizations are spread evenly over those
   * processes. Without it every pipeline reads every streaming organization (one process,
   * unit tests, tools).
   */
  sourceLease?: SourceLeaseOptions;
  /**
   * Told when the lease starts and stops an organization's sources here (not called without
   * a lease): what only the reading process should hold, such as InitLive's webhook.
   */
  onSources?: { started(orgId: string): Promise<void>; stopped(orgId: string): Promise<void> };
}

export interface Pipeline {
  initliveSource: InitLiveSource;
  salesforceSource: SalesforceSource;
  reconciler: Reconciler;
  salesforceSink: SalesforceSink;
  initliveSink: InitLiveSink;
  /** The per-organization source lease, when the pipeline was built with one. */
  sourceLease: SourceLease | null;
  start(): Promise<void>;
  /**
   * Applies a directory change of one organization (connect, disconnect, settings): restarts
   * its sources where this pipeline reads them; with a lease, takes or lets go of the lease
   * now rather than at its next renewal.
   */
  restartSources(orgId: string): Promise<void>;
  /**
   * Stops reading first (and releases the source leases, so a peer takes over), then lets
   * what was read flow out: sources, reconciler, sinks.
   */
  stop(): Promise<void>;
}

/**
 * The streaming pipeline, in data-flow order. The reconciler and sinks are members of their
 * consumer groups, so another process started with the same deps and group prefix shares
 * their work; the sources of each organization run in one process at a time when a
 * `sourceLease` is given.
 */
export function createPipeline(deps: ReconcilerDeps, options: PipelineOptions = {}): Pipeline {
  const sourceLease = options.sourceLease
    ? new SourceLease(
        { orgs: deps.orgs, logger: deps.logger, events: deps.events },
        options.sourceLease,
        // Both sources of the org, started and stopped together; neither waits on the other.
        {
          start: async (orgId) => {
            await Promise.all([initliveSource.startOrg(orgId), salesforceSource.startOrg(orgId)]);
            await options.onSources?.started(orgId);
          },
          stop: async (orgId) => {
            await options.onSources?.stopped(orgId);
            await Promise.all([initliveSource.stopOrg(orgId), salesforceSource.stopOrg(orgId)]);
          },
        },
      )
    : null;
  const readsOrg = sourceLease ? { readsOrg: (orgId: string) => sourceLease.holds(orgId) } : {};
  const initliveSource = new InitLiveSource(deps, { ...options.initliveSource, ...readsOrg });
  const salesforceSource = new SalesforceSource(deps, {
    ...options.salesforceSource,
    ...readsOrg,
  });
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
    sourceLease,
    async start() {
      if (started) return;
      started = true;
      // Consumers first, so nothing a source produces waits for a group to form.
      await Promise.all([salesforceSink.start(), initliveSink.start()]);
      await reconciler.start();
      // With a lease, the sources start empty and the lease starts each org it gets.
      await Promise.all([initliveSource.start(), salesforceSource.start()]);
      await sourceLease?.start();
    },
    async restartSources(orgId) {
      await salesforceSource.restart(orgId);
      initliveSource.refreshOrgs();
      await sourceLease?.refresh(orgId);
    },
    async stop() {
      if (!started) return;
      started = false;
      // The lease stops its orgs' readers before releasing, so a successor never overlaps.
      await sourceLease?.stop();
      await Promise.allSettled([initliveSource.stop(), salesforceSource.stop()]);
      await reconciler.stop();
      await Promise.allSettled([salesforceSink.stop(), initliveSink.stop()]);
    },
  };
}
