import type { StateWitness } from '../pipeline/state-witness';
import type { ConnectionStore, OrgConnection, PendingAuthorization } from './connection-store';

/**
 * A ConnectionStore whose every change is also kept by the state witness (once one is given:
 * the witness needs the transport, which starts after the store). The copy is the record as
 * stored, read back after the change, so a copy of another process's newer write is newer still.
 */
export class WitnessedConnectionStore implements ConnectionStore {
  private witness: StateWitness | null = null;

  constructor(private readonly inner: ConnectionStore) {}

  /** Starts copying changes to `witness`, beginning with every record held now. */
  async witnessWith(witness: StateWitness): Promise<void> {
    this.witness = witness;
    const all = await this.inner.list();
    const entries: Array<[string, string | null]> = [];
    for (const c of all) {
      const raw = await this.inner.raw(c.orgId);
      if (raw !== null) entries.push([c.orgId, raw]);
    }
    await witness.recordConnections(entries);
  }

  get(orgId: string): Promise<OrgConnection | null> {
    return this.inner.get(orgId);
  }

  list(): Promise<OrgConnection[]> {
    return this.inner.list();
  }

  async update(
    orgId: string,
    change: (current: OrgConnection | null) => OrgConnection | null,
  ): Promise<OrgConnection | null> {
    let changed = false;
    const stored = await this.inner.update(orgId, (current) => {
      const next = change(current);
      changed = next !== null;
      return next;
    });
    if (changed) await this.copy(orgId);
    return stored;
  }

  async delete(orgId: string): Promise<boolean> {
    const removed = await this.inner.delete(orgId);
    if (removed) await this.witness?.recordConnection(orgId, null);
    return removed;
  }

  async restore(orgId: string, sealed: string): Promise<boolean> {
    return this.inner.restore(orgId, sealed);
  }

  putPending(pending: PendingAuthorization): Promise<void> {
    return this.inner.putPending(pending);
  }

  takePending(state: string): Promise<PendingAuthorization | null> {
    return this.inner.takePending(state);
  }

  raw(orgId: string): Promise<string | null> {
    return this.inner.raw(orgId);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async copy(orgId: string): Promise<void> {
    if (!this.witness) return;
    // Gone again already (the store emptied meanwhile) or unreadable: the copy kept stays.
    const raw = await this.inner.raw(orgId).catch(() => null);
    if (raw !== null) await this.witness.recordConnection(orgId, raw);
  }
}
