/** Salesforce REST datetime form: `2026-01-01T00:00:00.000+0000` (always UTC). */
export function formatDateTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('Z', '+0000');
}

/** Parses a REST/SOQL datetime (`Z`, `+0000` or `+hh:mm` offsets); NaN when malformed. */
export function parseDateTime(s: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)(Z|[+-]\d{2}:?\d{2})$/.exec(s);
  if (!m) return Number.NaN;
  const zone = m[2] === 'Z' ? 'Z' : `${m[2]!.slice(0, 3)}:${m[2]!.slice(-2)}`;
  return Date.parse(`${m[1]!}${zone}`);
}
