import type { Side } from '../core/pair-state';
import { holdAction, type WriteHold } from '../sink/write-holds';

/** One system's held writes, as the status and the errors list show them. */
export interface PausedWrites {
  side: Side;
  /** api_limit, package_missing, needs_reauth, or an error code. */
  cause: string;
  code: string | null;
  /** When the oldest process's pause began. */
  since: string;
  /** Writes held, all processes together. */
  heldWrites: number;
  /** What the admin should do. */
  action: string;
}

/** The holds of every process merged per system. */
export function pausedWrites(holds: readonly WriteHold[]): PausedWrites[] {
  const bySide = new Map<Side, PausedWrites & { sinceMs: number }>();
  for (const h of holds) {
    const seen = bySide.get(h.side);
    if (!seen) {
      bySide.set(h.side, {
        side: h.side,
        cause: h.reason,
        code: h.code,
        since: new Date(h.since).toISOString(),
        sinceMs: h.since,
        heldWrites: h.heldWrites,
        action: holdAction(h.side, h.reason),
      });
      continue;
    }
    seen.heldWrites += h.heldWrites;
    if (h.since < seen.sinceMs) {
      seen.sinceMs = h.since;
      seen.since = new Date(h.since).toISOString();
    }
  }
  return [...bySide.values()].map(({ sinceMs: _sinceMs, ...view }) => view);
}
