import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'jsforce';
import type { ContactWriteEvent, SalesforceSandbox } from '../../src/sandbox/salesforce';
import { caught, connect, staff, startSandbox } from './sandbox-salesforce-helpers';

interface SaveResult {
  id?: string;
  success: boolean;
  created?: boolean;
  errors: { statusCode: string; message: string; fields: string[] }[];
}

describe('Salesforce sandbox REST (through jsforce)', () => {
  let sb: SalesforceSandbox;
  let conn: Connection;
  let events: ContactWriteEvent[][];

  beforeEach(async () => {
    sb = await startSandbox();
    conn = await connect(sb);
    events = [];
    sb.control.onWrite((batch) => events.push(batch));
  });
  afterEach(async () => {
    await sb.close();
  });

  const contacts = () => conn.sobject('Contact');

  test('create, retrieve, update, delete, queryAll and undelete', async () => {
    const created = (await contacts().create({
      FirstName: 'Ada',
      LastName: 'Lovelace',
      Birthdate: '1815-12-10',
    })) as SaveResult;
    expect(created).toEqual({
      id: expect.stringMatching(/^003[A-Za-z0-9]{15}$/),
      success: true,
      errors: [],
    });
    const id = created.id!;
    const got = await contacts().retrieve(id);
    expect(got.attributes).toEqual({
      type: 'Contact',
      url: `/services/data/v62.0/sobjects/Contact/${id}`,
    });
    expect(got).toMatchObject({
      Id: id,
      Name: 'Ada Lovelace',
      Birthdate: '1815-12-10',
      IsDeleted: false,
      OwnerId: sb.userId,
    });
    expect(String(got.CreatedDate)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$/);

    await contacts().update({ Id: id, Title: 'Countess' });
    expect((await contacts().retrieve(id)).Title).toBe('Countess');

    await contacts().destroy(id);
    expect((await caught(() => contacts().retrieve(id))).errorCode).toBe('ENTITY_IS_DELETED');
    expect((await conn.query('SELECT Id FROM Contact')).totalSize).toBe(0);
    const all = await conn.query(`SELECT Id, IsDeleted FROM Contact WHERE Id = '${id}'`, {
      scanAll: true,
    });
    expect(all.records).toEqual([expect.objectContaining({ Id: id, IsDeleted: true })]);

    sb.control.undeleteContact(id);
    expect((await contacts().retrieve(id)).IsDeleted).toBe(false);
    expect(events.map((b) => b.map((e) => `${e.changeType}:${e.api}:${e.client ?? ''}`))).toEqual([
      ['CREATE:rest:InitLiveSync'],
      ['UPDATE:rest:InitLiveSync'],
      ['DELETE:rest:InitLiveSync'],
      ['UNDELETE:ui:'],
    ]);
    expect(events[1]![0]!.changedFields).toEqual(['Title', 'LastModifiedDate']);
  });

  test('upsert of one record by external id: 201 created, then 200 created:false', async () => {
    const first = (await contacts().upsert(staff(1), 'InitLive_Staff_Id__c')) as SaveResult;
    expect(first).toMatchObject({ success: true, created: true });
    const second = (await contacts().upsert(
      staff(1, { LastName: 'Renamed' }),
      'InitLive_Staff_Id__c',
    )) as SaveResult;
    expect(second).toEqual({ id: first.id, success: true, errors: [], created: false });
    // Unique external ids are case-insensitive, like Salesforce's default.
    const third = (await contacts().upsert(
      { InitLive_Staff_Id__c: 's-00001', LastName: 'Lower' },
      'InitLive_Staff_Id__c',
    )) as SaveResult;
    expect(third.id).toBe(first.id);
    expect(sb.control.listContacts()).toHaveLength(1);
    const notExternal = await caught(() =>
      contacts().upsert({ Email: 'a@b.co', LastName: 'X' }, 'Email'),
    );
    expect(notExternal.errorCode).toBe('NOT_FOUND');
  });

  test('validation errors come back in Salesforce shape', async () => {
    const missing = await caught(() => contacts().create({ FirstName: 'No last name' }));
    expect(missing).toMatchObject({
      errorCode: 'REQUIRED_FIELD_MISSING',
      message: 'Required fields are missing: [LastName]',
    });
    expect((missing.data as { fields: string[] }).fields).toEqual(['LastName']);

    const tooLong = await caught(() => contacts().create({ LastName: 'x'.repeat(81) }));
    expect(tooLong.errorCode).toBe('STRING_TOO_LONG');
    expect(tooLong.message).toContain('(max length=80)');

    const email = await caught(() => contacts().create({ LastName: 'E', Email: 'not-an-email' }));
    expect(email).toMatchObject({
      errorCode: 'INVALID_EMAIL_ADDRESS',
      message: 'Email: invalid email address: not-an-email',
    });

    const picklist = await caught(() =>
      contacts().create({ LastName: 'P', InitLive_Status__c: 'paused' }),
    );
    expect(picklist.errorCode).toBe('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');

    const unknown = await caught(() => contacts().create({ LastName: 'U', Foo__c: 1 }));
    expect(unknown).toMatchObject({
      errorCode: 'INVALID_FIELD',
      message: "No such column 'Foo__c' on sobject of type Contact",
    });

    const readOnly = await caught(() => contacts().create({ LastName: 'R', Name: 'Full Name' }));
    expect(readOnly.errorCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');

    const badNumber = await caught(() =>
      contacts().create({ LastName: 'N', InitLive_Hours_Worked__c: 'lots' }),
    );
    expect(badNumber.errorCode).toBe('JSON_PARSER_ERROR');
    const badJson = await caught(() =>
      conn.request({
        method: 'POST',
        url: '/sobjects/Contact',
        body: '{"LastName": ',
        headers: { 'content-type': 'application/json' },
      }),
    );
    expect(badJson.errorCode).toBe('JSON_PARSER_ERROR');

    const { id } = (await contacts().create(staff(7))) as SaveResult;
    const dup = await caught(() => contacts().create(staff(7, { Email: 'other@example.org' })));
    expect(dup).toMatchObject({
      errorCode: 'DUPLICATE_VALUE',
      message: `duplicate value found: InitLive_Staff_Id__c duplicates value on record with id: ${id!}`,
    });

    expect((await caught(() => contacts().retrieve('001Dn000001a2b3'))).errorCode).toBe(
      'MALFORMED_ID',
    );
    const missingId = id!.slice(0, 9) + 'zzzzzz';
    expect((await caught(() => contacts().retrieve(missingId))).errorCode).toBe('NOT_FOUND');
    expect((await caught(() => contacts().update({ Id: missingId, Title: 'x' }))).errorCode).toBe(
      'NOT_FOUND',
    );
    expect(sb.control.listContacts()).toHaveLength(1);
  });

  test('collections: per-item statusCode errors, processed in order, one transaction', async () => {
    const results = (await contacts().create([
      staff(1),
      { FirstName: 'bad' },
      staff(2),
    ])) as SaveResult[];
    expect(results.map((r) => r.success)).toEqual([true, false, true]);
    expect(results[1]!.errors).toEqual([
      {
        statusCode: 'REQUIRED_FIELD_MISSING',
        message: 'Required fields are missing: [LastName]',
        fields: ['LastName'],
      },
    ]);
    expect(events).toHaveLength(1);
    expect(events[0]!.map((e) => e.sequenceNumber)).toEqual([1, 2]);
    expect(new Set(events[0]!.map((e) => e.transactionKey)).size).toBe(1);
  });

  test('allOrNone rolls everything back', async () => {
    await contacts().create(staff(1));
    events = [];
    const results = (await contacts().upsert(
      [staff(1, { Title: 'changed' }), staff(2, { Email: 'broken' }), staff(3)],
      'InitLive_Staff_Id__c',
      { allOrNone: true },
    )) as SaveResult[];
    expect(results.map((r) => r.errors[0]?.statusCode)).toEqual([
      'ALL_OR_NONE_OPERATION_ROLLED_BACK',
      'INVALID_EMAIL_ADDRESS',
      'ALL_OR_NONE_OPERATION_ROLLED_BACK',
    ]);
    expect(sb.control.listContacts()).toEqual([
      expect.objectContaining({ InitLive_Staff_Id__c: 'S-00001', Title: null }),
    ]);
    expect(events).toHaveLength(0);
  });

  test('more than 200 records in one collection call is refused', async () => {
    const records = Array.from({ length: 201 }, (_, i) => staff(i));
    const err = await caught(() => contacts().upsert(records, 'InitLive_Staff_Id__c'));
    expect(err.errorCode).toBe('EXCEEDED_ID_LIMIT');
    expect(sb.control.listContacts()).toHaveLength(0);
  });

  test('upserting 1,000 contacts with allowRecursive costs exactly 5 API calls', async () => {
    // limits() is itself counted before its body is built, so Max - Remaining equals the usage
    // header of the same response.
    const before = await conn.limits();
    const usedBefore = conn.limitInfo.apiUsage!.used;
    expect(before.DailyApiRequests!.Max - before.DailyApiRequests!.Remaining).toBe(usedBefore);

    const records = Array.from({ length: 1000 }, (_, i) => staff(i));
    const results = (await contacts().upsert(records, 'InitLive_Staff_Id__c', {
      allowRecursive: true,
    })) as SaveResult[];
    expect(results.filter((r) => r.success && r.created)).toHaveLength(1000);
    // The usage header of the fifth upsert response: five calls more.
    expect(conn.limitInfo.apiUsage!.used).toBe(usedBefore + 5);

    const after = await conn.limits();
    // Remaining dropped by the 5 upserts plus this second limits() call.
    expect(before.DailyApiRequests!.Remaining - after.DailyApiRequests!.Remaining).toBe(5 + 1);
    expect(sb.control.counters().endpoints['PATCH /composite/sobjects/:sobject/:field']).toBe(5);
    expect(events).toHaveLength(5);
    expect(
      events.every((b) => b.length === 200 && b.every((e) => e.client === 'InitLiveSync')),
    ).toBe(true);
  });

  test('package uninstalled: its fields are INVALID_FIELD everywhere', async () => {
    sb.control.uninstallPackage();
    const upsert = await caught(() => contacts().upsert([staff(1)], 'InitLive_Staff_Id__c'));
    expect(upsert.errorCode).toBe('INVALID_FIELD');
    const create = await caught(() => contacts().create({ LastName: 'X', InitLive_Tags__c: 'a' }));
    expect(create).toMatchObject({
      errorCode: 'INVALID_FIELD',
      message: "No such column 'InitLive_Tags__c' on sobject of type Contact",
    });
    const query = await caught(() => conn.query('SELECT Id, InitLive_Staff_Id__c FROM Contact'));
    expect(query.errorCode).toBe('INVALID_FIELD');
    expect(query.message).toContain("No such column 'InitLive_Staff_Id__c' on entity 'Contact'");
    const described = await conn.sobject('Contact').describe();
    expect(described.fields.map((f) => f.name)).not.toContain('InitLive_Staff_Id__c');

    sb.control.installPackage();
    const described2 = await conn.sobject('Contact').describe();
    const ext = described2.fields.find((f) => f.name === 'InitLive_Staff_Id__c');
    expect(ext).toMatchObject({ externalId: true, unique: true, length: 64, custom: true });
    expect(
      described2.fields
        .find((f) => f.name === 'InitLive_Status__c')
        ?.picklistValues?.map((p) => p.value),
    ).toEqual(['active', 'archived', 'deleted']);
    expect(await contacts().upsert([staff(1)], 'InitLive_Staff_Id__c')).toEqual([
      expect.objectContaining({ success: true }),
    ]);
  });

  test('REQUEST_LIMIT_EXCEEDED once the daily allocation is used up', async () => {
    sb.control.exhaustApiLimit();
    const err = await caught(() => conn.query('SELECT Id FROM Contact'));
    expect(err).toMatchObject({
      errorCode: 'REQUEST_LIMIT_EXCEEDED',
      message: 'TotalRequests Limit exceeded.',
    });
    sb.control.setApiDailyMax(sb.control.counters().apiCallsUsed + 1);
    expect((await conn.query('SELECT COUNT() FROM Contact')).totalSize).toBe(0);
    expect((await caught(() => conn.query('SELECT Id FROM Contact'))).errorCode).toBe(
      'REQUEST_LIMIT_EXCEEDED',
    );
  });

  test('503 injection fails the next N calls without counting them', async () => {
    const used = sb.control.counters().apiCallsUsed;
    sb.control.failNext(2);
    for (let i = 0; i < 2; i++) {
      const err = await caught(() => contacts().create({ LastName: 'X' }));
      expect(err).toMatchObject({ errorCode: 'SERVER_UNAVAILABLE' });
    }
    await contacts().create({ LastName: 'X' });
    expect(sb.control.counters().apiCallsUsed).toBe(used + 1);
    expect(sb.control.listContacts()).toHaveLength(1);
  });

  test('write events carry before/after, changed fields and the user', async () => {
    const { id } = (await contacts().create({
      LastName: 'Doe',
      FirstName: 'Jo',
      MailingCity: 'Oslo',
    })) as SaveResult;
    await contacts().update({ Id: id!, FirstName: 'Joanne', MailingCity: null });
    const [create, update] = events.map((b) => b[0]!);
    expect(create).toMatchObject({
      changeType: 'CREATE',
      recordId: id,
      before: null,
      userId: sb.userId,
      apiVersion: '62.0',
    });
    expect(create!.changedFields).toEqual(
      expect.arrayContaining(['LastName', 'FirstName', 'MailingCity', 'OwnerId']),
    );
    expect(update!.changedFields).toEqual(['FirstName', 'MailingCity', 'LastModifiedDate']);
    expect(update!.before).toMatchObject({ FirstName: 'Jo', MailingCity: 'Oslo' });
    expect(update!.after).toMatchObject({
      FirstName: 'Joanne',
      MailingCity: null,
      Name: 'Joanne Doe',
    });
    expect(update!.transactionKey).not.toBe(create!.transactionKey);
  });

  test('composite: collections as subrequests in order, one API call; Salesforce limits refused', async () => {
    const v = '/services/data/v62.0';
    const records = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        attributes: { type: 'Contact' },
        ...staff(from + i),
      }));
    sb.control.resetApiUsage();
    const answer = await conn.requestPost<{
      compositeResponse: { body: SaveResult[]; httpStatusCode: number; referenceId: string }[];
    }>('/composite', {
      allOrNone: false,
      compositeRequest: [
        {
          method: 'POST',
          url: `${v}/composite/sobjects`,
          referenceId: 'first',
          body: { allOrNone: false, records: records(0, 200) },
        },
        {
          method: 'POST',
          url: `${v}/composite/sobjects`,
          referenceId: 'second',
          body: {
            allOrNone: false,
            records: [{ attributes: { type: 'Contact' }, FirstName: 'x' }],
          },
        },
        { method: 'GET', url: `${v}/sobjects/Contact/003000000000000AAA`, referenceId: 'missing' },
      ],
    });
    expect(answer.compositeResponse.map((r) => [r.referenceId, r.httpStatusCode])).toEqual([
      ['first', 200],
      ['second', 200],
      ['missing', 404],
    ]);
    expect(answer.compositeResponse[0]!.body.every((r) => r.success)).toBe(true);
    expect(answer.compositeResponse[1]!.body[0]!.errors[0]!.statusCode).toBe(
      'REQUIRED_FIELD_MISSING',
    );
    expect(sb.control.counters().apiCallsUsed).toBe(1);
    expect(sb.control.counters().endpoints).toEqual({ 'POST /composite': 1 });
    expect(sb.control.listContacts()).toHaveLength(200);

    const collection = (i: number) => ({
      method: 'POST',
      url: `${v}/composite/sobjects`,
      referenceId: `c${i}`,
      body: { allOrNone: false, records: records(1_000 + i, 1) },
    });
    const six = await caught(() =>
      conn.requestPost('/composite', {
        compositeRequest: Array.from({ length: 6 }, (_, i) => collection(i)),
      }),
    );
    expect(six.errorCode).toBe('INVALID_API_INPUT');
    const many = await caught(() =>
      conn.requestPost('/composite', {
        compositeRequest: Array.from({ length: 26 }, (_, i) => ({
          method: 'GET',
          url: `${v}/limits`,
          referenceId: `l${i}`,
        })),
      }),
    );
    expect(many.errorCode).toBe('INVALID_API_INPUT');
    // Not modelled, so refused rather than run with a different meaning.
    const allOrNone = await caught(() =>
      conn.requestPost('/composite', { allOrNone: true, compositeRequest: [collection(0)] }),
    );
    expect(allOrNone.errorCode).toBe('INVALID_API_INPUT');
    const reference = await caught(() =>
      conn.requestPost('/composite', {
        compositeRequest: [
          { method: 'GET', url: `${v}/sobjects/Contact/@{c0.id}`, referenceId: 'r' },
        ],
      }),
    );
    expect(reference.errorCode).toBe('INVALID_API_INPUT');
    expect(sb.control.listContacts()).toHaveLength(200);

    sb.control.exhaustApiLimit();
    const exhausted = await caught(() =>
      conn.requestPost('/composite', { compositeRequest: [collection(0)] }),
    );
    expect(exhausted.errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
    expect(sb.control.listContacts()).toHaveLength(200);
  });

  test('unsupported or malformed SOQL is MALFORMED_QUERY, never a wrong answer', async () => {
    const grouped = await caught(() =>
      conn.query('SELECT LastName FROM Contact GROUP BY LastName'),
    );
    expect(grouped.errorCode).toBe('MALFORMED_QUERY');
    const mixed = await caught(() =>
      conn.query("SELECT Id FROM Contact WHERE LastName = 'a' AND Title = 'b' OR Email = 'c'"),
    );
    expect(mixed.errorCode).toBe('MALFORMED_QUERY');
    expect((await caught(() => conn.query('SELECT Id FROM Account'))).errorCode).toBe(
      'INVALID_TYPE',
    );
  });
});

describe('Salesforce sandbox state file', () => {
  test('data and grants survive a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-sandbox-'));
    try {
      const stateFile = join(dir, 'org.json');
      const first = await startSandbox({ stateFile });
      const conn = await connect(first);
      const { id } = (await conn
        .sobject('Contact')
        .create({ LastName: 'Persisted' })) as SaveResult;
      const refreshToken = conn.refreshToken!;
      await first.close();

      const second = await startSandbox({ stateFile });
      try {
        expect(second.orgId).toBe(first.orgId);
        expect(second.control.getContact(id!)).toMatchObject({ LastName: 'Persisted' });
        const { Connection: Conn } = await import('jsforce');
        const again = new Conn({
          instanceUrl: second.instanceUrl,
          refreshToken,
          oauth2: {
            clientId: second.clientId,
            clientSecret: second.clientSecret,
            loginUrl: second.loginUrl,
          },
          version: '62.0',
        });
        const created = (await again
          .sobject('Contact')
          .create({ LastName: 'Second' })) as SaveResult;
        expect(created.id).not.toBe(id);
        expect(second.control.listContacts()).toHaveLength(2);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
