import type { ContactRecord } from '../../src/sandbox/salesforce';
import { to18 } from '../../src/sandbox/salesforce/ids';
import { loadSalesforcePackage } from '../../src/sandbox/salesforce/package-source';
import { ContactSchema } from '../../src/sandbox/salesforce/schema';
import { SoqlError } from '../../src/sandbox/salesforce/soql/errors';
import { compileSoql, runQuery } from '../../src/sandbox/salesforce/soql/evaluate';
import { parseSoql } from '../../src/sandbox/salesforce/soql/parser';

const ROWS: ContactRecord[] = [
  {
    Id: to18('003Dn0000000001')!,
    LastName: 'Alpha',
    FirstName: 'Ann',
    Email: 'ann@x.org',
    InitLive_Hours_Worked__c: 5,
    Birthdate: '1990-05-01',
    CreatedDate: '2026-01-01T10:00:00.000+0000',
    IsDeleted: false,
    Title: null,
  },
  {
    Id: to18('003Dn0000000002')!,
    LastName: 'beta',
    FirstName: 'Bob',
    Email: null,
    InitLive_Hours_Worked__c: 12.5,
    Birthdate: null,
    CreatedDate: '2026-01-02T10:00:00.000+0000',
    IsDeleted: false,
    Title: 'CEO',
  },
  {
    Id: to18('003Dn0000000003')!,
    LastName: 'Gamma_1',
    FirstName: null,
    Email: 'g@x.org',
    InitLive_Hours_Worked__c: null,
    Birthdate: '2000-12-31',
    CreatedDate: '2026-01-03T10:00:00.000+0000',
    IsDeleted: false,
    Title: 'cto',
  },
  {
    Id: to18('003Dn0000000004')!,
    LastName: 'Delta%',
    FirstName: 'Dee',
    Email: 'd@x.org',
    InitLive_Hours_Worked__c: 0,
    Birthdate: '1990-05-01',
    CreatedDate: '2025-12-31T23:59:59.000+0000',
    IsDeleted: false,
    Title: null,
  },
];

const schema = new ContactSchema(loadSalesforcePackage().fields);

function names(soql: string): string[] {
  return runQuery(compileSoql(soql, schema), ROWS).map((r) => String(r.LastName));
}

function rejects(soql: string): SoqlError {
  try {
    compileSoql(soql, schema);
  } catch (err) {
    if (err instanceof SoqlError) return err;
    throw err;
  }
  throw new Error(`accepted: ${soql}`);
}

