import { performance } from 'node:perf_hooks';
import { EventEmitter } from 'node:events';
import type { Connection } from 'jsforce';
import { resolveMapping } from '../../src/core/mapping';
import type { DescribedField } from '../../src/core/mapping-check';
import { defaultSyncSettings } from '../../src/core/settings';
import type { SyncSettings } from '../../src/core/settings';
import { SyncError } from '../../src/errors';
import { ContactFieldBook } from '../../src/orgs/contact-fields';
import type { OrgChange } from '../../src/orgs/managed-org-directory';
import type { OrgRuntime } from '../../src/orgs/org-directory';
import { SyncEvents } from '../../src/pipeline/events';
import type { ContactFieldWatch } from '../../src/pipeline/field-watch';
import { fastRetryPolicy } from '../../src/retry';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { SalesforceSink } from '../../src/sink/salesforce-sink';
import { fieldRefusal, withoutHeld } from '../../src/sink/salesforce/field-drift';
import { silentLogger } from '../../src/logger';
import { collect } from '../fixtures/pipeline-deps';
import {
  ORG_ID,
  contactsByStaffId,
  groupLag,
  memoryPipeline,
  orgRuntime,
  produceWrites,
  sandboxConnection,
  upsertWrite,
  waitUntil,
} from './sink-salesforce-fixture';
import type { MemoryPipeline } from './sink-salesforce-fixture';

const field = (name: string, over: Partial<DescribedField> = {}): DescribedField => ({
  name,
  type: 'string',
  length: 255,
  scale: 0,
  createable: true,
  updateable: true,
  externalId: false,
  unique: false,
  picklistValues: [],
  ...over,
});

const STANDARD = [
  'FirstName',
  'LastName',
  'Email',
  'Phone',
  'MobilePhone',
  'MailingStreet',
  'MailingCity',
  'MailingState',
  'MailingPostalCode',
  'MailingCountry',
]
  .map((n) => field(n, n === 'MailingStreet' ? { type: 'textarea' } : {}))
  .concat(field('Birthdate', { type: 'date' }));

