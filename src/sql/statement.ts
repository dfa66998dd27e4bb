/**
 * What compiling produces and what compiling needs besides the compiler: statements, row fields,
 * the parameter/alias context, and integer literals.
 */
import type { Column, ColumnType } from '../schema/model.ts';
import type { ClaimRef } from '../plan/nodes.ts';

/** A non-negative integer as SQL text; anything else is a bug upstream, never SQL. */
export function integer(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a row count: ${n}`);
  return String(n);
}

/** `count=estimated` counts exactly up to this many rows, then asks the planner. */
export const ESTIMATE_CAP = 10_000;

/** A parameter left open for a value of the caller's credentials (see ClaimRef). */
export interface Slot {
  readonly index: number;
  readonly claim: ClaimRef;
  readonly column: Column;
}

export interface Compiled {
  readonly text: string;
  readonly params: readonly unknown[];
  /** Parameters filled per request from the caller's claims ({@link fillSlots}). */
  readonly slots?: readonly Slot[];
  /**
   * Index of the first parameter holding a keyset cursor's values (its non-null values, in sort
   * order): a statement compiled for one cursor serves every cursor of the same shape.
   */
  readonly cursorAt?: number;
}

/** A read: each row is [j, k0…kn, total?]. */
export interface ReadStatement extends Compiled {
  readonly keyCount: number;
  readonly withTotal: boolean;
}

/** One member of a row's JSON object: a column (rendered by the dialect) or a nested JSON value (an embed). */
export type RowField =
  | { readonly key: string; readonly column: { readonly expr: string; readonly type: ColumnType; readonly nullable: boolean } }
  | { readonly key: string; readonly json: string };

export interface JsonRow {
  /** The JSON expression. */
  readonly expr: string;
  /** Appended to the FROM clause of the select that computes `expr` (starts with ', ' when set). */
  readonly from: string;
}

/** Collects parameters and aliases while one statement is compiled. */
export class Context {
  readonly params: unknown[] = [];
  readonly slots: Slot[] = [];
  /** See {@link Compiled.cursorAt}. */
  cursorAt: number | undefined;
  private aliases = 0;
  private readonly placeholder: (index: number) => string;
  constructor(placeholder: (index: number) => string) {
    this.placeholder = placeholder;
  }
  param(value: unknown): string {
    this.params.push(value);
    return this.placeholder(this.params.length);
  }
  /** A placeholder for a claim's value, bound per request. */
  slot(claim: ClaimRef, column: Column): string {
    this.params.push(null);
    this.slots.push({ index: this.params.length - 1, claim, column });
    return this.placeholder(this.params.length);
  }
  /** What a statement compiled in this context carries besides its text. */
  get bound(): { params: unknown[]; slots?: Slot[]; cursorAt?: number } {
    return { params: this.params, ...(this.slots.length ? { slots: this.slots } : {}), ...(this.cursorAt === undefined ? {} : { cursorAt: this.cursorAt }) };
  }
  alias(): string {
    return `a${this.aliases++}`;
  }
}

export type BulkStatement =
  | { readonly kind: 'guarded'; readonly statement: Compiled }
  | { readonly kind: 'checked'; readonly count: Compiled; readonly write: Compiled };
