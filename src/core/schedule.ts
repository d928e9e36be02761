import { SyncError } from '../errors';

/**
 * When scheduled full syncs fire. Pure: time zones come from the runtime's Intl data (no
 * dependency), and every function takes the current instant as an argument.
 *
 * - `manual`: never.
 * - `interval`: every `everyMinutes`, on a grid aligned to the Unix epoch, so every process
 *   computes the same instants (which lets them agree that a slot is one run).
 * - `daily`: at `at` (HH:MM, 24 h) wall-clock time in `timezone` (IANA). Across DST: a time
 *   that does not exist that day (spring forward) fires at the first valid instant after the
 *   gap; a time that occurs twice (fall back) fires once, at its first occurrence.
 */
export type SyncSchedule =
  | { mode: 'manual' }
  | { mode: 'interval'; everyMinutes: number }
  | { mode: 'daily'; at: string; timezone: string };

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (err) {
      throw new SyncError('INVALID_INPUT', `unknown time zone: ${timeZone}`, {
        cause: err,
        context: { timezone: timeZone },
      });
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Is `timeZone` an IANA name this runtime knows? */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/**
 * The wall-clock time in `timeZone` at `instant`, expressed as if it were UTC (so plain
 * arithmetic works on it). Second precision, which is all time zone rules use.
 */
export function wallTime(instant: number, timeZone: string): number {
  const seconds = Math.floor(instant / 1000) * 1000;
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(seconds))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const wall = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  return wall + (instant - seconds);
}

/** UTC offset of `timeZone` at `instant`, in ms (e.g. -25_200_000 for PDT). */
export function zoneOffsetMs(instant: number, timeZone: string): number {
  return wallTime(instant, timeZone) - instant;
}

/**
 * The instant a wall-clock time (given as if UTC) happens in `timeZone`: its first occurrence
 * when it happens twice, the first instant after the gap when it does not happen at all.
 */
export function instantOfWallTime(wall: number, timeZone: string): number {
  const offsets = new Set(
    [wall - DAY_MS, wall, wall + DAY_MS].map((t) => zoneOffsetMs(t, timeZone)),
  );
  const matches = [...offsets]
    .map((o) => wall - o)
    .filter((u) => wallTime(u, timeZone) === wall)
    .sort((a, b) => a - b);
  if (matches[0] !== undefined) return matches[0];
  // In a gap: the first instant whose wall time is at or past the wanted one. Wall time only
  // jumps forward across the gap, so a binary search over whole seconds finds the transition.
  const candidates = [...offsets].map((o) => wall - o);
  let lo = Math.min(...candidates);
  let hi = Math.max(...candidates);
  if (wallTime(lo, timeZone) >= wall) return lo;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (wallTime(mid, timeZone) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

function parseAt(at: string): { hour: number; minute: number } {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(at);
  if (!m) {
    throw new SyncError('INVALID_INPUT', `daily time must be HH:MM (24 h), got ${at}`, {
      context: { at },
    });
  }
  return { hour: Number(m[1]), minute: Number(m[2]) };
}

/**
 * The first instant strictly after `after` (epoch ms) at which `schedule` fires, or null for
 * a manual schedule. Throws INVALID_INPUT for a malformed schedule (unknown zone, bad time,
 * an interval that is not a positive whole number of minutes).
 */
export function nextFireAt(schedule: SyncSchedule, after: number): number | null {
  switch (schedule.mode) {
    case 'manual':
      return null;
    case 'interval': {
      const n = schedule.everyMinutes;
      if (!Number.isInteger(n) || n <= 0) {
        throw new SyncError('INVALID_INPUT', 'everyMinutes must be a positive integer', {
          context: { everyMinutes: n },
        });
      }
      const step = n * MINUTE_MS;
      return (Math.floor(after / step) + 1) * step;
    }
    case 'daily': {
      const { hour, minute } = parseAt(schedule.at);
      const today = wallTime(after, schedule.timezone);
      const midnight = today - (((today % DAY_MS) + DAY_MS) % DAY_MS);
      for (let day = 0; day < 3; day++) {
        const wall = midnight + day * DAY_MS + hour * 3_600_000 + minute * MINUTE_MS;
        const at = instantOfWallTime(wall, schedule.timezone);
        if (at > after) return at;
      }
      throw new SyncError('INTERNAL', 'no daily fire time found within three days', {
        context: { ...schedule, after },
      });
    }
  }
}