describe('field drift in the Salesforce sink (helpers)', () => {
  test('held fields leave a body; nothing held leaves it as it is', () => {
    const body = { LastName: 'Lee', T_Shirt_Size__c: 'M' };
    expect(withoutHeld(body, null)).toBe(body);
    expect(withoutHeld(body, new Set(['t_shirt_size__c']))).toEqual({ LastName: 'Lee' });
    expect(body).toEqual({ LastName: 'Lee', T_Shirt_Size__c: 'M' });
  });

  test('a refusal names its field, whether Salesforce answers for the call, an item or a Bulk job', () => {
    const request = new SyncError(
      'SALESFORCE_REJECTED',
      "No such column 'T_Shirt_Size__c' on sobject of type Contact",
      { context: { upstreamCode: 'INVALID_FIELD' } },
    );
    expect(fieldRefusal(request)).toEqual({ fields: ['T_Shirt_Size__c'] });
    const item = new SyncError('SALESFORCE_REJECTED', 'Unable to create/update fields', {
      context: { upstreamCode: 'INVALID_FIELD_FOR_INSERT_UPDATE' },
    });
    expect(
      fieldRefusal(item, [
        { statusCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', message: 'x', fields: ['Size__c'] },
      ]),
    ).toEqual({ fields: ['Size__c'] });
    const bulk = new SyncError(
      'SALESFORCE_REJECTED',
      'InvalidBatch : Field name not found : Size__c',
      {
        context: { upstreamCode: 'INVALID_FIELD' },
      },
    );
    expect(fieldRefusal(bulk)).toEqual({ fields: ['Size__c'] });
    const other = new SyncError('SALESFORCE_REJECTED', 'bad email', {
      context: { upstreamCode: 'INVALID_EMAIL_ADDRESS' },
    });
    expect(fieldRefusal(other)).toBeNull();
  });
});

/** The directory part the book uses, for one org with these settings. */
class FakeDirectory extends EventEmitter<{ changed: [string, OrgChange] }> {
  holds: string[][] = [];
  constructor(
    public settings: SyncSettings,
    private readonly conn: object | null = {},
  ) {
    super();
  }
  get(): OrgRuntime | undefined {
    return { salesforce: this.conn } as unknown as OrgRuntime;
  }
  syncSettings(): SyncSettings {
    return this.settings;
  }
  holdFields(_orgId: string, fields: readonly string[]): void {
    this.holds.push([...fields]);
  }
}

describe('ContactFieldBook', () => {
  const tshirt = {
    field: 'customAnswers.tshirt_size' as const,
    salesforceField: 'T_Shirt_Size__c',
    direction: 'both' as const,
    type: 'text' as const,
  };
  let described: DescribedField[];
  let describes: number;
  let dir: FakeDirectory;
  let events: SyncEvents;
  let restored: string[][];
  let book: ContactFieldBook;

  beforeEach(() => {
    described = [...STANDARD, field('T_Shirt_Size__c', { length: 10 })];
    describes = 0;
    dir = new FakeDirectory({ ...defaultSyncSettings, fieldMapping: [tshirt] });
    events = new SyncEvents();
    restored = [];
    book = new ContactFieldBook({
      directory: dir,
      events,
      logger: silentLogger,
      describe: async () => {
        describes++;
        return described;
      },
      noticeIntervalMs: 60_000,
      recheckHeldMs: 60_000,
      onRestored: (_orgId, fields) => restored.push(fields),
    });
    book.start();
  });
  afterEach(() => book.stop());

  test('a mapped field that disappears is held and reported; when it is back it is released', async () => {
    const reports: unknown[] = [];
    events.on('mapping.problems', (e) => reports.push(e));
    await book.recheck(ORG_ID, 'test');
    expect(book.problems(ORG_ID)).toEqual([]);
    expect(book.held(ORG_ID)).toBeNull();

    described = STANDARD;
    expect([...(await book.recheck(ORG_ID, 'test'))]).toEqual(['t_shirt_size__c']);
    expect(book.problems(ORG_ID)).toEqual([
      expect.objectContaining({ salesforceField: 'T_Shirt_Size__c', reason: 'missing' }),
    ]);
    expect(dir.holds).toEqual([['t_shirt_size__c']]);
    // The package's fields are the package_missing pause's, not drift.
    expect(book.problems(ORG_ID).map((p) => p.salesforceField)).not.toContain('InitLive_Tags__c');

    described = [...STANDARD, field('T_Shirt_Size__c', { length: 10 })];
    await book.recheck(ORG_ID, 'test');
    expect(book.held(ORG_ID)).toBeNull();
    expect(dir.holds).toEqual([['t_shirt_size__c'], []]);
    expect(restored).toEqual([['t_shirt_size__c']]);
    expect(reports).toEqual([
      { orgId: ORG_ID, problems: [{ salesforceField: 'T_Shirt_Size__c', reason: 'missing' }] },
      { orgId: ORG_ID, problems: [] },
    ]);
  });

  test('a type that no longer holds the answer, or a field turned read-only, is held too', async () => {
    described = [...STANDARD, field('T_Shirt_Size__c', { type: 'date' })];
    await book.recheck(ORG_ID, 'test');
    expect(book.problems(ORG_ID)[0]).toMatchObject({ reason: 'type_mismatch' });
    described = [...STANDARD, field('T_Shirt_Size__c', { updateable: false })];
    await book.recheck(ORG_ID, 'test');
    expect(book.problems(ORG_ID)[0]).toMatchObject({ reason: 'not_updateable' });
  });

  test('rechecks share a describe made since the failure they follow, and change events are throttled', async () => {
    // Nothing seen of the org yet: its change events are not looked at.
    expect(book.watching(ORG_ID)).toBe(false);
    const before = performance.now();
    await book.recheck(ORG_ID, 'first');
    await Promise.all([book.recheck(ORG_ID, 'a', before), book.recheck(ORG_ID, 'b', before)]);
    expect(describes).toBe(1);
    // It maps a form answer: its events are.
    expect(book.watching(ORG_ID)).toBe(true);
    book.noticeFields(ORG_ID, ['LastName', 'T_Shirt_Size__c']);
    await new Promise((r) => setImmediate(r));
    const after = describes;
    book.noticeFields(ORG_ID, ['Unknown__c']);
    book.noticeFields(ORG_ID, ['Unknown__c']);
    await new Promise((r) => setImmediate(r));
    // Known fields lead to nothing; an unknown one to one describe, not one per event.
    expect(describes).toBe(after + 1);
  });

  test('removing the mapping entry clears the problem without calling it a return', async () => {
    described = STANDARD;
    await book.recheck(ORG_ID, 'test');
    expect(book.held(ORG_ID)).not.toBeNull();
    dir.settings = { ...defaultSyncSettings, fieldMapping: [] };
    dir.emit('changed', ORG_ID, { state: 'connected', kind: 'settings', reason: null });
    await new Promise((r) => setTimeout(r, 10));
    expect(book.problems(ORG_ID)).toEqual([]);
    expect(restored).toEqual([]);
    expect(resolveMapping(dir.settings.fieldMapping).map((m) => m.salesforceField)).not.toContain(
      'T_Shirt_Size__c',
    );
  });
});

describe('the Salesforce sink writes on without a field the org lost', () => {
  let sb: SalesforceSandbox;
  let conn: Connection;
  let p: MemoryPipeline;
  let sink: SalesforceSink | undefined;

  /** Holds Size__c once a recheck finds it gone from Contact; counts the rechecks. */
  class SandboxWatch implements ContactFieldWatch {
    heldSet = new Set<string>();
    rechecks = 0;
    held(): ReadonlySet<string> | null {
      return this.heldSet.size > 0 ? this.heldSet : null;
    }
    async recheck(): Promise<ReadonlySet<string>> {
      this.rechecks++;
      const names = (await conn.describe('Contact')).fields.map((f) => f.name.toLowerCase());
      if (!names.includes('size__c')) this.heldSet.add('size__c');
      return this.heldSet;
    }
    watching(): boolean {
      return false;
    }
    noticeFields(): void {}
  }

  const writes = (n: number, size: string) =>
    Array.from({ length: n }, (_, i) => {
      const w = upsertWrite(i);
      return { ...w, fields: { ...w.fields, Size__c: size } };
    });

  async function run(
    n: number,
    options: { bulkThreshold?: number } = {},
    size = 'M',
  ): Promise<SandboxWatch> {
    const watch = new SandboxWatch();
    p.deps.fields = watch;
    sink = new SalesforceSink(p.deps, {
      lingerMs: 20,
      bulkLingerMs: 100,
      bulkPollMs: 10,
      retryPolicy: fastRetryPolicy,
      ...options,
    });
    await produceWrites(p.deps, writes(n, size));
    await sink.start();
    await waitUntil(
      'offsets committed',
      async () => (await groupLag(p.memory, sink!.groupId, p.deps.topics.salesforceWrites)) === 0,
      30_000,
    );
    return watch;
  }

  beforeEach(async () => {
    sb = await startSalesforceSandbox({ streaming: false, bulkPollDelayMs: 5 });
    conn = await sandboxConnection(sb);
    p = await memoryPipeline([orgRuntime(conn)], 1);
  });
  afterEach(async () => {
    await sink?.stop();
    sink = undefined;
    await p?.memory.close();
    await sb.close();
  });

  test.each([
    ['collection calls', 30, {}],
    ['a Bulk job', 1_200, { bulkThreshold: 1_000 }],
  ])(
    'through %s: every write lands without it, nothing is dead-lettered',
    async (_how, n, options) => {
      let failed = 0;
      p.deps.events.on('sink.failed', (e) => (failed += e.count));
      const watch = await run(n, options);
      const byStaff = contactsByStaffId(sb);
      expect(byStaff.size).toBe(n);
      // Outcomes are recorded before offsets are committed: none failed.
      expect(failed).toBe(0);
      // One recheck for the refused call; every later body leaves the field out from the start.
      expect(watch.rechecks).toBe(1);
    },
  );

  test('a refused field the recheck does not hold fails as before, once', async () => {
    sb.control.createContactField('Size__c', { type: 'Text', length: 1, label: 'Size' });
    const deadLetters = await collect(p.deps, 'deadLetters');
    // Size__c exists but holds one character: STRING_TOO_LONG, not drift.
    const watch = await run(3, {}, 'XL');
    await deadLetters.until(3);
    expect(deadLetters.records.map((d) => [d.errorCode, d.upstreamCode])).toEqual([
      ['SALESFORCE_REJECTED', 'STRING_TOO_LONG'],
      ['SALESFORCE_REJECTED', 'STRING_TOO_LONG'],
      ['SALESFORCE_REJECTED', 'STRING_TOO_LONG'],
    ]);
    // Not a field refusal: no recheck at all.
    expect(watch.rechecks).toBe(0);
    await deadLetters.stop();
  });
});