describe('SOQL parser', () => {
  test('parses the field list, ORDER BY, LIMIT and OFFSET', () => {
    const q = parseSoql(
      'select Id, lastname FROM Contact ORDER BY LastName DESC NULLS FIRST, Email LIMIT 10 OFFSET 5',
    );
    expect(q.fields.map((f) => f.name)).toEqual(['Id', 'lastname']);
    expect(q.orderBy.map((o) => [o.field.name, o.descending, o.nullsLast])).toEqual([
      ['LastName', true, false],
      ['Email', false, false],
    ]);
    expect([q.limit, q.offset, q.count]).toEqual([10, 5, false]);
    expect(parseSoql('SELECT COUNT() FROM Contact').count).toBe(true);
  });

  test('literals: strings with escapes, numbers, booleans, null, dates and datetimes with offsets', () => {
    const q = parseSoql(
      "SELECT Id FROM Contact WHERE LastName = 'O\\'Brien' AND X = -1.5 AND Y = true AND Z = null AND D = 2026-01-02 AND T = 2026-01-01T01:00:00+01:00",
    );
    const items = q.where?.kind === 'and' ? q.where.items : [];
    const values = items.map((c) => (c.kind === 'compare' ? c.value : null));
    expect(values.map((v) => v?.type)).toEqual([
      'string',
      'number',
      'boolean',
      'null',
      'date',
      'datetime',
    ]);
    expect(values[0]).toMatchObject({ value: "O'Brien" });
    expect(values[1]).toMatchObject({ value: -1.5 });
    expect(values[5]).toMatchObject({ value: Date.UTC(2026, 0, 1, 0, 0, 0) });
  });

  test('AND and OR cannot be mixed without parentheses', () => {
    const err = rejects(
      "SELECT Id FROM Contact WHERE LastName = 'a' AND FirstName = 'b' OR Email = 'c'",
    );
    expect(err.errorCode).toBe('MALFORMED_QUERY');
    expect(err.message).toContain('unexpected token: OR');
    expect(err.message).toMatch(/ERROR at Row:1:Column:\d+/);
  });

  test.each([
    ['SELECT Id FROM Contact WHERE', 'unexpected token: <EOF>'],
    ['SELECT Id, Account.Name FROM Contact', 'relationship fields'],
    ['SELECT Id, (SELECT Id FROM Cases) FROM Contact', 'subqueries'],
    ['SELECT Id FROM Contact WHERE CreatedDate = TODAY', 'date literals'],
    ['SELECT Id FROM Contact WHERE CreatedDate > LAST_N_DAYS:3', 'date literals'],
    ['SELECT Id FROM Contact GROUP BY LastName', 'GROUP'],
    ['SELECT COUNT(Id) FROM Contact', 'aggregate'],
    ['SELECT Id FROM Contact WHERE Id IN (SELECT Id FROM Contact)', 'semi-join'],
    ["SELECT Id FROM Contact WHERE LastName = 'unterminated", 'expecting'],
    ['SELECT Id FROM Contact LIMIT -1', 'unexpected token'],
    ['SELECT Id FROM Contact WHERE LastName = :name', 'bind variables'],
    ['SELECT Id, Id FROM Contact', 'duplicate field selected: Id'],
  ])('rejects %s as MALFORMED_QUERY', (soql, text) => {
    const err = rejects(soql);
    expect(err.errorCode).toBe('MALFORMED_QUERY');
    expect(err.message).toContain(text);
  });
});

