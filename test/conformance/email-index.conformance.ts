import type { EmailIndex } from '../../src/core/email-index';

export function describeEmailIndexConformance(
  name: string,
  factory: () => Promise<{ index: EmailIndex; cleanup: () => Promise<void> }>,
): void {
  describe(`EmailIndex conformance: ${name}`, () => {
    let index: EmailIndex;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ index, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('finds pairs by email in any case, per organization', async () => {
      await index.update('org_a', 'p1', { add: ['Dana.Lee@Example.org'], remove: [] });
      await index.update('org_a', 'p2', { add: ['dana.lee@example.org'], remove: [] });
      await index.update('org_b', 'p9', { add: ['dana.lee@example.org'], remove: [] });
      expect(await index.find('org_a', 'DANA.LEE@EXAMPLE.ORG')).toEqual(['p1', 'p2']);
      expect(await index.find('org_b', 'dana.lee@example.org')).toEqual(['p9']);
      expect(await index.find('org_a', 'nobody@example.org')).toEqual([]);
    });

    it('claims atomically: of racing claims, exactly one sees nobody before it', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => index.claim('org_a', 'race@example.org', `p${i}`)),
      );
      expect(results.filter((before) => before.length === 0)).toHaveLength(1);
      expect(await index.find('org_a', 'race@example.org')).toHaveLength(20);
      // Claiming again is idempotent and reports the others.
      expect(await index.claim('org_a', 'race@example.org', 'p0')).toHaveLength(19);
    });

    it('moves a pair when its email changes, idempotently', async () => {
      await index.update('org_a', 'p1', { add: ['old@example.org'], remove: [] });
      await index.update('org_a', 'p1', { add: ['new@example.org'], remove: ['old@example.org'] });
      await index.update('org_a', 'p1', { add: ['new@example.org'], remove: ['old@example.org'] });
      expect(await index.find('org_a', 'old@example.org')).toEqual([]);
      expect(await index.find('org_a', 'new@example.org')).toEqual(['p1']);
    });
  });
}
