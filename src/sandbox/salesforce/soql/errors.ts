/** A SOQL failure with Salesforce's errorCode (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE...). */
export class SoqlError extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'SoqlError';
  }
}

/**
 * Salesforce's error layout: the query, a caret under the offending spot, then
 * `ERROR at Row:r:Column:c` and the reason.
 */
export function pointAt(source: string, offset: number, reason: string): string {
  const before = source.slice(0, offset);
  const row = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const col = offset - lineStart + 1;
  const line = source.split('\n')[row - 1] ?? '';
  return `\n${line}\n${' '.repeat(col - 1)}^\nERROR at Row:${row}:Column:${col}\n${reason}`;
}
