/** API calls used and allowed in the org's rolling 24 hours. */
export interface ApiUsage {
  used: number;
  max: number;
}

/**
 * Daily API calls the sink leaves untouched for everyone else using the org (people, other
 * integrations): a share of the allocation or an absolute count.
 */
export type ApiReserve = { ratio: number } | { calls: number };

export const defaultApiReserve: ApiReserve = { ratio: 0.05 };

/** Calls to keep in reserve out of an allocation of `max`. */
export function reserveCalls(reserve: ApiReserve, max: number): number {
  if ('calls' in reserve) return Math.max(0, Math.floor(reserve.calls));
  return Math.max(0, Math.ceil(max * Math.min(1, Math.max(0, reserve.ratio))));
}

/** True when what is left of the allocation is below the reserve: time to pause. */
export function belowReserve(usage: ApiUsage, reserve: ApiReserve): boolean {
  return usage.max - usage.used < reserveCalls(reserve, usage.max);
}
