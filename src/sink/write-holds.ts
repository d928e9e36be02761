import type { Side } from '../core/pair-state';
import type { Logger } from '../logger';
import type { SyncEventMap, SyncEvents } from '../pipeline/events';

/** One process's sink holding one organization's writes to one system. */
export interface WriteHold {
  orgId: string;
  side: Side;
  /** api_limit, package_missing, needs_reauth (Salesforce), or the error code (InitLive). */
  reason: string;
  /** The error code that paused it. */
  code: string | null;
  /** When the pause began (epoch ms). */
  since: number;
  heldWrites: number;
  /** The process holding them. */
  process: string;
}

/**
 * Where every process says which organizations' writes its sinks hold, so the organization's
 * status shows them whichever process answers. Entries expire unless put again (a process that
 * died holds nothing): the WriteHoldBoard puts its process's entries every third of their life.
 *
 * Adapters: RedisWriteHoldStore and MemoryWriteHoldStore, held to one conformance suite
 * (test/conformance/write-hold-store.conformance.ts).
 */
export interface WriteHoldStore {
  put(hold: WriteHold, ttlMs: number): Promise<void>;
  /**
   * `process`'s hold ended because its cause went (`sink.resumed`): removes its entry and keeps
   * `at` as the side's last end for `ttlMs`, so the other processes holding it look again.
   */
  end(orgId: string, side: Side, process: string, at: number, ttlMs: number): Promise<void>;
  /** When a hold of this organization and side last ended (epoch ms), or null. */
  lastEnded(orgId: string, side: Side): Promise<number | null>;
  /** The organization's holds that have not expired, oldest first. */
  list(orgId: string): Promise<WriteHold[]>;
  close(): Promise<void>;
}

/** What an admin should do about a pause, in one sentence. */
export function holdAction(side: Side, reason: string): string {
  if (side === 'salesforce') {
    switch (reason) {
      case 'api_limit':
        return "Salesforce's daily API budget is at the reserve left for others: writes resume as the rolling 24 hours free calls, or raise the org's allocation.";
      case 'package_missing':
        return 'A field the connector writes is missing in Salesforce: install the InitLive package (or restore the field); held writes resume within seconds.';
      case 'needs_reauth':
        return 'Salesforce refused the connection: reconnect the organization (Connect); held writes resume once it is connected.';
    }
  }
  if (reason === 'AUTH_FAILED') {
    return 'InitLive refused the integration key: reconnect the organization with a valid key.';
  }
  return `${side === 'salesforce' ? 'Salesforce' : 'InitLive'} is not taking writes right now (${reason}): they are retried with backoff, nothing is dropped.`;
}

/**
 * Keeps this process's entries of the WriteHoldStore up to date from its sinks' `sink.paused`
 * and `sink.resumed` events, and puts them again every third of `ttlMs` while they last: a sink
 * looks at a hold only every minute or so, and an entry must outlive those looks yet vanish soon
 * after its process dies, or the status shows writes paused that nobody holds.
 *
 * The cause of a Salesforce hold (allocation, credentials, package) is the organization's, not
 * the process's: when another process's hold of the same organization ended after this one's
 * began, the board wakes this process's sink for it (`sink.wake`, once per such end), which looks
 * at once instead of at its next backoff, so the status stops showing it soon after the first.
 *
 * A store that cannot be reached only costs the status its view of the pause: it is logged,
 * never thrown into a sink.
 */
export class WriteHoldBoard {
  private readonly listeners: Array<() => void> = [];
  /** This process's holds, by organization and side, as last put. */
  private readonly held = new Map<string, WriteHold>();
  /** Per hold, the other process's end it was woken for already. */
  private readonly wokenFor = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: {
      events: SyncEvents;
      store: WriteHoldStore;
      process: string;
      logger: Logger;
      /** How long an entry lives without being put again. */
      ttlMs: number;
      /** The sinks' clock, which dates the holds (`since`). Default Date.now. */
      now?: () => number;
    },
  ) {}

  start(): void {
    const { events, store, process } = this.deps;
    const paused = (e: SyncEventMap['sink.paused'][0]): void => {
      const hold: WriteHold = {
        orgId: e.orgId,
        side: e.sink,
        reason: e.reason,
        code: e.code ?? null,
        since: e.since ?? this.now(),
        heldWrites: e.heldWrites ?? 0,
        process,
      };
      this.held.set(`${e.orgId}\u0000${e.sink}`, hold);
      this.put(hold);
    };
    const resumed = (e: SyncEventMap['sink.resumed'][0]): void => {
      this.held.delete(`${e.orgId}\u0000${e.sink}`);
      this.wokenFor.delete(`${e.orgId}\u0000${e.sink}`);
      store
        .end(e.orgId, e.sink, process, this.now(), this.deps.ttlMs)
        .catch((err) => this.failed(err));
    };
    events.on('sink.paused', paused);
    events.on('sink.resumed', resumed);
    this.listeners.push(
      () => events.off('sink.paused', paused),
      () => events.off('sink.resumed', resumed),
    );
    this.timer = setInterval(() => {
      for (const [key, hold] of this.held) {
        this.put(hold);
        if (hold.side === 'salesforce') void this.wakeIfEndedElsewhere(key, hold);
      }
    }, this.deps.ttlMs / 3);
    this.timer.unref();
  }

  stop(): void {
    for (const off of this.listeners.splice(0)) off();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.held.clear();
    this.wokenFor.clear();
  }

  private async wakeIfEndedElsewhere(key: string, hold: WriteHold): Promise<void> {
    const ended = await this.deps.store
      .lastEnded(hold.orgId, hold.side)
      .catch((err: unknown) => this.failed(err));
    if (typeof ended !== 'number' || ended <= hold.since || this.wokenFor.get(key) === ended) {
      return;
    }
    if (!this.held.has(key)) return; // resumed meanwhile
    this.wokenFor.set(key, ended);
    this.deps.events.emit('sink.wake', { orgId: hold.orgId });
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private put(hold: WriteHold): void {
    this.deps.store.put(hold, this.deps.ttlMs).catch((err) => this.failed(err));
  }

  private failed(err: unknown): void {
    this.deps.logger.warn('write hold not recorded', { err: err as Error });
  }
}

/** Oldest first; holds of one moment by side, then process, so every store lists them alike. */
export function byAge(a: WriteHold, b: WriteHold): number {
  return a.since - b.since || a.side.localeCompare(b.side) || a.process.localeCompare(b.process);
}
