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

export interface DeadLetterPage {
  items: DeadLetter[];
  /** Letters matching the query in all. */
  total: number;
  /** Offset of the next page, or null on the last one. */
  nextOffset: number | null;
}

export interface DeadLetterStore {
  /**
   * Keeps a letter. Idempotent by id: the same letter delivered twice (the topic is read at
   * least once) is kept once, and a letter already retried or dismissed is not brought back.
   * Returns true when the letter was new.
   */
  add(letter: DeadLetter): Promise<boolean>;
  list(orgId: string, query?: DeadLetterQuery): Promise<DeadLetterPage>;
  get(orgId: string, id: string): Promise<DeadLetter | null>;
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
export function letterToJson(letter: DeadLetter): string {
  return JSON.stringify({ ...letter, originalValue: letter.originalValue.toString('base64') });
}

export function letterFromJson(text: string): DeadLetter {
  const parsed = JSON.parse(text) as Omit<DeadLetter, 'originalValue'> & { originalValue: string };
  return { ...parsed, originalValue: Buffer.from(parsed.originalValue, 'base64') };
}

/** Newest first; ties by descending id (as Redis ZREVRANGE orders them) so pages are stable. */
export function compareLetters(a: DeadLetter, b: DeadLetter): number {
  return b.lastFailedAt - a.lastFailedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
