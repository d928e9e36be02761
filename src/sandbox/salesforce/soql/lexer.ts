import { SoqlError, pointAt } from './errors';

export type TokenKind =
  | 'ident'
  | 'string'
  | 'number'
  | 'date'
  | 'datetime'
  | 'op'
  | 'lparen'
  | 'rparen'
  | 'comma'
  | 'dot'
  | 'colon'
  | 'eof';

export interface Token {
  kind: TokenKind;
  /** Source text (for strings: the unescaped value; `raw` keeps the escapes). */
  value: string;
  raw: string;
  /** Offset in the query, for error positions. */
  offset: number;
}

const DATETIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})/y;
const DATE = /\d{4}-\d{2}-\d{2}(?![A-Za-z0-9_])/y;
const NUMBER = /[+-]?\d+(?:\.\d+)?(?![A-Za-z_])/y;
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const SPACE = /\s+/y;
/** Placeholders for `\_` and `\%`: literal wildcard characters inside LIKE patterns. */
export const LITERAL_UNDERSCORE = '\u0001';
export const LITERAL_PERCENT = '\u0002';
const ESCAPES: Record<string, string> = {
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
  '"': '"',
  "'": "'",
  '\\': '\\',
  _: LITERAL_UNDERSCORE,
  '%': LITERAL_PERCENT,
};

function stick(re: RegExp, src: string, at: number): string | null {
  re.lastIndex = at;
  const m = re.exec(src);
  return m ? m[0] : null;
}

/** Splits a SOQL string into tokens; rejects characters and string escapes SOQL does not know. */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ws = stick(SPACE, src, i);
    if (ws) {
      i += ws.length;
      continue;
    }
    const c = src[i]!;
    if (c === "'") {
      let value = '';
      let j = i + 1;
      for (;;) {
        const ch = src[j];
        if (ch === undefined)
          throw new SoqlError(
            'MALFORMED_QUERY',
            pointAt(src, i, 'line 1:' + i + " mismatched character '<EOF>' expecting '''"),
          );
        if (ch === "'") break;
        if (ch === '\\') {
          const next = src[j + 1];
          const esc = next === undefined ? undefined : ESCAPES[next];
          if (esc === undefined)
            throw new SoqlError(
              'MALFORMED_QUERY',
              pointAt(src, j, 'Invalid string literal: unknown escape sequence'),
            );
          value += esc;
          j += 2;
          continue;
        }
        value += ch;
        j++;
      }
      out.push({ kind: 'string', value, raw: src.slice(i + 1, j), offset: i });
      i = j + 1;
      continue;
    }
    const lexeme =
      /[0-9+-]/.test(c) &&
      (stick(DATETIME, src, i) ?? stick(DATE, src, i) ?? stick(NUMBER, src, i));
    if (lexeme) {
      const kind: TokenKind = lexeme.includes('T')
        ? 'datetime'
        : /^\d{4}-\d{2}-\d{2}$/.test(lexeme)
          ? 'date'
          : 'number';
      out.push({ kind, value: lexeme, raw: lexeme, offset: i });
      i += lexeme.length;
      continue;
    }
    const ident = stick(IDENT, src, i);
    if (ident) {
      out.push({ kind: 'ident', value: ident, raw: ident, offset: i });
      i += ident.length;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
      out.push({ kind: 'op', value: two, raw: two, offset: i });
      i += 2;
      continue;
    }
    const single: Partial<Record<string, TokenKind>> = {
      '=': 'op',
      '<': 'op',
      '>': 'op',
      '(': 'lparen',
      ')': 'rparen',
      ',': 'comma',
      '.': 'dot',
      ':': 'colon',
    };
    const kind = single[c];
    if (!kind) throw new SoqlError('MALFORMED_QUERY', pointAt(src, i, `unexpected token: '${c}'`));
    out.push({ kind, value: c, raw: c, offset: i });
    i += 1;
  }
  out.push({ kind: 'eof', value: '<EOF>', raw: '', offset: src.length });
  return out;
}
