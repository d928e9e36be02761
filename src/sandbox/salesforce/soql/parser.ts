import type { CompareOp, Condition, FieldRef, Literal, OrderItem, SoqlQuery } from './ast';
import { SoqlError, pointAt } from './errors';
import { LITERAL_PERCENT, LITERAL_UNDERSCORE, tokenize } from './lexer';
import type { Token } from './lexer';
import { parseDateTime } from '../dates';
import { isValidDate } from '../validation';

/** Words that end a clause or are not allowed as field names. */
const RESERVED = new Set([
  'SELECT',
  'FROM',
  'WHERE',
  'AND',
  'OR',
  'NOT',
  'IN',
  'LIKE',
  'INCLUDES',
  'EXCLUDES',
  'ORDER',
  'BY',
  'ASC',
  'DESC',
  'NULLS',
  'FIRST',
  'LAST',
  'LIMIT',
  'OFFSET',
  'GROUP',
  'HAVING',
  'NULL',
  'TRUE',
  'FALSE',
  'WITH',
  'FOR',
  'USING',
  'TYPEOF',
  'ROLLUP',
  'CUBE',
  'UPDATE',
  'VIEW',
  'REFERENCE',
]);

/** Clauses Salesforce has but this sandbox does not emulate: refused, never half-answered. */
const UNSUPPORTED_CLAUSES = new Set(['GROUP', 'HAVING', 'WITH', 'FOR', 'USING', 'TYPEOF']);

const DATE_LITERALS = new Set(['TODAY', 'YESTERDAY', 'TOMORROW']);

function unescapeText(s: string): string {
  return s.split(LITERAL_UNDERSCORE).join('_').split(LITERAL_PERCENT).join('%');
}

/**
 * Recursive-descent parser for the SOQL subset the sandbox serves: one object, plain fields
 * or `COUNT()`, WHERE with comparisons, IN / NOT IN, LIKE, AND / OR / NOT and parentheses,
 * ORDER BY, LIMIT, OFFSET. Like Salesforce, it refuses AND and OR mixed at one level without
 * parentheses. Anything else throws SoqlError MALFORMED_QUERY.
 */
export function parseSoql(source: string): SoqlQuery {
  return new Parser(source).parseQuery();
}

class Parser {
  private readonly tokens: Token[];
  private pos = 0;

  constructor(private readonly src: string) {
    this.tokens = tokenize(src);
  }

  parseQuery(): SoqlQuery {
    this.expectKeyword('SELECT');
    let count = false;
    const fields: FieldRef[] = [];
    if (this.isKeyword('COUNT') && this.peek(1).kind === 'lparen') {
      const countTok = this.next();
      this.expect('lparen');
      if (this.peek().kind !== 'rparen') {
        throw this.fail(
          countTok,
          'aggregate functions other than COUNT() are not supported by the sandbox',
        );
      }
      this.expect('rparen');
      count = true;
    } else {
      do {
        fields.push(this.fieldRef());
      } while (this.accept('comma'));
    }
    this.expectKeyword('FROM');
    const from = this.fieldRef();
    let where: Condition | null = null;
    if (this.acceptKeyword('WHERE')) where = this.condition();
    const orderBy: OrderItem[] = [];
    if (this.acceptKeyword('ORDER')) {
      this.expectKeyword('BY');
      do {
        orderBy.push(this.orderItem());
      } while (this.accept('comma'));
    }
    const limit = this.acceptKeyword('LIMIT') ? this.integer() : null;
    const offset = this.acceptKeyword('OFFSET') ? this.integer() : null;
    const end = this.peek();
    if (end.kind !== 'eof') throw this.unexpected(end);
    return { count, fields, from, where, orderBy, limit, offset };
  }

  private orderItem(): OrderItem {
    const field = this.fieldRef();
    let descending = false;
    if (this.acceptKeyword('DESC')) descending = true;
    else this.acceptKeyword('ASC');
    let nullsLast = descending;
    if (this.acceptKeyword('NULLS')) {
      if (this.acceptKeyword('LAST')) nullsLast = true;
      else {
        this.expectKeyword('FIRST');
        nullsLast = false;
      }
    }
    return { field, descending, nullsLast };
  }

  /** condition := term (AND term)* | term (OR term)* */
  private condition(): Condition {
    const first = this.term();
    const joiner = this.isKeyword('AND') ? 'AND' : this.isKeyword('OR') ? 'OR' : null;
    if (!joiner) return first;
    const items = [first];
    while (this.acceptKeyword(joiner)) {
      items.push(this.term());
      const other = joiner === 'AND' ? 'OR' : 'AND';
      if (this.isKeyword(other)) throw this.unexpected(this.peek());
    }
    return joiner === 'AND' ? { kind: 'and', items } : { kind: 'or', items };
  }

  private term(): Condition {
    if (this.acceptKeyword('NOT')) return { kind: 'not', item: this.term() };
    if (this.accept('lparen')) {
      const inner = this.condition();
      this.expect('rparen');
      return inner;
    }
    return this.simple();
  }

