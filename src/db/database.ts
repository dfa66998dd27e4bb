/**
 * The database contract every dialect driver implements. Rows come back as arrays in select-list
 * order, every value as the driver's raw form (PostgreSQL: text; SQLite: number, bigint or text),
 * so the JSON the database built passes through untouched.
 */
import type { DialectName } from '../schema/model.ts';

export type Row = readonly unknown[];

export interface Executor {
  /** Runs one statement with bound parameters. */
  query(sql: string, params: readonly unknown[]): Promise<Row[]>;
}

/**
 * `query` is for reads. Writes go through `write` (one statement, committed on its own) or
 * `transaction`, which SQLite serialises on its one writing connection.
 */
export interface Database extends Executor {
  readonly dialect: DialectName;
  /** Rows in batches from a server-side cursor: memory stays constant whatever the result size. */
  stream(sql: string, params: readonly unknown[], batchSize: number): AsyncIterable<Row[]>;
  /** Runs one writing statement in its own transaction. */
  write(sql: string, params: readonly unknown[]): Promise<Row[]>;
  /** Runs `work` in one transaction: commit when it resolves, roll back when it throws. */
  transaction<T>(work: (tx: Executor) => Promise<T>): Promise<T>;
  /** Resolves when the database answers a trivial statement. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Called with every statement sent (tests count them; metrics time them). */
export type StatementListener = (sql: string, params: readonly unknown[]) => void;
