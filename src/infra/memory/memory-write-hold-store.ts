import type { Side } from '../../core/pair-state';
import { assertKeyParts } from '../../core/version-store';
import { byAge, type WriteHold, type WriteHoldStore } from '../../sink/write-holds';

/** WriteHoldStore in process memory (the embedded mode, unit tests). */
export class MemoryWriteHoldStore implements WriteHoldStore {
  private readonly holds: Map<string, { hold: WriteHold; expiresAt: number }>;
  /** The last end per organization and side. */
  private readonly ends: Map<string, { at: number; expiresAt: number }>;

  constructor(options: { now?: () => number; sharedWith?: MemoryWriteHoldStore } = {}) {
    this.holds = options.sharedWith?.holds ?? new Map();
    this.ends = options.sharedWith?.ends ?? new Map();
    this.now = options.now ?? Date.now;
  }

  private readonly now: () => number;

  async put(hold: WriteHold, ttlMs: number): Promise<void> {
    assertKeyParts({ orgId: hold.orgId, process: hold.process });
    this.holds.set(`${hold.orgId}\u0000${hold.side}\u0000${hold.process}`, {
      hold: { ...hold },
      expiresAt: this.now() + ttlMs,
    });
  }

  async end(orgId: string, side: Side, process: string, at: number, ttlMs: number): Promise<void> {
    assertKeyParts({ orgId, process });
    this.holds.delete(`${orgId}\u0000${side}\u0000${process}`);
    this.ends.set(`${orgId}\u0000${side}`, { at, expiresAt: this.now() + ttlMs });
  }

  async lastEnded(orgId: string, side: Side): Promise<number | null> {
    assertKeyParts({ orgId });
    const key = `${orgId}\u0000${side}`;
    const end = this.ends.get(key);
    if (end && end.expiresAt <= this.now()) this.ends.delete(key);
    return end && end.expiresAt > this.now() ? end.at : null;
  }

  async list(orgId: string): Promise<WriteHold[]> {
    assertKeyParts({ orgId });
    const now = this.now();
    const out: WriteHold[] = [];
    for (const [key, { hold, expiresAt }] of this.holds) {
      if (expiresAt <= now) this.holds.delete(key);
      else if (hold.orgId === orgId) out.push({ ...hold });
    }
    return out.sort(byAge);
  }

  async close(): Promise<void> {}
}
