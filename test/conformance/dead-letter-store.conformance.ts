import { randomUUID } from 'node:crypto';
import type { DeadLetterStore } from '../../src/admin/dead-letter-store';
import type { DeadLetter } from '../../src/core/records';

export interface DeadLetterStoreFixture {
  store: DeadLetterStore;
  openAnother: () => Promise<DeadLetterStore>;
  cleanup: () => Promise<void>;
}

function letter(orgId: string | null, at: number, code = 'SALESFORCE_REJECTED'): DeadLetter {
  return {
    id: `dl_${randomUUID()}`,
    orgId,
    sourceTopic: 't.salesforce.writes',
    sourcePartition: 0,
    sourceOffset: String(at),
    originalKey: `${orgId}/p${at}`,
    originalValue: Buffer.from([0, 1, 2, 255, at % 256]),
    recordType: 'SalesforceWrite',
    errorCode: code,
    upstreamCode: 'INVALID_EMAIL_ADDRESS',
    message: `bad ${at}`,
    attempts: 1,
    firstFailedAt: at,
    lastFailedAt: at,
    context: { field: 'Email' },
  };
}

/** The contract every DeadLetterStore adapter keeps. */
export function describeDeadLetterStoreConformance(
  name: string,
  factory: () => Promise<DeadLetterStoreFixture>,
): void {
  describe(`DeadLetterStore conformance: ${name}`, () => {
    let fx: DeadLetterStoreFixture;
    let org: string;

    beforeEach(async () => {
      fx = await factory();
      org = `org_${randomUUID().slice(0, 8)}`;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('keeps letters per org, newest first, bytes exact; pages with offset and limit', async () => {
      const letters = [letter(org, 100), letter(org, 300), letter(org, 200)];
      for (const l of letters) expect(await fx.store.add(l)).toBe(true);
      await fx.store.add(letter(`${org}_other`, 400));
      const page = await fx.store.list(org, { limit: 2 });
      expect(page.total).toBe(3);
      expect(page.items.map((l) => l.lastFailedAt)).toEqual([300, 200]);
      expect(page.nextOffset).toBe(2);
      expect(page.items[0]).toEqual({ ...letters[1], occurrences: 1 });
      expect(page.items[0]!.originalValue.equals(letters[1]!.originalValue)).toBe(true);
      const rest = await fx.store.list(org, { offset: 2, limit: 2 });
      expect(rest.items.map((l) => l.lastFailedAt)).toEqual([100]);
      expect(rest.nextOffset).toBeNull();
      const another = await fx.openAnother();
      expect((await another.list(org)).total).toBe(3);
      expect(await another.get(org, letters[0]!.id)).toEqual({ ...letters[0], occurrences: 1 });
      expect(await fx.store.get(org, 'nope')).toBeNull();
    });

    it('filters by error code', async () => {
      await fx.store.add(letter(org, 1, 'SALESFORCE_REJECTED'));
      const b = letter(org, 2, 'INVALID_INPUT');
      await fx.store.add(b);
      const page = await fx.store.list(org, { code: 'INVALID_INPUT' });
      expect(page.items).toEqual([{ ...b, occurrences: 1 }]);
      expect(page.total).toBe(1);
    });

    it('adding twice keeps one; a removed letter does not come back', async () => {
      const l = letter(org, 5);
      expect(await fx.store.add(l)).toBe(true);
      expect(await fx.store.add(l)).toBe(false);
      expect((await fx.store.list(org)).total).toBe(1);
      expect(await fx.store.remove(org, l.id)).toBe(true);
      expect(await fx.store.remove(org, l.id)).toBe(false);
      expect(await fx.store.add(l)).toBe(false);
      expect((await fx.store.list(org)).total).toBe(0);
      expect((await fx.store.list(org, { code: l.errorCode })).total).toBe(0);
    });

    it('letters with no organization are kept apart', async () => {
      const l = letter(null, 9);
      expect(await fx.store.add(l)).toBe(true);
      expect((await fx.store.list('_none')).items).toEqual([{ ...l, occurrences: 1 }]);
    });

    it('counts later occurrences of a letter (same id) on the one letter, keeping its first failure', async () => {
      const first = letter(org, 10);
      expect(await fx.store.add(first)).toBe(true);
      const again = {
        ...first,
        message: 'bad again',
        lastFailedAt: 20,
        firstFailedAt: 20,
        attempts: 2,
      };
      expect(await fx.store.add(again)).toBe(false);
      // The same occurrence read twice counts once.
      expect(await (await fx.openAnother()).add(again)).toBe(false);
      const third = { ...again, lastFailedAt: 30, firstFailedAt: 30 };
      await fx.store.add(third);
      const page = await fx.store.list(org);
      expect(page.total).toBe(1);
      expect(page.items[0]).toMatchObject({
        id: first.id,
        occurrences: 3,
        firstFailedAt: 10,
        lastFailedAt: 30,
        message: 'bad again',
        attempts: 2,
      });
      // Retried or dismissed: the occurrences before it do not bring it back, a new one does.
      expect(await fx.store.remove(org, first.id)).toBe(true);
      expect(await fx.store.add(third)).toBe(false);
      expect((await fx.store.list(org)).total).toBe(0);
      expect(await fx.store.add({ ...third, lastFailedAt: 40 })).toBe(true);
      expect((await fx.store.get(org, first.id))?.occurrences).toBe(1);
    });
  });
}
