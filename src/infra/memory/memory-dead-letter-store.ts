import type { DeadLetter } from '../../core/records';
import type {
  DeadLetterPage,
  DeadLetterQuery,
  DeadLetterStore,
  StoredDeadLetter,
} from '../../admin/dead-letter-store';
import { NO_ORG, compareLetters, mergeOccurrence, pageBounds } from '../../admin/dead-letter-store';
import { SyncError } from '../../errors';

interface Shared {
  byOrg: Map<string, Map<string, StoredDeadLetter>>;
  /** Removed letters and when: an occurrence from before that does not bring one back. */
  gone: Map<string, number>;
}

/** DeadLetterStore in process memory, for the embedded mode and unit tests. */
export class MemoryDeadLetterStore implements DeadLetterStore {
  private readonly shared: Shared;
  private closed = false;

  constructor(options: { sharedWith?: MemoryDeadLetterStore } = {}) {
    this.shared = options.sharedWith?.shared ?? { byOrg: new Map(), gone: new Map() };
  }

  private check(op: string): void {
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'dead-letter store is closed', {
        retriable: false,
        context: { op },
      });
    }
  }

  private org(orgId: string): Map<string, StoredDeadLetter> {
    let m = this.shared.byOrg.get(orgId);
    if (!m) this.shared.byOrg.set(orgId, (m = new Map()));
    return m;
  }

  async add(letter: DeadLetter): Promise<boolean> {
    this.check('add');
    const org = this.org(letter.orgId ?? NO_ORG);
    const removedAt = this.shared.gone.get(letter.id);
    if (removedAt !== undefined && letter.lastFailedAt <= removedAt) return false;
    const kept = org.get(letter.id);
    if (kept) {
      const merged = mergeOccurrence(kept, letter);
      if (merged) org.set(letter.id, merged);
      return false;
    }
    org.set(letter.id, {
      ...letter,
      originalValue: Buffer.from(letter.originalValue),
      occurrences: 1,
    });
    return true;
  }

  async list(orgId: string, query: DeadLetterQuery = {}): Promise<DeadLetterPage> {
    this.check('list');
    const { offset, limit } = pageBounds(query);
    const all = [...this.org(orgId).values()]
      .filter((l) => query.code === undefined || l.errorCode === query.code)
      .sort(compareLetters);
    const items = all.slice(offset, offset + limit);
    return {
      items,
      total: all.length,
      nextOffset: offset + items.length < all.length ? offset + items.length : null,
    };
  }

  async get(orgId: string, id: string): Promise<StoredDeadLetter | null> {
    this.check('get');
    return this.org(orgId).get(id) ?? null;
  }

  async remove(orgId: string, id: string): Promise<boolean> {
    this.check('remove');
    const kept = this.org(orgId).get(id);
    if (!kept) return false;
    this.org(orgId).delete(id);
    this.shared.gone.set(id, kept.lastFailedAt);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
