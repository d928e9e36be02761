import { randomUUID } from 'node:crypto';
import type { Membership } from '../../src/pipeline/membership';

export interface MembershipFixture {
  membership: Membership;
  /** Another handle on the same groups, as a second process would have one. */
  openAnother: () => Promise<Membership>;
  /** Lets `ms` pass for heartbeats (a fake clock, or real waiting). */
  pass: (ms: number) => Promise<void>;
  cleanup: () => Promise<void>;
}

/** The contract every Membership adapter keeps. Times to live are short; `pass` runs them out. */
export function describeMembershipConformance(
  name: string,
  factory: () => Promise<MembershipFixture>,
): void {
  describe(`Membership conformance: ${name}`, () => {
    let fx: MembershipFixture;
    let membership: Membership;
    let group: string;

    beforeEach(async () => {
      fx = await factory();
      membership = fx.membership;
      group = `sources-${randomUUID()}`;
    });

    afterEach(async () => {
      await fx.cleanup();
    });

    it('a heartbeat makes a member live for every handle, and answers the live members sorted', async () => {
      const other = await fx.openAnother();
      expect(await membership.members(group)).toEqual([]);
      expect(await membership.heartbeat(group, 'b', 10_000)).toEqual(['b']);
      expect(await other.heartbeat(group, 'a', 10_000)).toEqual(['a', 'b']);
      expect(await membership.heartbeat(group, 'b', 10_000)).toEqual(['a', 'b']);
      expect(await membership.members(group)).toEqual(['a', 'b']);
      expect(await other.members(group)).toEqual(['a', 'b']);
    });

    it('drops a member whose heartbeats stop once its time to live runs out; one that keeps beating stays', async () => {
      await membership.heartbeat(group, 'crashed', 300);
      await membership.heartbeat(group, 'alive', 300);
      await fx.pass(150);
      await membership.heartbeat(group, 'alive', 300);
      await fx.pass(250);
      expect(await membership.members(group)).toEqual(['alive']);
      expect(await membership.heartbeat(group, 'alive', 300)).toEqual(['alive']);
      // It comes back with its next heartbeat.
      expect(await membership.heartbeat(group, 'crashed', 300)).toEqual(['alive', 'crashed']);
    });

    it('a member that leaves is gone at once; leaving twice, or unknown, changes nothing', async () => {
      await membership.heartbeat(group, 'a', 10_000);
      await membership.heartbeat(group, 'b', 10_000);
      await membership.leave(group, 'a');
      expect(await membership.members(group)).toEqual(['b']);
      await membership.leave(group, 'a');
      await membership.leave(group, 'nobody');
      expect(await membership.members(group)).toEqual(['b']);
    });

    it('keeps groups apart', async () => {
      await membership.heartbeat(`${group}:x`, 'a', 10_000);
      await membership.heartbeat(`${group}:y`, 'b', 10_000);
      expect(await membership.members(`${group}:x`)).toEqual(['a']);
      expect(await membership.members(`${group}:y`)).toEqual(['b']);
    });

    it('refuses empty groups and members and non-positive times to live', async () => {
      await expect(membership.heartbeat('', 'a', 1000)).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      await expect(membership.heartbeat(group, '', 1000)).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      await expect(membership.heartbeat(group, 'a', 0)).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      await expect(membership.members('')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    });

    it('a closed handle answers STORE_UNAVAILABLE', async () => {
      const other = await fx.openAnother();
      await other.close();
      await expect(other.heartbeat(group, 'a', 1000)).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
      });
      expect(await membership.heartbeat(group, 'b', 1000)).toEqual(['b']);
    });
  });
}
