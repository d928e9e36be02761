import {
  instantOfWallTime,
  isValidTimeZone,
  nextFireAt,
  zoneOffsetMs,
} from '../../src/core/schedule';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

// Los Angeles, not Vancouver: British Columbia's clock changes after 2026 differ between
// releases of the time-zone database (Node 24's tzdata keeps Vancouver on UTC-7), and these
// tests are about our DST handling, not about that database.
describe('nextFireAt', () => {
  it('never fires a manual schedule', () => {
    expect(nextFireAt({ mode: 'manual' }, at('2026-01-01T00:00:00Z'))).toBeNull();
  });

  it('fires intervals on an epoch-aligned grid, strictly after the given instant', () => {
    const every15 = { mode: 'interval' as const, everyMinutes: 15 };
    expect(iso(nextFireAt(every15, at('2026-01-01T00:07:00Z')))).toBe('2026-01-01T00:15:00.000Z');
    expect(iso(nextFireAt(every15, at('2026-01-01T00:15:00Z')))).toBe('2026-01-01T00:30:00.000Z');
    expect(
      iso(nextFireAt({ mode: 'interval', everyMinutes: 1440 }, at('2026-01-01T05:00:00Z'))),
    ).toBe('2026-01-02T00:00:00.000Z');
    expect(() => nextFireAt({ mode: 'interval', everyMinutes: 0 }, 0)).toThrow(/everyMinutes/);
  });

  it('fires daily at the local time of the zone, today if still ahead, else tomorrow', () => {
    const daily = { mode: 'daily' as const, at: '02:30', timezone: 'America/Los_Angeles' };
    // PST is UTC-8 in January.
    expect(iso(nextFireAt(daily, at('2026-01-10T08:00:00Z')))).toBe('2026-01-10T10:30:00.000Z');
    expect(iso(nextFireAt(daily, at('2026-01-10T10:30:00Z')))).toBe('2026-01-11T10:30:00.000Z');
    // PDT is UTC-7 in July.
    expect(iso(nextFireAt(daily, at('2026-07-01T00:00:00Z')))).toBe('2026-07-01T09:30:00.000Z');
  });

  it('spring forward in Los Angeles (2026-03-08): a time in the gap fires at the first valid instant', () => {
    const daily = { mode: 'daily' as const, at: '02:30', timezone: 'America/Los_Angeles' };
    const first = nextFireAt(daily, at('2026-03-07T11:00:00Z'))!;
    // 02:00 PST jumps to 03:00 PDT at 10:00Z; 02:30 does not exist that day.
    expect(iso(first)).toBe('2026-03-08T10:00:00.000Z');
    expect(iso(nextFireAt(daily, first))).toBe('2026-03-09T09:30:00.000Z');
    const before = { mode: 'daily' as const, at: '01:59', timezone: 'America/Los_Angeles' };
    expect(iso(nextFireAt(before, at('2026-03-08T00:00:00Z')))).toBe('2026-03-08T09:59:00.000Z');
  });

  it('fall back in Los Angeles (2026-11-01): a repeated time fires once, at its first occurrence', () => {
    const daily = { mode: 'daily' as const, at: '01:30', timezone: 'America/Los_Angeles' };
    const first = nextFireAt(daily, at('2026-10-31T12:00:00Z'))!;
    expect(iso(first)).toBe('2026-11-01T08:30:00.000Z'); // 01:30 PDT
    // Not again at 01:30 PST (09:30Z) the same night.
    expect(iso(nextFireAt(daily, first))).toBe('2026-11-02T09:30:00.000Z');
  });

  it('handles Europe/Berlin DST (2026-03-29 and 2026-10-25)', () => {
    const daily = { mode: 'daily' as const, at: '02:30', timezone: 'Europe/Berlin' };
    expect(iso(nextFireAt(daily, at('2026-03-28T12:00:00Z')))).toBe('2026-03-29T01:00:00.000Z');
    const fallback = nextFireAt(daily, at('2026-10-24T12:00:00Z'))!;
    expect(iso(fallback)).toBe('2026-10-25T00:30:00.000Z'); // 02:30 CEST, the first of two
    expect(iso(nextFireAt(daily, fallback))).toBe('2026-10-26T01:30:00.000Z'); // 02:30 CET
  });

  it('rejects unknown zones and malformed times', () => {
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(() => nextFireAt({ mode: 'daily', at: '02:30', timezone: 'Mars/Olympus' }, 0)).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
    expect(() => nextFireAt({ mode: 'daily', at: '24:00', timezone: 'UTC' }, 0)).toThrow(/HH:MM/);
  });

  it('computes zone offsets and wall times', () => {
    expect(zoneOffsetMs(at('2026-01-15T12:00:00Z'), 'America/Los_Angeles')).toBe(-8 * 3_600_000);
    expect(zoneOffsetMs(at('2026-07-15T12:00:00Z'), 'Europe/Berlin')).toBe(2 * 3_600_000);
    expect(iso(instantOfWallTime(at('2026-07-15T09:00:00Z'), 'Asia/Kolkata'))).toBe(
      '2026-07-15T03:30:00.000Z',
    );
  });
});
