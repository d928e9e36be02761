import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';

/** Bulk API 2.0 `columnDelimiter` names and their characters. */
export const DELIMITERS: Record<string, string> = {
  COMMA: ',',
  TAB: '\t',
  PIPE: '|',
  SEMICOLON: ';',
  CARET: '^',
  BACKQUOTE: '`',
};

export interface CsvFormat {
  columnDelimiter: string;
  lineEnding: 'LF' | 'CRLF';
}

/** Writes rows (first row = header) the way Salesforce does: every value quoted. */
export function toCsv(rows: string[][], format: CsvFormat): string {
  return stringify(rows, {
    delimiter: DELIMITERS[format.columnDelimiter] ?? ',',
    record_delimiter: format.lineEnding === 'CRLF' ? 'windows' : 'unix',
    quoted: true,
    quoted_empty: true,
  });
}

/** Parses an uploaded CSV into its header and rows (as column -> text). */
export function fromCsv(
  text: string,
  format: CsvFormat,
): { header: string[]; rows: Record<string, string>[] } {
  const records = parse(text, {
    delimiter: DELIMITERS[format.columnDelimiter] ?? ',',
    skip_empty_lines: true,
    bom: true,
  }) as string[][];
  const [header = [], ...body] = records;
  const rows = body.map((cells) => {
    if (cells.length !== header.length)
      throw new Error(`Row has ${cells.length} columns, header has ${header.length}`);
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
  return { header, rows };
}
