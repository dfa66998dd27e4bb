/**
 * A {@link Database} that times what it runs: into the query-time histogram (by target and
 * operation) and into the running request's `Server-Timing`. It wraps the driver, so the stages
 * above it never know; with metrics and Server-Timing both off it is not used at all.
 */
import type { Database, Executor, Row } from '../db/database.ts';
import type { HistogramSeries, FastHistogram } from './fast-metrics.ts';
import { currentTiming, type RequestTiming } from './request-timing.ts';

export interface TimedDatabaseOptions {
  /** The target label (`primary`; replicas later). */
  readonly target: string;
  /** The query-time histogram, or null with metrics off. */
  readonly histogram: FastHistogram | null;
  /** Whether statements count into the running request's Server-Timing. */
  readonly timing: boolean;
}

type Operation = 'query' | 'write' | 'transaction' | 'stream';

/** @example const db = new TimedDatabase(openDatabase(config.database), { target: 'primary', histogram, timing: true }) */
export class TimedDatabase implements Database {
  readonly dialect: Database['dialect'];
  /** The driver underneath (the pool gauges read its pool). */
  readonly inner: Database;
  private readonly series: Record<Operation, HistogramSeries> | null;
  private readonly timing: boolean;

  constructor(inner: Database, options: TimedDatabaseOptions) {
    this.inner = inner;
    this.dialect = inner.dialect;
    this.timing = options.timing;
    const h = options.histogram;
    const of = (operation: Operation) => h!.series({ target: options.target, operation });
    this.series = h ? { query: of('query'), write: of('write'), transaction: of('transaction'), stream: of('stream') } : null;
  }

  private timed<T>(operation: Operation, run: Promise<T>, start: number, request: RequestTiming | undefined): Promise<T> {
    return run.then((value) => {
      this.observe(operation, start, request);
      return value;
    }, (err: unknown) => {
      this.observe(operation, start, request);
      throw err;
    });
  }

  private observe(operation: Operation, start: number, request: RequestTiming | undefined): void {
    const end = performance.now();
    this.series?.[operation].observe((end - start) / 1000);
    request?.statement(start, end);
  }

  query(sql: string, params: readonly unknown[]): Promise<Row[]> {
    const request = this.timing ? currentTiming.getStore() : undefined;
    const start = performance.now();
    return this.timed('query', this.inner.query(sql, params), start, request);
  }

  write(sql: string, params: readonly unknown[]): Promise<Row[]> {
    const request = this.timing ? currentTiming.getStore() : undefined;
    const start = performance.now();
    return this.timed('write', this.inner.write(sql, params), start, request);
  }

  transaction<T>(work: (tx: Executor) => Promise<T>): Promise<T> {
    const request = this.timing ? currentTiming.getStore() : undefined;
    const start = performance.now();
    return this.timed('transaction', this.inner.transaction(work), start, request);
  }

  /** Timed from the call to the last batch (a slow reader counts too: the cursor is open that long). */
  async *stream(sql: string, params: readonly unknown[], batchSize: number): AsyncIterable<Row[]> {
    const start = performance.now();
    try {
      yield* this.inner.stream(sql, params, batchSize);
    } finally {
      this.series?.stream.observe((performance.now() - start) / 1000);
    }
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The pool counts of a driver that has a pool (PostgreSQL), or null (SQLite has connections, no pool). */
export function poolStats(db: Database): { total: number; idle: number; waiting: number } | null {
  return (db as { poolStats?: () => { total: number; idle: number; waiting: number } }).poolStats?.() ?? null;
}
