import { SyncError } from '../errors';

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

/**
 * The refusal of a caller that found the budget under the reserve (the sink pauses on it, a
 * full sync stops with it); null while above it. `then` says what the caller does about it.
 */
export function reserveRefusal(
  usage: ApiUsage,
  reserve: ApiReserve,
  then: string,
): SyncError | null {
  if (!belowReserve(usage, reserve)) return null;
  const calls = reserveCalls(reserve, usage.max);
  return new SyncError(
    'API_LIMIT_EXCEEDED',
    `Salesforce daily API budget nearly used: ${usage.max - usage.used} of ${usage.max} calls left, below the reserve of ${calls} left for others; ${then}`,
    { context: { used: usage.used, max: usage.max, reserve: calls } },
  );
}
