/**
 * Time as the scheduler and runner see it, so tests can drive them without waiting. `Clock`
 * is the real one; `ManualClock` moves only when told to.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms`; returns a handle for cancel. */
  setTimer(fn: () => void, ms: number): unknown;
  cancelTimer(handle: unknown): void;
}

/** setTimeout takes at most 2^31-1 ms; longer waits are chained. */
const MAX_TIMEOUT_MS = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const handle: { timer: NodeJS.Timeout | null } = { timer: null };
    const at = Date.now() + Math.max(0, ms);
    const arm = (): void => {
      const left = at - Date.now();
      handle.timer = setTimeout(left > MAX_TIMEOUT_MS ? arm : fn, Math.min(left, MAX_TIMEOUT_MS));
      handle.timer.unref?.();
    };
    arm();
    return handle;
  },
  cancelTimer(handle) {
    const h = handle as { timer: NodeJS.Timeout | null } | null;
    if (h?.timer) clearTimeout(h.timer);
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock for tests: `advance(ms)` / `advanceTo(t)` move time and fire due timers in time
 * order (a timer armed by a firing timer fires too if it falls within the advance).
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Set<ManualTimer>();

  constructor(start: number) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const t: ManualTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(t);
    return t;
  }

  cancelTimer(handle: unknown): void {
    this.timers.delete(handle as ManualTimer);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.size;
  }

  /** When the next timer fires, or null. */
  nextTimerAt(): number | null {
    let min: number | null = null;
    for (const t of this.timers) if (min === null || t.at < min) min = t.at;
    return min;
  }

  advance(ms: number): void {
    this.advanceTo(this.current + ms);
  }

  advanceTo(target: number): void {
    for (;;) {
      let due: ManualTimer | null = null;
      for (const t of this.timers) {
        if (t.at <= target && (!due || t.at < due.at || (t.at === due.at && t.seq < due.seq))) {
          due = t;
        }
      }
      if (!due) break;
      this.timers.delete(due);
      this.current = Math.max(this.current, due.at);
      due.fn();
    }
    this.current = Math.max(this.current, target);
  }
}
