import type { Side } from '../core/pair-state';

/**
 * What the admin API needs from the rest of the connector, as small interfaces. The batch side
 * (src/batch) implements SyncTrigger and RunHistory; main.ts wires PipelineStatus and
 * Readiness from the transport, stores and sources.
 */

// The run shapes and ports are the batch side's (SyncRunner and the run stores implement them);
// the admin API serves them as they are.
export type {
  PerSide,
  RunCounts,
  RunHistory,
  RunProgress,
  RunRecord,
  RunStatus,
  RunTrigger,
  SyncTrigger,
} from '../batch/run-types';

export interface SourceStatusView {
  source: Side;
  /**
   * e.g. `running`, `stopped`, `paused`, `resyncing`; `standby` while another process holds the
   * organization's source lease and reads it.
   */
  state: string;
  /** Stored position: feed sequence or CDC replay id. */
  position: string | null;
  lastEventAt: number | null;
  lastError: string | null;
  /** Records of this organization's source waiting on its change topic, when known. */
  lag: number | null;
}

export interface ConsumerLagView {
  /** Consumer group. */
  group: string;
  topic: string;
  /** Records not yet consumed, summed over partitions. */
  lag: number;
}

export interface PipelineStatus {
  /** Each streaming source of one organization. */
  sources(orgId: string): Promise<SourceStatusView[]>;
  /** Lag of the pipeline's consumer groups on the topics they read. */
  consumerLag(): Promise<ConsumerLagView[]>;
}

/** When an organization's scheduled full sync runs; implemented by the Scheduler. */
export interface ScheduleView {
  /** The next instant its schedule fires (epoch ms), or null (manual). */
  nextRunAt(orgId: string): number | null;
  /** Its place in the queue of scheduled runs waiting for a free slot, or null when not queued. */
  queued(orgId: string): Promise<{ position: number; dueAt: number } | null>;
}

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface Readiness {
  /** Whether the transport and stores answer; one entry per dependency. */
  check(): Promise<ReadinessCheck[]>;
}
