import { SyncError } from '../../errors';
import type {
  ConnectionStore,
  OrgConnection,
  PendingAuthorization,
} from '../../orgs/connection-store';
import {
  PENDING_GRACE_MS,
  assertOrgId,
  assertRestorable,
  openConnection,
  openPending,
  sealConnection,
  sealPending,
} from '../../orgs/connection-store';
import type { SecretBox } from '../secrets';

interface Shared {
  records: Map<string, string>;
  pending: Map<string, { value: string; dropAt: number }>;
}

export interface MemoryConnectionStoreOptions {
  secrets: SecretBox;
  /** Another handle on the same data, as a second process would have one. */
  sharedWith?: MemoryConnectionStore;
  now?: () => number;
}

/**
 * ConnectionStore in process memory (embedded mode, unit tests). Records are kept sealed, the
 * same bytes the Redis adapter writes, so what tests read from `raw()` is what would be at rest.
 */
export class MemoryConnectionStore implements ConnectionStore {
  private readonly shared: Shared;
  private readonly secrets: SecretBox;
  private readonly now: () => number;
  private closed = false;

  constructor(options: MemoryConnectionStoreOptions) {
    this.secrets = options.secrets;
    this.now = options.now ?? Date.now;
    this.shared = options.sharedWith?.shared ?? { records: new Map(), pending: new Map() };
  }

  private check(op: string): void {
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'connection store is closed', {
        retriable: false,
        context: { op },
      });
    }
  }

  async get(orgId: string): Promise<OrgConnection | null> {
    this.check('get');
    assertOrgId(orgId);
    const raw = this.shared.records.get(orgId);
    return raw === undefined ? null : openConnection(this.secrets, raw);
  }

  async list(): Promise<OrgConnection[]> {
    this.check('list');
    return [...this.shared.records.keys()]
      .sort()
      .map((id) => openConnection(this.secrets, this.shared.records.get(id)!));
  }

  async update(
    orgId: string,
    change: (current: OrgConnection | null) => OrgConnection | null,
  ): Promise<OrgConnection | null> {
    this.check('update');
    assertOrgId(orgId);
    // Synchronous from read to write: nothing else can interleave in one process.
    const raw = this.shared.records.get(orgId);
    const current = raw === undefined ? null : openConnection(this.secrets, raw);
    const next = change(current);
    if (next === null) return current;
    if (next.orgId !== orgId) throw new SyncError('INTERNAL', 'update changed the orgId');
    this.shared.records.set(orgId, sealConnection(this.secrets, next));
    return next;
  }

  async delete(orgId: string): Promise<boolean> {
    this.check('delete');
    assertOrgId(orgId);
    return this.shared.records.delete(orgId);
  }

  async restore(orgId: string, sealed: string): Promise<boolean> {
    this.check('restore');
    assertOrgId(orgId);
    assertRestorable(this.secrets, orgId, sealed);
    if (this.shared.records.has(orgId)) return false;
    this.shared.records.set(orgId, sealed);
    return true;
  }

  async putPending(pending: PendingAuthorization): Promise<void> {
    this.check('putPending');
    const now = this.now();
    for (const [k, v] of this.shared.pending) if (v.dropAt <= now) this.shared.pending.delete(k);
    this.shared.pending.set(pending.state, {
      value: sealPending(this.secrets, pending),
      dropAt: pending.expiresAt + PENDING_GRACE_MS,
    });
  }

  async takePending(state: string): Promise<PendingAuthorization | null> {
    this.check('takePending');
    const hit = this.shared.pending.get(state);
    this.shared.pending.delete(state);
    if (!hit || hit.dropAt <= this.now()) return null;
    return openPending(this.secrets, hit.value);
  }

  async raw(orgId: string): Promise<string | null> {
    this.check('raw');
    return this.shared.records.get(orgId) ?? null;
  }

  /** Closes this handle only; others sharing its data keep working. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
