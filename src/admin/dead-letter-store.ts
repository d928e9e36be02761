import type { DeadLetter } from '../core/records';

/**
 * Dead letters as the admin API shows them: per organization, newest first, until retried or
 * dismissed. Fed by DeadLetterCollector from the dead-letter topic.
 *
 * Adapters: MemoryDeadLetterStore and RedisDeadLetterStore, held to one conformance suite
 * (test/conformance/dead-letter-store.conformance.ts).
 */
export interface DeadLetterQuery {
  /** Default 0. */
  offset?: number;
  /** Default 50, at most 500. */
  limit?: number;
  /** Only letters with this errorCode. */
  code?: string;
}

/** A letter as kept: the last occurrence's record and reason, and how often it failed so. */
export interface StoredDeadLetter extends DeadLetter {
  /** How many times this record failed for this cause (the letter keeps its first failure). */
  occurrences: number;
}

export interface DeadLetterPage {
  items: StoredDeadLetter[];
  /** Letters matching the query in all. */
  total: number;
  /** Offset of the next page, or null on the last one. */
  nextOffset: number | null;
}

export interface DeadLetterStore {
  /**
   * Keeps a letter. A letter names its record and cause (see sendToDeadLetters), so a letter
   * whose id is kept already is another occurrence: it counts one more and brings its record
   * and reason up to date, keeping the first failure's time. Idempotent per occurrence (its
   * `lastFailedAt`): the same letter read twice (the topic is read at least once) counts once,
   * and an occurrence from before the letter was retried or dismissed does not bring it back.
   * Returns true when the letter was new.
   */
  add(letter: DeadLetter): Promise<boolean>;
  list(orgId: string, query?: DeadLetterQuery): Promise<DeadLetterPage>;
  get(orgId: string, id: string): Promise<StoredDeadLetter | null>;
  /** Forgets a letter for good (retried or dismissed); false when it was not there. */
  remove(orgId: string, id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Bucket of letters whose organization is unknown (a record too broken to name one). */
export const NO_ORG = '_none';

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

export function pageBounds(query: DeadLetterQuery = {}): { offset: number; limit: number } {
  const offset = Math.max(0, Math.floor(query.offset ?? 0));
  const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(query.limit ?? DEFAULT_PAGE)));
  return { offset, limit };
}

/** JSON form of a letter (bytes as base64), shared by adapters that store text. */
export function letterToJson(letter: StoredDeadLetter): string {
  return JSON.stringify({ ...letter, originalValue: letter.originalValue.toString('base64') });
}

export function letterFromJson(text: string): StoredDeadLetter {
  const parsed = JSON.parse(text) as Omit<StoredDeadLetter, 'originalValue'> & {
    originalValue: string;
  };
  return {
    ...parsed,
    occurrences: parsed.occurrences ?? 1,
    originalValue: Buffer.from(parsed.originalValue, 'base64'),
  };
}

/**
 * What a kept letter becomes when `letter` comes in: null when it is no newer occurrence (a
 * redelivery), else the newest record and reason, one more occurrence, the first failure kept.
 */
export function mergeOccurrence(
  kept: StoredDeadLetter,
  letter: DeadLetter,
): StoredDeadLetter | null {
  if (letter.lastFailedAt <= kept.lastFailedAt) return null;
  return {
    ...letter,
    originalValue: Buffer.from(letter.originalValue),
    firstFailedAt: kept.firstFailedAt,
    occurrences: kept.occurrences + 1,
  };
}

/** Newest first; ties by descending id (as Redis ZREVRANGE orders them) so pages are stable. */
export function compareLetters(a: DeadLetter, b: DeadLetter): number {
  return b.lastFailedAt - a.lastFailedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
