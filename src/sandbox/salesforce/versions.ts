/** Newest API version this sandbox serves (Winter '25); calls to newer versions get 404. */
export const LATEST_VERSION = '62.0';
/** Oldest version accepted (CometD and the REST features used here need 37.0+). */
export const OLDEST_VERSION = 37;

const SEASONS = ['Winter', 'Summer', 'Spring'] as const;

/** Release label for a major version, e.g. 62 -> "Winter '25". */
export function releaseLabel(major: number): string {
  const k = 62 - major;
  const year = 25 - Math.ceil(k / 3);
  return `${SEASONS[((k % 3) + 3) % 3]} '${String(year).padStart(2, '0')}`;
}

/** `GET /services/data`: every served version, oldest first. */
export function versionList(): { label: string; url: string; version: string }[] {
  const out = [];
  for (let v = OLDEST_VERSION; v <= Number(LATEST_VERSION); v++) {
    out.push({ label: releaseLabel(v), url: `/services/data/v${v}.0`, version: `${v}.0` });
  }
  return out;
}

/** "v62.0" -> "62.0" when served, else null. */
export function parseVersion(segment: string): string | null {
  const m = /^v(\d{2})\.0$/.exec(segment);
  if (!m) return null;
  const major = Number(m[1]);
  return major >= OLDEST_VERSION && major <= Number(LATEST_VERSION) ? `${major}.0` : null;
}
