import { MemoryMembership } from '../../src/infra/memory/memory-membership';
import { describeMembershipConformance } from '../conformance/membership.conformance';

describeMembershipConformance('memory', async () => {
  let now = 1_000_000;
  const membership = new MemoryMembership({ now: () => now });
  return {
    membership,
    openAnother: async () => new MemoryMembership({ sharedWith: membership }),
    pass: async (ms) => {
      now += ms;
    },
    cleanup: async () => membership.close(),
  };
});
