/**
 * The query AST: what a request asks for, before it meets the schema. Values are still the raw
 * strings of the URL; paths are relation names followed by a column. Plain frozen data, produced
 * by `request/query-params.ts` and read by `plan/`.
 */

export const OPERATORS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'like', 'ilike', 'null', 'search'] as const;
export type Operator = (typeof OPERATORS)[number];
const OPERATOR_SET: ReadonlySet<string> = new Set(OPERATORS);
export const isOperator = (s: string): s is Operator => OPERATOR_SET.has(s);

/** `customer.country[not.eq]=DE` → path ['customer'], column 'country', op 'eq', negate. */
export interface Condition {
  readonly kind: 'cond';
  readonly path: readonly string[];
  readonly column: string;
  readonly op: Operator;
  readonly negate: boolean;
  /** A list for `in`/`nin`, otherwise one string. */
  readonly value: string | readonly string[];
  /** The query parameter it came from, for error messages. */
  readonly param: string;
}

/** `or=(…)`, `and=(…)`, `not.or=(…)`; `items.or=(…)` scopes the group to a relation path. */
export interface Group {
  readonly kind: 'and' | 'or';
  readonly negate: boolean;
  readonly path: readonly string[];
  readonly items: readonly FilterNode[];
  readonly param: string;
}

export type FilterNode = Condition | Group;

export interface SortItem {
  readonly column: string;
  readonly descending: boolean;
}

/** `items.limit=5&items.sort=-quantity&items.offset=2` */
export interface EmbedOptions {
  readonly limit?: number;
  readonly offset?: number;
  readonly sort?: readonly SortItem[];
}

export type CountMode = 'exact' | 'estimated';

export interface QueryAst {
  readonly filters: readonly FilterNode[];
  /** Dotted paths split: `customer.name` → ['customer', 'name']; `*` selects all visible columns. */
  readonly fields: readonly (readonly string[])[] | null;
  /** Relation paths: `items.product` → ['items', 'product']. */
  readonly include: readonly (readonly string[])[];
  readonly sort: readonly SortItem[] | null;
  readonly limit: number | null;
  readonly offset: number | null;
  readonly cursor: string | null;
  readonly count: CountMode | null;
  /** By relation path joined with '.'. */
  readonly embeds: ReadonlyMap<string, EmbedOptions>;
  readonly onConflict: readonly string[] | null;
}
