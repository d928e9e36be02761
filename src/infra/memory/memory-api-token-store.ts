import type { ApiToken, ApiTokenStore } from '../../admin/token-store';
import { SyncError } from '../../errors';

/** ApiTokenStore in process memory: the embedded mode and unit tests (one process). */
export class MemoryApiTokenStore implements ApiTokenStore {
  private readonly tokens: Map<string, ApiToken>;
  private closed = false;

  constructor(options: { sharedWith?: MemoryApiTokenStore } = {}) {
    this.tokens = options.sharedWith?.tokens ?? new Map();
  }

  private check(op: string): void {
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'token store is closed', {
        retriable: false,
        context: { op },
      });
    }
  }

  async create(token: ApiToken): Promise<void> {
    this.check('create');
    this.tokens.set(token.id, { ...token });
  }

  async get(id: string): Promise<ApiToken | null> {
    this.check('get');
    const t = this.tokens.get(id);
    return t ? { ...t } : null;
  }

  async list(orgId: string): Promise<ApiToken[]> {
    this.check('list');
    return [...this.tokens.values()]
      .filter((t) => t.orgId === orgId)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
      .map((t) => ({ ...t }));
  }

  async revoke(orgId: string, id: string): Promise<boolean> {
    this.check('revoke');
    if (this.tokens.get(id)?.orgId !== orgId) return false;
    return this.tokens.delete(id);
  }

  async touch(orgId: string, id: string, at: number): Promise<void> {
    this.check('touch');
    const t = this.tokens.get(id);
    if (t?.orgId === orgId) t.lastUsedAt = at;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
