import { randomUUID } from 'node:crypto';
import { assertKeyParts } from '../../core/version-store';
import type {
  ParkResult,
  ParkedRecord,
  ParkedWriteStore,
  PartitionOffsets,
  PartitionRanges,
} from '../../sink/parked-writes';

interface OrgList {
  records: ParkedRecord[];
  generation: string;
  /** Partition -> first offset parked since the list was last settled. */
  marks: Map<number, string>;
  /** Partition -> offset a restore read through. */
  through: Map<number, string>;
}

const after = (a: string, b: string): boolean => BigInt(a) > BigInt(b);

/** ParkedWriteStore in process memory (the embedded mode, unit tests). */
export class MemoryParkedWriteStore implements ParkedWriteStore {
  private readonly lists = new Map<string, OrgList>();

  async park(orgId: string, records: readonly ParkedRecord[]): Promise<ParkResult> {
    const list = this.list(orgId);
    for (const r of records) {
      const through = list.through.get(r.partition);
      if (through !== undefined && !after(r.offset, through)) continue;
      if (!list.marks.has(r.partition)) list.marks.set(r.partition, r.offset);
      list.records.push(copy(r));
    }
    return this.result(list, records);
  }

  async peek(orgId: string, max: number): Promise<ParkedRecord[]> {
    assertKeyParts({ orgId });
    return (this.lists.get(orgId)?.records ?? []).slice(0, Math.max(0, max));
  }

  async drop(orgId: string, count: number, head: ParkedRecord): Promise<number> {
    assertKeyParts({ orgId });
    const list = this.lists.get(orgId)?.records ?? [];
    if (list[0] && JSON.stringify(list[0]) === JSON.stringify(head))
      list.splice(0, Math.max(0, count));
    return list.length;
  }

  async count(orgId: string): Promise<number> {
    assertKeyParts({ orgId });
    return this.lists.get(orgId)?.records.length ?? 0;
  }

  async marks(orgId: string): Promise<{ generation: string | null; marks: PartitionOffsets }> {
    assertKeyParts({ orgId });
    const list = this.lists.get(orgId);
    return { generation: list?.generation ?? null, marks: list ? [...list.marks] : [] };
  }

  async settle(orgId: string, marks: PartitionOffsets): Promise<boolean> {
    assertKeyParts({ orgId });
    const list = this.lists.get(orgId);
    if (!list) return true;
    if (list.records.length > 0) return false;
    for (const [partition, offset] of marks) {
      if (list.marks.get(partition) === offset) list.marks.delete(partition);
    }
    return true;
  }

  async restore(
    orgId: string,
    records: readonly ParkedRecord[],
    read: PartitionRanges,
  ): Promise<ParkResult> {
    const list = this.list(orgId);
    const ranges = new Map(read.map(([p, from, through]) => [p, { from, through }]));
    for (const [partition, , through] of read) {
      const was = list.through.get(partition);
      if (was === undefined || after(through, was)) list.through.set(partition, through);
    }
    const kept = list.records.filter((r) => {
      const range = ranges.get(r.partition);
      return !range || after(range.from, r.offset) || after(r.offset, range.through);
    });
    for (const r of records) {
      const mark = list.marks.get(r.partition);
      if (mark === undefined || after(mark, r.offset)) list.marks.set(r.partition, r.offset);
    }
    list.records = [...records.map(copy), ...kept];
    return this.result(list, records);
  }

  async close(): Promise<void> {}

  /** Test introspection: forgets everything, as a Redis that restarted empty. */
  clear(): void {
    this.lists.clear();
  }

  private list(orgId: string): OrgList {
    assertKeyParts({ orgId });
    let list = this.lists.get(orgId);
    if (!list) {
      list = { records: [], generation: randomUUID(), marks: new Map(), through: new Map() };
      this.lists.set(orgId, list);
    }
    return list;
  }

  private result(list: OrgList, records: readonly ParkedRecord[]): ParkResult {
    const partitions = [...new Set(records.map((r) => r.partition))];
    const marks: PartitionOffsets = [];
    for (const p of partitions) {
      const m = list.marks.get(p);
      if (m !== undefined) marks.push([p, m]);
    }
    return { count: list.records.length, generation: list.generation, marks };
  }
}

function copy(r: ParkedRecord): ParkedRecord {
  return { ...r, headers: { ...r.headers } };
}