describe('SOQL binding and evaluation', () => {
  test('unknown fields and objects use Salesforce codes', () => {
    const f = rejects('SELECT Foo FROM Contact');
    expect(f.errorCode).toBe('INVALID_FIELD');
    expect(f.message).toContain("No such column 'Foo' on entity 'Contact'.");
    expect(rejects('SELECT Id FROM Account').errorCode).toBe('INVALID_TYPE');
    expect(rejects("SELECT Id FROM Contact WHERE InitLive_Hours_Worked__c = '5'").errorCode).toBe(
      'INVALID_FIELD',
    );
    expect(rejects('SELECT Id FROM Contact WHERE LastName = 5').message).toContain(
      'must be of type string',
    );
    expect(rejects('SELECT Id FROM Contact WHERE CreatedDate > 2026-01-01').message).toContain(
      'must be of type dateTime',
    );
    expect(rejects("SELECT Id FROM Contact WHERE Description = 'x'").message).toContain(
      'can not be filtered',
    );
    expect(rejects('SELECT Id FROM Contact OFFSET 2001').errorCode).toBe(
      'NUMBER_OUTSIDE_VALID_RANGE',
    );
  });

  test('comparison operators, case-insensitive text and SOQL null semantics', () => {
    expect(names("SELECT Id FROM Contact WHERE LastName = 'BETA'")).toEqual(['beta']);
    expect(names('SELECT Id FROM Contact WHERE InitLive_Hours_Worked__c > 4')).toEqual([
      'Alpha',
      'beta',
    ]);
    expect(names('SELECT Id FROM Contact WHERE InitLive_Hours_Worked__c <= 5')).toEqual([
      'Alpha',
      'Delta%',
    ]);
    expect(
      names(
        'SELECT Id FROM Contact WHERE InitLive_Hours_Worked__c >= 0 AND InitLive_Hours_Worked__c < 5',
      ),
    ).toEqual(['Delta%']);
    // != keeps nulls, unlike SQL.
    expect(names("SELECT Id FROM Contact WHERE Email != 'ann@x.org'")).toEqual([
      'beta',
      'Gamma_1',
      'Delta%',
    ]);
    expect(names("SELECT Id FROM Contact WHERE Email <> 'ann@x.org' AND Email != null")).toEqual([
      'Gamma_1',
      'Delta%',
    ]);
    expect(names('SELECT Id FROM Contact WHERE Title = null')).toEqual(['Alpha', 'Delta%']);
  });

  test('IN, NOT IN, LIKE, NOT and parentheses', () => {
    expect(names("SELECT Id FROM Contact WHERE Title IN ('CTO', 'ceo')")).toEqual([
      'beta',
      'Gamma_1',
    ]);
    expect(names("SELECT Id FROM Contact WHERE Title NOT IN ('CTO')")).toEqual([
      'Alpha',
      'beta',
      'Delta%',
    ]);
    expect(names("SELECT Id FROM Contact WHERE LastName LIKE 'a%'")).toEqual(['Alpha']);
    expect(names("SELECT Id FROM Contact WHERE LastName LIKE '_eta'")).toEqual(['beta']);
    expect(names("SELECT Id FROM Contact WHERE LastName LIKE '%\\_1'")).toEqual(['Gamma_1']);
    expect(names("SELECT Id FROM Contact WHERE LastName LIKE '%\\%'")).toEqual(['Delta%']);
    expect(names("SELECT Id FROM Contact WHERE NOT LastName LIKE '%a%'")).toEqual([]);
    expect(
      names(
        "SELECT Id FROM Contact WHERE (Title = 'CEO' OR Title = 'cto') AND InitLive_Hours_Worked__c > 1",
      ),
    ).toEqual(['beta']);
    expect(names("SELECT Id FROM Contact WHERE NOT (Title = null OR LastName = 'beta')")).toEqual([
      'Gamma_1',
    ]);
    expect(names("SELECT Id FROM Contact WHERE Id = '003Dn0000000002'")).toEqual(['beta']);
    expect(
      names('SELECT Id FROM Contact WHERE IsDeleted = false AND Birthdate = 1990-05-01'),
    ).toEqual(['Alpha', 'Delta%']);
  });

  test('datetime literals compare instants across offsets', () => {
    expect(names('SELECT Id FROM Contact WHERE CreatedDate >= 2026-01-02T10:00:00Z')).toEqual([
      'beta',
      'Gamma_1',
    ]);
    expect(names('SELECT Id FROM Contact WHERE CreatedDate < 2026-01-01T01:00:00+01:00')).toEqual([
      'Delta%',
    ]);
    expect(
      names('SELECT Id FROM Contact WHERE CreatedDate = 2026-01-01T11:00:00.000+01:00'),
    ).toEqual(['Alpha']);
  });

  test('ORDER BY with direction, nulls placement, several keys, LIMIT and OFFSET', () => {
    expect(names('SELECT Id FROM Contact ORDER BY LastName')).toEqual([
      'Alpha',
      'beta',
      'Delta%',
      'Gamma_1',
    ]);
    expect(names('SELECT Id FROM Contact ORDER BY InitLive_Hours_Worked__c')).toEqual([
      'Gamma_1',
      'Delta%',
      'Alpha',
      'beta',
    ]);
    expect(names('SELECT Id FROM Contact ORDER BY InitLive_Hours_Worked__c DESC')).toEqual([
      'beta',
      'Alpha',
      'Delta%',
      'Gamma_1',
    ]);
    expect(
      names('SELECT Id FROM Contact ORDER BY InitLive_Hours_Worked__c ASC NULLS LAST'),
    ).toEqual(['Delta%', 'Alpha', 'beta', 'Gamma_1']);
    expect(
      names('SELECT Id FROM Contact ORDER BY Birthdate DESC NULLS FIRST, LastName DESC'),
    ).toEqual(['beta', 'Gamma_1', 'Delta%', 'Alpha']);
    expect(names('SELECT Id FROM Contact ORDER BY LastName LIMIT 2 OFFSET 1')).toEqual([
      'beta',
      'Delta%',
    ]);
    expect(names('SELECT Id FROM Contact LIMIT 0')).toEqual([]);
  });
});
