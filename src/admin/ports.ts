import type { Side } from '../core/pair-state';

/**
 * What the admin API needs from the rest of the connector, as small interfaces. The batch side
 * (src/batch) implements SyncTrigger and RunHistory; main.ts wires PipelineStatus and
 * Readiness from the transport, stores and sources.
 */

export type RunTrigger = 'manual' | 'scheduled' | 'recovery';
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'partially_succeeded' | 'failed';

export interface PerSide {
  initlive: number;
  salesforce: number;
}

export interface RunCounts {
  read: PerSide;
  created: PerSide;
  updated: PerSide;
  unchanged: number;
  conflicts: number;
  failed: PerSide;
}

export interface RunProgress {
  /** What the run is doing now, e.g. `reading salesforce`. */
  phase: string;
  /** Records handled so far and, when known, in all. */
  done: number;
  total: number | null;
}

export interface RunRecord {
  runId: string;
  orgId: string;
  status: RunStatus;
  trigger: RunTrigger;
  /** Epoch ms; null while queued. */
  startedAt: number | null;
  endedAt: number | null;
  progress: RunProgress | null;
  counts: RunCounts;
  /** Why it failed or partially succeeded. */
  error?: string | null;
}

export interface SyncTrigger {
  /**
   * Asks for a full sync of one organization. Resolves `{ runId }` for a queued run, or
   * `{ conflict }` with the id of the run already queued or running for it (one at a time).
   */
  requestRun(orgId: string, trigger: RunTrigger): Promise<{ runId: string } | { conflict: string }>;
}

export interface RunHistory {
  /** Newest first. */
  list(orgId: string, limit: number): Promise<RunRecord[]>;
  get(orgId: string, runId: string): Promise<RunRecord | null>;
}

export interface SourceStatusView {
  source: Side;
  /** e.g. `running`, `stopped`, `paused`, `resyncing`. */
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

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface Readiness {
  /** Whether the transport and stores answer; one entry per dependency. */
  check(): Promise<ReadinessCheck[]>;
}
