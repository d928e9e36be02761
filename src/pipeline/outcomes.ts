import type { OutcomeItem } from '../core/records';
import { produce, type PipelineDeps } from './deps';

/**
 * Items per SyncOutcome record: a Bulk job's 24,000 write outcomes would make a record far over
 * Kafka's default 1 MB message size (an item is 100-250 bytes).
 */
const ITEMS_PER_RECORD = 1_000;

/** An outcome with the defaults of the fields most outcomes leave empty. */
export function outcomeItem(
  item: Pick<OutcomeItem, 'id' | 'stage' | 'side' | 'operation' | 'result' | 'at'> &
    Partial<OutcomeItem>,
): OutcomeItem {
  return {
    pairId: null,
    runId: null,
    decision: null,
    initliveId: null,
    salesforceId: null,
    fields: [],
    conflicts: [],
    writesTo: [],
    decisions: 0,
    linkedBy: null,
    errorCode: null,
    upstreamCode: null,
    message: null,
    deadLetterId: null,
    observedAt: null,
    ...item,
  };
}

/**
 * Outcomes gathered while a batch is handled, produced together (one record per organization,
 * keyed by it, so an organization's outcomes keep their order on one partition).
 *
 * Call `produce()` before producing the records the outcomes cause (writes, re-reads): a
 * consumer then always meets a cause before its effects, which is what lets a run tracker tell
 * that every write of a run has landed.
 */
export class OutcomeBatch {
  private readonly byOrg = new Map<string, OutcomeItem[]>();

  add(orgId: string, item: OutcomeItem): void {
    const list = this.byOrg.get(orgId);
    if (list) list.push(item);
    else this.byOrg.set(orgId, [item]);
  }

  get size(): number {
    let n = 0;
    for (const list of this.byOrg.values()) n += list.length;
    return n;
  }

  /**
   * Produces what was added and empties the batch once the transport acknowledged it; after a
   * failure the outcomes stay, so a retry sends them.
   */
  async produce(deps: Pick<PipelineDeps, 'transport' | 'codec' | 'topics'>): Promise<void> {
    if (this.byOrg.size === 0) return;
    const records: Array<{ key: string; value: { orgId: string; items: OutcomeItem[] } }> = [];
    for (const [orgId, items] of this.byOrg) {
      for (let i = 0; i < items.length; i += ITEMS_PER_RECORD) {
        records.push({ key: orgId, value: { orgId, items: items.slice(i, i + ITEMS_PER_RECORD) } });
      }
    }
    await produce(deps, 'outcomes', records);
    this.byOrg.clear();
  }
}
