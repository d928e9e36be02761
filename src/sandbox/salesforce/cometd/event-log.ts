/**
 * The org's retained change events: assigns replay ids and answers "which events follow this
 * replay id" for the retention window. One log per emulated org, shared by both channels.
 */
import type { ChangeEventBody } from './change-event';

export interface RetainedEvent {
  replayId: number;
  /** deps.now() when the event was published; retention is measured from here. */
  storedAt: number;
  body: ChangeEventBody;
}

/** Replay option: every new event from now on. Also the default. */
export const REPLAY_NEW = -1;
/** Replay option: every retained event, then new ones. */
export const REPLAY_ALL = -2;

export type ReplayResolution = { ok: true; events: RetainedEvent[] } | { ok: false };

export interface EventLogOptions {
  now: () => number;
  retentionMs: number;
  /** First replay id is just above this; keeps ids looking like an org's (large, opaque). */
  firstReplayIdBase?: number;
}

export class EventLog {
  private readonly events: RetainedEvent[] = [];
  private lastReplayId: number;
  private published = 0;

  constructor(private readonly options: EventLogOptions) {
    this.lastReplayId = options.firstReplayIdBase ?? 4_810_000;
  }

  /**
   * Appends an event with a replay id above every id handed out before, even after a purge,
   * so a stored id can never name a different event. Steps are small and vary (1 to 7) so that
   * consumers cannot get away with computing ids.
   */
  append(body: ChangeEventBody): RetainedEvent {
    this.published += 1;
    this.lastReplayId += 1 + ((Math.imul(this.published, 0x9e3779b1) >>> 0) % 7);
    const event: RetainedEvent = {
      replayId: this.lastReplayId,
      storedAt: this.options.now(),
      body,
    };
    this.events.push(event);
    return event;
  }

  /** Replay id of the newest retained event, 0 when none is retained. */
  latestReplayId(): number {
    this.expire();
    return this.events.at(-1)?.replayId ?? 0;
  }

  retainedCount(): number {
    this.expire();
    return this.events.length;
  }

  /** Forgets every retained event; ids keep increasing afterwards. */
  purge(): void {
    this.events.length = 0;
  }

  /**
   * Events a subscriber asking for `from` gets before live ones: none for -1, all retained for
   * -2, those after `from` when `from` names a retained event. Anything else (expired, never
   * issued, other negatives) is not ok.
   */
  resolve(from: number): ReplayResolution {
    this.expire();
    if (from === REPLAY_NEW) return { ok: true, events: [] };
    if (from === REPLAY_ALL) return { ok: true, events: [...this.events] };
    const index = this.events.findIndex((e) => e.replayId === from);
    if (index < 0) return { ok: false };
    return { ok: true, events: this.events.slice(index + 1) };
  }

  private expire(): void {
    const cutoff = this.options.now() - this.options.retentionMs;
    let drop = 0;
    for (const event of this.events) {
      if (event.storedAt >= cutoff) break;
      drop += 1;
    }
    if (drop > 0) this.events.splice(0, drop);
  }
}
