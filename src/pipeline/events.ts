import { EventEmitter } from 'node:events';
import type { Side } from '../core/pair-state';

/**
 * What the long-running parts report. metrics.ts (and tests) listen here, so business logic
 * never calls metric functions directly.
 */
export interface SyncEventMap {
  /** Records a source read from its system and put on a change topic. */
  'source.records': [{ source: Side; orgId: string; count: number }];
  /** A source's stored position moved (feed seq, replay id). */
  'source.position': [{ source: Side; orgId: string; position: string }];
  /** A source lost its position or saw an overflow, and asked for a full sync. */
  'source.resync': [{ source: Side; orgId: string; reason: string }];
  /** Records a sink wrote successfully. */
  'sink.records': [{ sink: Side; orgId: string; count: number; created: number }];
  /** Records a sink could not write (each also went to the dead-letter topic). */
  'sink.failed': [{ sink: Side; orgId: string; count: number; code: string }];
  /**
   * A sink stopped writing for a while (API budget, missing package, auth) and why; sent again
   * after every look at whether it may write, with the writes it holds.
   */
  'sink.paused': [
    {
      sink: Side;
      orgId: string;
      reason: string;
      untilMs: number | null;
      /** When the pause began. */
      since?: number;
      /** The error code that paused it. */
      code?: string;
      /** Writes held by this process's sink. */
      heldWrites?: number;
    },
  ];
  'sink.resumed': [{ sink: Side; orgId: string }];
  /** Processes of the deployment whose membership ran out or that left (SourceLease's view). */
  'members.left': [{ members: string[] }];
  /** An admin acted (Sync now, a settings save): a held organization is looked at again now. */
  'sink.wake': [{ orgId: string }];
  /** The reconciler's outcome for one change. */
  'reconcile.outcome': [
    {
      orgId: string;
      side: Side;
      outcome: string;
      runId: string | null;
      /** Sides newly written by this decision (none for a redelivered one). */
      writes: Side[];
    },
  ];
  'reconcile.conflict': [
    {
      orgId: string;
      pairId: string;
      field: string;
      winner: Side;
      initlive: unknown;
      salesforce: unknown;
    },
  ];
  'dead-letter': [{ orgId: string | null; code: string; topic: string }];
  /**
   * The organization's mapped fields that cannot sync right now (drift), each held back with
   * why; an empty list once none is.
   */
  'mapping.problems': [
    {
      orgId: string;
      problems: Array<{ salesforceField: string; reason: string }>;
    },
  ];
  /**
   * Salesforce API calls used / allowed, as the org last reported them; `reserve`: calls the
   * sink leaves to others (it pauses below that many left).
   */
  'salesforce.api-usage': [{ orgId: string; used: number; max: number; reserve?: number }];
  /** A full sync ended (once per run, in the process that held it). */
  'run.finished': [
    {
      orgId: string;
      runId: string;
      trigger: 'manual' | 'scheduled' | 'recovery';
      status: 'succeeded' | 'partially_succeeded' | 'failed';
      durationMs: number;
    },
  ];
  /** From a change observed in one system to its write acknowledged in the other. */
  'sync.latency': [{ orgId: string; from: Side; ms: number }];
}

export class SyncEvents extends EventEmitter<SyncEventMap> {}
