/**
 * Plan nodes: the query AST resolved against the schema snapshot. Names are columns and relations
 * of real resources, values are typed and checked, embeds form a tree. The SQL compilers read
 * plans only.
 */
import type { CountMode, Operator } from '../ast/nodes.ts';
import type { Column, Relation, Resource } from '../schema/model.ts';

/**
 * A value a role policy takes from the caller's credentials (`$auth.sub`): left open in the plan
 * and the compiled statement, filled per request — so one compiled statement serves every caller
 * of a role. A class, so that no value of a request can ever pass for one.
 */
export class ClaimRef {
  readonly path: readonly string[];
  constructor(path: readonly string[]) {
    this.path = path;
  }
  toString(): string {
    return `$auth.${this.path.join('.')}`;
  }
}

export interface PlanCondition {
  readonly kind: 'cond';
  readonly column: Column;
  readonly op: Operator;
  readonly negate: boolean;
  /** Typed value; an array for `in`/`nin`; `true`/`false` for `null`; a {@link ClaimRef} from a policy. */
  readonly value: unknown;
}

/** Rows whose to-one related row matches `filter` (a relation filter such as `customer.country=DE`). */
export interface PlanExists {
  readonly kind: 'exists';
  readonly relation: Relation;
  readonly target: Resource;
  readonly filter: PlanFilter;
}

export interface PlanBool {
  readonly kind: 'and' | 'or';
  readonly negate: boolean;
  readonly items: readonly PlanFilter[];
}

export type PlanFilter = PlanCondition | PlanExists | PlanBool;

export interface PlanSort {
  readonly column: Column;
  readonly descending: boolean;
}

/** One level of a read: the root resource or an embedded relation. */
export interface SelectPlan {
  readonly resource: Resource;
  /** A policy's row filter on the junction rows of a many-to-many embed. */
  readonly junctionFilter?: PlanFilter | null;
  /** Output columns, in output order. */
  readonly columns: readonly Column[];
  readonly embeds: readonly EmbedPlan[];
  readonly filter: PlanFilter | null;
  /** A total order when the resource has a primary key (it is appended). */
  readonly sort: readonly PlanSort[];
  readonly limit: number | null;
  readonly offset: number | null;
}

export interface EmbedPlan {
  /** The key in the parent's JSON: the relation name as the request wrote it. */
  readonly key: string;
  readonly relation: Relation;
  readonly plan: SelectPlan;
}

export type ReadMode = 'list' | 'one' | 'stream';

export interface ReadPlan {
  readonly mode: ReadMode;
  readonly root: SelectPlan;
  /** Keyset: values of `root.sort` for the last row of the previous page. */
  readonly after: readonly unknown[] | null;
  readonly count: CountMode | null;
  /** Binds cursors to the resource and sort: a cursor of another sort is refused. */
  readonly sortTag: string;
}
