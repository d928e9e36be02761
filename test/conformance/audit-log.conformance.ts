import type { AuditEntry, AuditLog } from '../../src/admin/audit-log';

export interface AuditLogFixture {
  log: AuditLog;
  /** A new handle on the same entries, as after a restart. */
  reopen: () => Promise<AuditLog>;
  cleanup: () => Promise<void>;
}

/** The contract every AuditLog adapter keeps. */
export function describeAuditLogConformance(
  name: string,
  factory: (options: { maxEntries: number }) => Promise<AuditLogFixture>,
): void {
  describe(`AuditLog conformance: ${name}`, () => {
    let fx: AuditLogFixture;

    afterEach(async () => {
      await fx.cleanup();
    });

    const entry = (orgId: string, i: number): Omit<AuditEntry, 'id'> => ({
      at: 1_000 + i,
      orgId,
      action: i % 2 === 0 ? 'settings.changed' : 'sync.requested',
      actor: { kind: 'org', name: 'ops', tokenId: 'abcdef0123456789' },
      status: 200,
      outcome: 'succeeded',
      requestId: `req-${i}`,
      ...(i % 2 === 0
        ? { changes: [{ field: 'direction', before: 'initlive_to_salesforce', after: 'two_way' }] }
        : {}),
    });

    it('lists an organization entries newest first, pages on with before, and keeps them across a restart', async () => {
      fx = await factory({ maxEntries: 1_000 });
      for (let i = 0; i < 5; i++) await fx.log.append(entry('org_a', i));
      await fx.log.append(entry('org_b', 99));

      const reopened = await fx.reopen();
      const first = await reopened.list('org_a', { limit: 2 });
      expect(first.map((e) => e.requestId)).toEqual(['req-4', 'req-3']);
      expect(first[0]).toMatchObject({
        ...entry('org_a', 4),
        id: expect.stringMatching(/^\d+-\d+$/),
      });
      const second = await reopened.list('org_a', { limit: 2, before: first[1]!.id });
      expect(second.map((e) => e.requestId)).toEqual(['req-2', 'req-1']);
      const last = await reopened.list('org_a', { limit: 2, before: second[1]!.id });
      expect(last.map((e) => e.requestId)).toEqual(['req-0']);
      expect((await reopened.list('org_b', { limit: 10 })).map((e) => e.requestId)).toEqual([
        'req-99',
      ]);
      expect(await reopened.list('org_none', { limit: 10 })).toEqual([]);
    });

    it('keeps about the newest maxEntries per organization', async () => {
      fx = await factory({ maxEntries: 100 });
      for (let i = 0; i < 400; i++) await fx.log.append(entry('org_a', i));
      const kept = await fx.log.list('org_a', { limit: 500 });
      // Redis trims streams approximately (MAXLEN ~): whole nodes of up to 100 entries.
      expect(kept.length).toBeGreaterThanOrEqual(100);
      expect(kept.length).toBeLessThanOrEqual(200);
      expect(kept[0]?.requestId).toBe('req-399');
    });
  });
}
