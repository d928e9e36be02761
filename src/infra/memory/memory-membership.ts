import { SyncError } from '../../errors';
import { checkMembershipArgs, type Membership } from '../../pipeline/membership';

/**
 * Membership in process memory. Handles made with `sharedWith` see the same groups, as
 * processes sharing one Redis would; `now` lets tests run heartbeats out without waiting.
 */
export class MemoryMembership implements Membership {
  /** group -> member -> when its last heartbeat runs out. */
  private readonly groups: Map<string, Map<string, number>>;
  private readonly now: () => number;
  private closed = false;

  constructor(options: { sharedWith?: MemoryMembership; now?: () => number } = {}) {
    this.groups = options.sharedWith?.groups ?? new Map();
    this.now = options.now ?? options.sharedWith?.now ?? Date.now;
  }

  private live(group: string): Map<string, number> {
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'membership is closed', { retriable: false });
    }
    const members = this.groups.get(group) ?? new Map<string, number>();
    const now = this.now();
    for (const [member, expiresAt] of members) if (expiresAt <= now) members.delete(member);
    if (members.size === 0) this.groups.delete(group);
    return members;
  }

  async heartbeat(group: string, member: string, ttlMs: number): Promise<string[]> {
    checkMembershipArgs(group, member, ttlMs);
    const members = this.live(group);
    members.set(member, this.now() + ttlMs);
    this.groups.set(group, members);
    return [...members.keys()].sort();
  }

  async members(group: string): Promise<string[]> {
    checkMembershipArgs(group);
    return [...this.live(group).keys()].sort();
  }

  async leave(group: string, member: string): Promise<void> {
    checkMembershipArgs(group, member);
    this.live(group).delete(member);
  }

  /** Closes this handle only; others sharing its data keep working. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
