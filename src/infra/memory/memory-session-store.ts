import type { Session, SessionStore } from '../../admin/session-store';
import { SyncError } from '../../errors';

/** SessionStore in process memory: the embedded mode and unit tests (one process). */
export class MemorySessionStore implements SessionStore {
  private readonly sessions: Map<string, Session>;
  private readonly now: () => number;
  private closed = false;

  constructor(options: { sharedWith?: MemorySessionStore; now?: () => number } = {}) {
    this.sessions = options.sharedWith?.sessions ?? new Map();
    this.now = options.now ?? Date.now;
  }

  private check(op: string): void {
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'session store is closed', {
        retriable: false,
        context: { op },
      });
    }
  }

  /** Drops expired sessions, so abandoned sign-ins do not pile up. */
  private sweep(): void {
    const now = this.now();
    for (const [key, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(key);
  }

  async put(session: Session): Promise<void> {
    this.check('put');
    this.sweep();
    this.sessions.set(session.idHash, { ...session, principal: { ...session.principal } });
  }

  async get(idHash: string): Promise<Session | null> {
    this.check('get');
    const s = this.sessions.get(idHash);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(idHash);
      return null;
    }
    return { ...s, principal: { ...s.principal } };
  }

  async delete(idHash: string): Promise<void> {
    this.check('delete');
    this.sessions.delete(idHash);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
