import type { Condition, FieldRef, Literal, SoqlQuery } from './ast';
import { SoqlError, pointAt } from './errors';
import { LITERAL_PERCENT, LITERAL_UNDERSCORE } from './lexer';
import { parseSoql } from './parser';
import { parseDateTime } from '../dates';
import { to18 } from '../ids';
import type { ContactRecord } from '../model';
import { isTextType } from '../schema';
import type { FieldDef } from '../schema';

type Value = string | number | boolean | null;
type Predicate = (r: ContactRecord) => boolean;

/** A query checked against the schema, ready to run against rows. */
export interface CompiledQuery {
  count: boolean;
  fields: FieldDef[];
  filter: Predicate;
  compare: ((a: ContactRecord, b: ContactRecord) => number) | null;
  limit: number | null;
  offset: number;
}

/** Salesforce caps OFFSET at 2,000. */
export const MAX_OFFSET = 2000;

/** What a query runs against: one object's fields (Contact, or a setup object). */
export interface SoqlTable {
  objectName: string;
  field(name: string): FieldDef | undefined;
}

/** Long text areas can be selected but not filtered or sorted on. */
function isLongText(f: FieldDef): boolean {
  return f.type === 'textarea' && f.length > 255;
}

/**
 * Parses and binds `soql` against the Contact schema. Throws SoqlError with Salesforce's codes:
 * MALFORMED_QUERY (syntax or unsupported feature), INVALID_TYPE (object), INVALID_FIELD
 * (unknown field, wrong literal type), NUMBER_OUTSIDE_VALID_RANGE (OFFSET above 2,000).
 */
export function compileSoql(soql: string, schema: SoqlTable): CompiledQuery {
  const q: SoqlQuery = parseSoql(soql);
  if (q.from.name.toLowerCase() !== schema.objectName.toLowerCase()) {
    throw new SoqlError(
      'INVALID_TYPE',
      pointAt(
        soql,
        q.from.offset,
        `sObject type '${q.from.name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
      ),
    );
  }
  const resolve = (ref: FieldRef): FieldDef => {
    const f = schema.field(ref.name);
    if (!f) {
      throw new SoqlError(
        'INVALID_FIELD',
        pointAt(
          soql,
          ref.offset,
          `No such column '${ref.name}' on entity '${schema.objectName}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
        ),
      );
    }
    return f;
  };
  const fields = q.fields.map(resolve);
  const seen = new Set<string>();
  q.fields.forEach((ref, i) => {
    const name = fields[i]!.name;
    if (seen.has(name))
      throw new SoqlError(
        'MALFORMED_QUERY',
        pointAt(soql, ref.offset, `duplicate field selected: ${name}`),
      );
    seen.add(name);
  });
  const filter = q.where ? compileCondition(q.where, soql, resolve) : () => true;
  const order = q.orderBy.map((o) => {
    const f = resolve(o.field);
    if (isLongText(f))
      throw new SoqlError(
        'INVALID_FIELD',
        pointAt(soql, o.field.offset, `field '${f.name}' can not be sorted in a query call`),
      );
    return { f, ...o };
  });
  const compare =
    order.length === 0
      ? null
      : (a: ContactRecord, b: ContactRecord): number => {
          for (const o of order) {
            const c = compareForSort(
              o.f,
              a[o.f.name] ?? null,
              b[o.f.name] ?? null,
              o.descending,
              o.nullsLast,
            );
            if (c !== 0) return c;
          }
          return 0;
        };
  if (q.offset !== null && q.offset > MAX_OFFSET) {
    throw new SoqlError(
      'NUMBER_OUTSIDE_VALID_RANGE',
      `Maximum SOQL offset allowed is ${MAX_OFFSET}`,
    );
  }
  return { count: q.count, fields, filter, compare, limit: q.limit, offset: q.offset ?? 0 };
}

/** Filters, sorts and slices `rows` (the caller decides whether deleted rows are in). */
export function runQuery(q: CompiledQuery, rows: Iterable<ContactRecord>): ContactRecord[] {
  const hits: ContactRecord[] = [];
  for (const r of rows) if (q.filter(r)) hits.push(r);
  if (q.compare) hits.sort(q.compare);
  const end = q.limit === null ? undefined : q.offset + q.limit;
  return q.offset === 0 && end === undefined ? hits : hits.slice(q.offset, end);
}