  private simple(): Condition {
    const field = this.fieldRef();
    const tok = this.peek();
    if (tok.kind === 'op') {
      this.next();
      // `<>` is SOQL's other spelling of `!=`.
      const op = (tok.value === '<>' ? '!=' : tok.value) as CompareOp;
      return { kind: 'compare', field, op, value: this.literal() };
    }
    if (this.isKeyword('NOT') && this.isKeyword('IN', 1)) {
      this.next();
      this.next();
      return { kind: 'in', field, negated: true, values: this.literalList() };
    }
    if (this.acceptKeyword('IN'))
      return { kind: 'in', field, negated: false, values: this.literalList() };
    if (this.acceptKeyword('LIKE')) {
      const pat = this.peek();
      if (pat.kind !== 'string') throw this.unexpected(pat);
      this.next();
      return { kind: 'like', field, pattern: pat.value, offset: pat.offset };
    }
    if (this.isKeyword('INCLUDES') || this.isKeyword('EXCLUDES')) {
      throw this.fail(tok, 'INCLUDES and EXCLUDES are not supported by the sandbox');
    }
    throw this.unexpected(tok);
  }

  private literalList(): Literal[] {
    this.expect('lparen');
    const t = this.peek();
    if (this.isKeyword('SELECT'))
      throw this.fail(t, 'semi-join subselects are not supported by the sandbox');
    const values: Literal[] = [];
    do {
      values.push(this.literal());
    } while (this.accept('comma'));
    this.expect('rparen');
    return values;
  }

  private literal(): Literal {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { type: 'string', value: unescapeText(t.value), offset: t.offset };
      case 'number':
        return { type: 'number', value: Number(t.value), offset: t.offset };
      case 'date':
        if (!isValidDate(t.value))
          throw this.fail(t, `line 1:${t.offset} no viable alternative at character '${t.value}'`);
        return { type: 'date', value: t.value, offset: t.offset };
      case 'datetime': {
        const ms = parseDateTime(t.value);
        if (Number.isNaN(ms))
          throw this.fail(t, `line 1:${t.offset} no viable alternative at character '${t.value}'`);
        return { type: 'datetime', value: ms, text: t.value, offset: t.offset };
      }
      case 'ident': {
        const up = t.value.toUpperCase();
        if (up === 'NULL') return { type: 'null', offset: t.offset };
        if (up === 'TRUE' || up === 'FALSE')
          return { type: 'boolean', value: up === 'TRUE', offset: t.offset };
        if (
          this.peek().kind === 'colon' ||
          DATE_LITERALS.has(up) ||
          /^(LAST|NEXT|THIS)_/.test(up)
        ) {
          throw this.fail(t, `date literals such as ${t.value} are not supported by the sandbox`);
        }
        throw this.unexpected(t);
      }
      case 'colon':
        throw this.fail(t, 'bind variables are only allowed in Apex code');
      default:
        throw this.unexpected(t);
    }
  }

  private fieldRef(): FieldRef {
    const t = this.peek();
    if (t.kind === 'lparen')
      throw this.fail(t, 'relationship subqueries are not supported by the sandbox');
    if (t.kind !== 'ident' || RESERVED.has(t.value.toUpperCase())) throw this.unexpected(t);
    this.next();
    if (this.peek().kind === 'lparen')
      throw this.fail(t, `function ${t.value}() is not supported by the sandbox`);
    if (this.peek().kind === 'dot')
      throw this.fail(this.peek(), 'relationship fields are not supported by the sandbox');
    return { name: t.value, offset: t.offset };
  }

  private integer(): number {
    const t = this.next();
    if (t.kind !== 'number' || !/^\d+$/.test(t.value)) throw this.unexpected(t);
    return Number(t.value);
  }

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.pos + ahead, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }

  private accept(kind: Token['kind']): boolean {
    if (this.peek().kind !== kind) return false;
    this.next();
    return true;
  }

  private expect(kind: Token['kind']): void {
    const t = this.peek();
    if (t.kind !== kind) throw this.unexpected(t);
    this.next();
  }

  private isKeyword(word: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'ident' && t.value.toUpperCase() === word;
  }

  private acceptKeyword(word: string): boolean {
    if (!this.isKeyword(word)) return false;
    this.next();
    return true;
  }

  private expectKeyword(word: string): void {
    if (!this.acceptKeyword(word)) throw this.unexpected(this.peek());
  }

  private unexpected(t: Token): SoqlError {
    if (t.kind === 'ident' && UNSUPPORTED_CLAUSES.has(t.value.toUpperCase())) {
      return this.fail(t, `${t.value.toUpperCase()} is not supported by the sandbox`);
    }
    return this.fail(t, `unexpected token: ${t.kind === 'string' ? `'${t.raw}'` : t.value}`);
  }

  private fail(t: Token, reason: string): SoqlError {
    return new SoqlError('MALFORMED_QUERY', pointAt(this.src, t.offset, reason));
  }
}
