/**
 * SQLite through `node:sqlite` (no native add-on). Reads run on a reading connection; writes and
 * transactions run one at a time on a writing connection behind a lock, so a transaction that
 * awaits never lets another request's statement slip into it. WAL mode lets readers see every
 * committed write at once; each stream reads from a connection of its own so that a long export
 * never holds an old snapshot for everyone else.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Database, Executor, Row, StatementListener } from './database.ts';
import { matches } from './text-search.ts';

export interface SqliteOptions {
  /** A file path, or `:memory:` (one connection; for tests). */
  readonly path: string;
  readonly onStatement?: StatementListener | undefined;
  readonly busyTimeout?: number;
}

const MAX_CACHED = 500;

function open(path: string, readOnly: boolean, busyTimeout: number): DatabaseSync {
  const db = new DatabaseSync(path, { readOnly, enableForeignKeyConstraints: true });
  db.exec(`pragma busy_timeout = ${busyTimeout}`);
  if (!readOnly && path !== ':memory:') {
    // Switching a fresh file to WAL takes an exclusive lock without calling the busy handler, so
    // a second process opening the same new file at that moment gets "database is locked" at once.
    withBusyRetry(busyTimeout, () => db.exec('pragma journal_mode = wal'));
    db.exec('pragma synchronous = normal');
  }
  db.function('sluice_base64', { deterministic: true }, (v) => (v === null ? null : Buffer.from(v as Uint8Array | string).toString('base64')));
  db.function('sluice_match', { deterministic: true }, (text, query) => (text === null || query === null ? null : matches(String(text), String(query)) ? 1 : 0));
  return db;
}

/** Runs `work` again (sleeping 10–50 ms) while SQLite says the file is locked, for up to `budget` ms. */
function withBusyRetry(budget: number, work: () => void): void {
  const until = Date.now() + budget;
  for (let attempt = 0; ; attempt++) {
    try {
      return work();
    } catch (err) {
      if (!/database is locked|SQLITE_BUSY/i.test((err as Error).message) || Date.now() >= until) throw err;
      Atomics.wait(SLEEPER, 0, 0, Math.min(10 * 2 ** attempt, 50)); // synchronous: only ever at open
    }
  }
}
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/** A tiny promise lock: callers run one after another, in arrival order. */
class Lock {
  private tail: Promise<void> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.then(() => undefined, () => undefined);
    return result;
  }
}

class Connection {
  private readonly cache = new Map<string, StatementSync>();
  readonly db: DatabaseSync;
  constructor(db: DatabaseSync) {
    this.db = db;
  }
  statement(sql: string): StatementSync {
    let stmt = this.cache.get(sql);
    if (stmt) {
      this.cache.delete(sql);
    } else {
      stmt = this.db.prepare(sql);
      stmt.setReturnArrays(true);
      stmt.setReadBigInts(true);
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(sql, stmt);
    return stmt;
  }
  all(sql: string, params: readonly unknown[]): Row[] {
    return this.statement(sql).all(...(params as never[])) as unknown as Row[];
  }
}

export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const;
  private readonly writer: Connection;
  private readonly reader: Connection;
  private readonly lock = new Lock();
  private readonly options: SqliteOptions;
  private readonly busyTimeout: number;

  constructor(options: SqliteOptions) {
    this.options = options;
    this.busyTimeout = options.busyTimeout ?? 5000;
    this.writer = new Connection(open(options.path, false, this.busyTimeout));
    this.reader = options.path === ':memory:' ? this.writer : new Connection(open(options.path, false, this.busyTimeout));
  }

  private run(conn: Connection, sql: string, params: readonly unknown[]): Row[] {
    this.options.onStatement?.(sql, params);
    return conn.all(sql, params);
  }

  async query(sql: string, params: readonly unknown[]): Promise<Row[]> {
    return this.run(this.reader, sql, params);
  }

  write(sql: string, params: readonly unknown[]): Promise<Row[]> {
    return this.lock.run(async () => this.run(this.writer, sql, params));
  }

  transaction<T>(work: (tx: Executor) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      this.writer.db.exec('begin immediate');
      try {
        const result = await work({ query: async (sql, params) => this.run(this.writer, sql, params) });
        this.writer.db.exec('commit');
        return result;
      } catch (err) {
        if (this.writer.db.isTransaction) this.writer.db.exec('rollback');
        throw err;
      }
    });
  }

  async *stream(sql: string, params: readonly unknown[], batchSize: number): AsyncIterable<Row[]> {
    const own = this.options.path === ':memory:' ? null : new Connection(open(this.options.path, true, this.busyTimeout));
    const conn = own ?? this.reader;
    try {
      this.options.onStatement?.(sql, params);
      const stmt = conn.db.prepare(sql); // not the shared cache: another query must not reset it mid-stream
      stmt.setReturnArrays(true);
      stmt.setReadBigInts(true);
      const iterator = stmt.iterate(...(params as never[]));
      let batch: Row[] = [];
      for (const row of iterator) {
        batch.push(row as unknown as Row);
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
          await nextTurn(); // let other requests run between batches
        }
      }
      if (batch.length) yield batch;
    } finally {
      own?.db.close();
    }
  }

  async ping(): Promise<void> {
    this.reader.all('select 1', []);
  }

  async close(): Promise<void> {
    await this.lock.run(async () => undefined);
    if (this.reader !== this.writer) this.reader.db.close();
    this.writer.db.close();
  }
}
