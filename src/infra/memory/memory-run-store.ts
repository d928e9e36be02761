import { addToTally, type RunTally } from '../../core/outcomes';
import type { Side } from '../../core/pair-state';
import { assertKeyParts } from '../../core/version-store';
import type { RunStore } from '../../batch/run-store';
import { RUN_HISTORY_LIMIT, runMaps } from '../../batch/run-store';
import type { RunMap, TallyEntry } from '../../batch/run-store';
import type { RunRecord } from '../../batch/run-types';
import { SyncError } from '../../errors';

interface Data {
  /** orgId -> runId -> record, in insertion (creation) order. */
  runs: Map<string, Map<string, RunRecord>>;
  checkpoints: Map<string, string>;
  seen: Map<string, Set<string>>;
  /** '' marks an ambiguous key. */
  maps: Map<string, Map<string, string>>;
  tallies: Map<string, { ids: Set<string>; tally: RunTally }>;
}

/**
 * RunStore in process memory. Seen ids cost roughly their length plus ~50 bytes each (a Set
 * entry), so a run over 100,000 records per side holds about 10-15 MB until it ends.
 */
export class MemoryRunStore implements RunStore {
  private readonly data: Data;
  private closed = false;

  /** `sharedWith`: another handle on the same data, as a second process would have one. */
  constructor(options: { sharedWith?: MemoryRunStore } = {}) {
    this.data = options.sharedWith?.data ?? {
      runs: new Map(),
      checkpoints: new Map(),
      seen: new Map(),
      maps: new Map(),
      tallies: new Map(),
    };
  }

  private check(orgId: string, runId?: string): void {
    assertKeyParts(runId === undefined ? { orgId } : { orgId, runId });
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'run store is closed', { retriable: false });
    }
  }

  async save(record: RunRecord): Promise<void> {
    this.check(record.orgId, record.runId);
    let runs = this.data.runs.get(record.orgId);
    if (!runs) this.data.runs.set(record.orgId, (runs = new Map()));
    runs.set(record.runId, structuredClone(record));
    while (runs.size > RUN_HISTORY_LIMIT) {
      const oldest = runs.keys().next().value as string;
      runs.delete(oldest);
    }
  }

  async get(orgId: string, runId: string): Promise<RunRecord | null> {
    this.check(orgId, runId);
    const r = this.data.runs.get(orgId)?.get(runId);
    return r ? structuredClone(r) : null;
  }

  async list(orgId: string, limit = 20): Promise<RunRecord[]> {
    this.check(orgId);
    const all = [...(this.data.runs.get(orgId)?.values() ?? [])].reverse();
    return all.slice(0, Math.max(0, limit)).map((r) => structuredClone(r));
  }

  async loadCheckpoint(orgId: string, runId: string): Promise<unknown> {
    this.check(orgId, runId);
    const text = this.data.checkpoints.get(`${orgId}/${runId}`);
    return text === undefined ? null : (JSON.parse(text) as unknown);
  }

  async saveCheckpoint(orgId: string, runId: string, checkpoint: unknown): Promise<void> {
    this.check(orgId, runId);
    this.data.checkpoints.set(`${orgId}/${runId}`, JSON.stringify(checkpoint));
  }

  private seenSet(orgId: string, runId: string, side: Side): Set<string> {
    const key = `${orgId}/${runId}/${side}`;
    let set = this.data.seen.get(key);
    if (!set) this.data.seen.set(key, (set = new Set()));
    return set;
  }

  async markSeen(orgId: string, runId: string, side: Side, ids: readonly string[]): Promise<void> {
    this.check(orgId, runId);
    const set = this.seenSet(orgId, runId, side);
    for (const id of ids) set.add(id);
  }

  async unseen(
    orgId: string,
    runId: string,
    side: Side,
    ids: readonly string[],
  ): Promise<string[]> {
    this.check(orgId, runId);
    const set = this.data.seen.get(`${orgId}/${runId}/${side}`);
    return ids.filter((id) => !set?.has(id));
  }

  async putUnique(
    orgId: string,
    runId: string,
    map: RunMap,
    entries: ReadonlyArray<readonly [string, string]>,
  ): Promise<void> {
    this.check(orgId, runId);
    const key = `${orgId}/${runId}/map/${map}`;
    let m = this.data.maps.get(key);
    if (!m) this.data.maps.set(key, (m = new Map()));
    for (const [k, v] of entries) {
      const old = m.get(k);
      if (old === undefined) m.set(k, v);
      else if (old !== v) m.set(k, '');
    }
  }

  async lookup(
    orgId: string,
    runId: string,
    map: RunMap,
    keys: readonly string[],
  ): Promise<Array<string | null>> {
    this.check(orgId, runId);
    const m = this.data.maps.get(`${orgId}/${runId}/map/${map}`);
    return keys.map((k) => {
      const v = m?.get(k);
      return v === undefined || v === '' ? null : v;
    });
  }

  async addOutcomes(orgId: string, runId: string, entries: readonly TallyEntry[]): Promise<void> {
    this.check(orgId, runId);
    const key = `${orgId}/${runId}`;
    let t = this.data.tallies.get(key);
    if (!t) this.data.tallies.set(key, (t = { ids: new Set(), tally: {} }));
    for (const { id, increments } of entries) {
      if (t.ids.has(id)) continue;
      t.ids.add(id);
      addToTally(t.tally, increments);
    }
  }

  async tally(orgId: string, runId: string): Promise<RunTally> {
    this.check(orgId, runId);
    return { ...this.data.tallies.get(`${orgId}/${runId}`)?.tally };
  }

  async forgetWork(orgId: string, runId: string): Promise<void> {
    this.check(orgId, runId);
    this.data.tallies.delete(`${orgId}/${runId}`);
    for (const map of runMaps) this.data.maps.delete(`${orgId}/${runId}/map/${map}`);
    this.data.checkpoints.delete(`${orgId}/${runId}`);
    this.data.seen.delete(`${orgId}/${runId}/initlive`);
    this.data.seen.delete(`${orgId}/${runId}/salesforce`);
  }

  /** Closes this handle only; others sharing its data keep working. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