function compileCondition(
  c: Condition,
  soql: string,
  resolve: (ref: FieldRef) => FieldDef,
): Predicate {
  switch (c.kind) {
    case 'and': {
      const items = c.items.map((i) => compileCondition(i, soql, resolve));
      return (r) => items.every((p) => p(r));
    }
    case 'or': {
      const items = c.items.map((i) => compileCondition(i, soql, resolve));
      return (r) => items.some((p) => p(r));
    }
    case 'not': {
      const inner = compileCondition(c.item, soql, resolve);
      return (r) => !inner(r);
    }
    case 'compare': {
      const f = filterable(resolve(c.field), c.field, soql);
      const lit = literalValue(f, c.value, soql);
      if (lit === null && c.op !== '=' && c.op !== '!=') {
        throw new SoqlError(
          'MALFORMED_QUERY',
          pointAt(soql, c.value.offset, `null may only be used with the = and != operators`),
        );
      }
      if (f.type === 'boolean' && c.op !== '=' && c.op !== '!=') {
        throw new SoqlError(
          'INVALID_FIELD',
          pointAt(soql, c.field.offset, `invalid operator on boolean field: ${f.name}`),
        );
      }
      const op = c.op;
      return (r) => {
        const v = r[f.name] ?? null;
        if (op === '=') return equals(f, v, lit);
        // SOQL's != keeps rows whose value is null, unlike SQL.
        if (op === '!=') return !equals(f, v, lit);
        if (v === null || lit === null) return false;
        const cmp = compareValues(f, v, lit);
        return op === '<' ? cmp < 0 : op === '>' ? cmp > 0 : op === '<=' ? cmp <= 0 : cmp >= 0;
      };
    }
    case 'in': {
      const f = filterable(resolve(c.field), c.field, soql);
      const lits = c.values.map((v) => literalValue(f, v, soql));
      const negated = c.negated;
      return (r) => {
        const v = r[f.name] ?? null;
        const hit = lits.some((l) => equals(f, v, l));
        return negated ? !hit : hit;
      };
    }
    case 'like': {
      const f = filterable(resolve(c.field), c.field, soql);
      if (!isTextType(f.type) && f.type !== 'id' && f.type !== 'reference') {
        throw new SoqlError(
          'INVALID_FIELD',
          pointAt(
            soql,
            c.field.offset,
            `invalid operator on field: ${f.name}: LIKE requires a text field`,
          ),
        );
      }
      const matcher = likeMatcher(c.pattern);
      return (r) => {
        const v = r[f.name];
        return typeof v === 'string' && matcher(v);
      };
    }
  }
}

function filterable(f: FieldDef, ref: FieldRef, soql: string): FieldDef {
  if (isLongText(f))
    throw new SoqlError(
      'INVALID_FIELD',
      pointAt(soql, ref.offset, `field '${f.name}' can not be filtered in a query call`),
    );
  return f;
}

/** Converts a literal to the field's comparable form, enforcing Salesforce's type rules. */
function literalValue(f: FieldDef, lit: Literal, soql: string): Value {
  if (lit.type === 'null') return null;
  const wrong = (expected: string, quoted: boolean): SoqlError =>
    new SoqlError(
      'INVALID_FIELD',
      pointAt(
        soql,
        lit.offset,
        `value of filter criterion for field '${f.name}' must be of type ${expected} and should ${quoted ? '' : 'not '}be enclosed in quotes`,
      ),
    );
  switch (f.type) {
    case 'id':
    case 'reference': {
      if (lit.type !== 'string') throw wrong('id', true);
      const id = to18(lit.value);
      if (!id)
        throw new SoqlError(
          'INVALID_QUERY_FILTER_OPERATOR',
          pointAt(soql, lit.offset, `invalid ID field: ${lit.value}`),
        );
      return id;
    }
    case 'double':
    case 'currency':
    case 'percent':
      if (lit.type !== 'number') throw wrong(f.type, false);
      return lit.value;
    case 'boolean':
      if (lit.type !== 'boolean') throw wrong('boolean', false);
      return lit.value;
    case 'date':
      if (lit.type !== 'date') throw wrong('date', false);
      return lit.value;
    case 'datetime':
      if (lit.type !== 'datetime') throw wrong('dateTime', false);
      return lit.value;
    default:
      if (lit.type !== 'string') throw wrong('string', true);
      return lit.value;
  }
}

/** Row value in comparable form: datetimes as epoch ms, text lower-cased (SOQL is case-insensitive). */
function norm(f: FieldDef, v: Value): Value {
  if (v === null) return null;
  if (f.type === 'datetime' && typeof v === 'string') return parseDateTime(v);
  if (isTextType(f.type) && typeof v === 'string') return v.toLowerCase();
  return v;
}

/** Literals are already comparable for datetimes (epoch ms); text is lower-cased. */
function normLiteral(f: FieldDef, lit: Value): Value {
  return f.type === 'datetime' ? lit : norm(f, lit);
}

function order(a: Value, b: Value): number {
  if (a === null || b === null) return 0;
  return a < b ? -1 : a > b ? 1 : 0;
}

function equals(f: FieldDef, rowValue: Value, lit: Value): boolean {
  if (lit === null || rowValue === null) return lit === null && rowValue === null;
  return norm(f, rowValue) === normLiteral(f, lit);
}

function compareValues(f: FieldDef, rowValue: Value, lit: Value): number {
  return order(norm(f, rowValue), normLiteral(f, lit));
}

function compareForSort(
  f: FieldDef,
  a: Value,
  b: Value,
  descending: boolean,
  nullsLast: boolean,
): number {
  if (a === null || b === null) {
    if (a === b) return 0;
    return (a === null) === nullsLast ? 1 : -1;
  }
  const c = order(norm(f, a), norm(f, b));
  return descending ? -c : c;
}

/** LIKE: `%` any run, `_` one character, case-insensitive; escaped wildcards are literal. */
function likeMatcher(pattern: string): (s: string) => boolean {
  let re = '^';
  for (const ch of pattern) {
    if (ch === '%') re += '[\\s\\S]*';
    else if (ch === '_') re += '[\\s\\S]';
    else {
      const lit = ch === LITERAL_UNDERSCORE ? '_' : ch === LITERAL_PERCENT ? '%' : ch;
      re += lit.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  const compiled = new RegExp(`${re}$`, 'i');
  return (s) => compiled.test(s);
}
