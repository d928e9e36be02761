import type { DeadLetter } from '../../core/records';
import type {
  DeadLetterPage,
  DeadLetterQuery,
  DeadLetterStore,
} from '../../admin/dead-letter-store';
import { NO_ORG, compareLetters, pageBounds } from '../../admin/dead-letter-store';
import { SyncError } from '../../errors';

interface Shared {
  byOrg: Map<string, Map<string, DeadLetter>>;
  gone: Set<string>;
}

/** DeadLetterStore in process memory, for the embedded mode and unit tests. */
export class MemoryDeadLetterStore implements DeadLetterStore {
  private readonly shared: Shared;
  private closed = false;

  constructor(options: { sharedWith?: MemoryDeadLetterStore } = {}) {
    this.shared = options.sharedWith?.shared ?? { byOrg: new Map(), gone: new Set() };
  }

  private check(op: string): void {
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'dead-letter store is closed', {
        retriable: false,
        context: { op },
      });
    }
  }

  private org(orgId: string): Map<string, DeadLetter> {
    let m = this.shared.byOrg.get(orgId);
    if (!m) this.shared.byOrg.set(orgId, (m = new Map()));
    return m;
  }

  async add(letter: DeadLetter): Promise<boolean> {
    this.check('add');
    const org = this.org(letter.orgId ?? NO_ORG);
    if (org.has(letter.id) || this.shared.gone.has(letter.id)) return false;
    org.set(letter.id, { ...letter, originalValue: Buffer.from(letter.originalValue) });
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

  async get(orgId: string, id: string): Promise<DeadLetter | null> {
    this.check('get');
    return this.org(orgId).get(id) ?? null;
  }

  async remove(orgId: string, id: string): Promise<boolean> {
    this.check('remove');
    const removed = this.org(orgId).delete(id);
    if (removed) this.shared.gone.add(id);
    return removed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
