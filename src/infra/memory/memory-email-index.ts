import { normalizeEmail, type EmailIndex } from '../../core/email-index';

/** EmailIndex in process memory, for the embedded mode and unit tests. */
export class MemoryEmailIndex implements EmailIndex {
  private readonly sets = new Map<string, Set<string>>();

  private key(orgId: string, email: string): string {
    return `${orgId}\u0000${normalizeEmail(email)}`;
  }

  async find(orgId: string, email: string): Promise<string[]> {
    return [...(this.sets.get(this.key(orgId, email)) ?? [])].sort();
  }

  async claim(orgId: string, email: string, pairId: string): Promise<string[]> {
    // Read and add with no await in between, as Redis does in one MULTI.
    const k = this.key(orgId, email);
    const set = this.sets.get(k) ?? new Set<string>();
    const before = [...set].filter((id) => id !== pairId).sort();
    set.add(pairId);
    this.sets.set(k, set);
    return before;
  }

  async update(
    orgId: string,
    pairId: string,
    change: { add: string[]; remove: string[] },
  ): Promise<void> {
    for (const email of change.remove) {
      const set = this.sets.get(this.key(orgId, email));
      set?.delete(pairId);
      if (set?.size === 0) this.sets.delete(this.key(orgId, email));
    }
    for (const email of change.add) {
      const k = this.key(orgId, email);
      const set = this.sets.get(k) ?? new Set<string>();
      set.add(pairId);
      this.sets.set(k, set);
    }
  }

  async close(): Promise<void> {}
}
