/** Parsed (not yet checked) SOQL. Field names are as written; binding resolves them. */
export type Literal =
  | { type: 'string'; value: string; offset: number }
  | { type: 'number'; value: number; offset: number }
  | { type: 'boolean'; value: boolean; offset: number }
  | { type: 'null'; offset: number }
  | { type: 'date'; value: string; offset: number }
  | { type: 'datetime'; value: number; text: string; offset: number };

export type CompareOp = '=' | '!=' | '<' | '>' | '<=' | '>=';

export interface FieldRef {
  name: string;
  offset: number;
}

export type Condition =
  | { kind: 'and'; items: Condition[] }
  | { kind: 'or'; items: Condition[] }
  | { kind: 'not'; item: Condition }
  | { kind: 'compare'; field: FieldRef; op: CompareOp; value: Literal }
  | { kind: 'in'; field: FieldRef; negated: boolean; values: Literal[] }
  | { kind: 'like'; field: FieldRef; pattern: string; offset: number };

export interface OrderItem {
  field: FieldRef;
  descending: boolean;
  nullsLast: boolean;
}

export interface SoqlQuery {
  /** `SELECT COUNT()`; then `fields` is empty. */
  count: boolean;
  fields: FieldRef[];
  from: FieldRef;
  where: Condition | null;
  orderBy: OrderItem[];
  limit: number | null;
  offset: number | null;
}
