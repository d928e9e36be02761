import { assertKeyParts } from '../../core/version-store';
import type { ParkedRecord, ParkedWriteStore } from '../../sink/parked-writes';

/** ParkedWriteStore in process memory (the embedded mode, unit tests). */
export class MemoryParkedWriteStore implements ParkedWriteStore {
  private readonly lists = new Map<string, ParkedRecord[]>();

  async park(orgId: string, records: readonly ParkedRecord[]): Promise<number> {
    assertKeyParts({ orgId });
    const list = this.lists.get(orgId) ?? [];
    list.push(...records.map((r) => ({ ...r, headers: { ...r.headers } })));
    this.lists.set(orgId, list);
    return list.length;
  }

  async peek(orgId: string, max: number): Promise<ParkedRecord[]> {
    assertKeyParts({ orgId });
    return (this.lists.get(orgId) ?? []).slice(0, Math.max(0, max));
  }

  async drop(orgId: string, count: number, head: ParkedRecord): Promise<number> {
    assertKeyParts({ orgId });
    const list = this.lists.get(orgId) ?? [];
    if (list[0] && JSON.stringify(list[0]) === JSON.stringify(head))
      list.splice(0, Math.max(0, count));
    if (list.length === 0) this.lists.delete(orgId);
    return list.length;
  }

  async count(orgId: string): Promise<number> {
    assertKeyParts({ orgId });
    return this.lists.get(orgId)?.length ?? 0;
  }

  async close(): Promise<void> {}
}
