/**
 * PostgreSQL through node-postgres: a pool with acquire and statement timeouts, every value read
 * as raw text (the JSON the database built passes through untouched), statements prepared by name
 * (bounded, and off for PgBouncer in transaction mode), streams through a server-side cursor.
 */
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { Database, Executor, Row, StatementListener } from './database.ts';

export interface PostgresOptions {
  readonly url: string;
  readonly max: number;
  readonly acquireTimeout: number;
  readonly statementTimeout: number;
  /** Statement timeout of a stream's cursor (0: none). */
  readonly streamTimeout: number;
  readonly preparedStatements: boolean;
  readonly onStatement?: StatementListener | undefined;
  readonly onError?: ((err: Error) => void) | undefined;
}

/** Every column arrives as the server's text; nothing is parsed in JavaScript. */
const RAW_TYPES = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;
/** Distinct statements prepared per connection before new shapes run unnamed. */
const MAX_PREPARED = 256;
const MAX_SEEN = 1024;
const rowsOf = (result: pg.QueryResult<unknown[]>): Row[] => result.rows;
/** What a statement's query configs share: its text, its name once prepared, rows as arrays. */
interface QueryShape {
  readonly name?: string;
  readonly text: string;
  readonly rowMode: 'array';
}

export class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;
  readonly pool: pg.Pool;
  private readonly named = new Map<string, QueryShape>();
  /** Texts seen once, oldest first (candidates for a name). */
  private readonly seen = new Set<string>();
  private readonly options: PostgresOptions;

  constructor(options: PostgresOptions) {
    this.options = options;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.max,
      connectionTimeoutMillis: options.acquireTimeout,
      idleTimeoutMillis: 30_000,
      statement_timeout: options.statementTimeout || undefined,
      application_name: 'sluice',
      options: '-c TimeZone=UTC',
      types: RAW_TYPES,
    });
    this.pool.on('error', (err) => options.onError?.(err));
  }

  /**
   * The query config of a statement text. Statements are prepared by name once they recur: a text
   * seen for the second time gets a name (at most MAX_PREPARED of them, never reused, since every
   * connection keeps what it prepared). One-off texts — a crawler's offsets — run unnamed and use
   * up nothing. A named statement's name, text and row mode live on a prototype made once; a
   * request's config only adds its values (node-postgres copies every own property of each config
   * it is given, which showed in per-request CPU).
   */
  private config(sql: string): QueryShape {
    const named = this.named.get(sql);
    if (named !== undefined) return named;
    if (!this.options.preparedStatements || this.named.size >= MAX_PREPARED) return { text: sql, rowMode: 'array' };
    if (!this.seen.delete(sql)) {
      if (this.seen.size >= MAX_SEEN) this.seen.delete(this.seen.values().next().value!);
      this.seen.add(sql);
      return { text: sql, rowMode: 'array' };
    }
    const shape: QueryShape = { name: `s${this.named.size}`, text: sql, rowMode: 'array' };
    this.named.set(sql, shape);
    return shape;
  }

  /** No async frame and no spread: this runs once per request. */
  private run(client: pg.Pool | pg.PoolClient, sql: string, params: readonly unknown[]): Promise<Row[]> {
    this.options.onStatement?.(sql, params);
    const config = Object.create(this.config(sql)) as pg.QueryArrayConfig;
    config.values = params as unknown[];
    return client.query<unknown[]>(config).then(rowsOf);
  }

  query(sql: string, params: readonly unknown[]): Promise<Row[]> {
    return this.run(this.pool, sql, params);
  }

  write(sql: string, params: readonly unknown[]): Promise<Row[]> {
    return this.run(this.pool, sql, params);
  }

  async transaction<T>(work: (tx: Executor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('begin');
      const result = await work({ query: (sql, params) => this.run(client, sql, params) });
      await client.query('commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * A cursor in a read-only transaction of its own: one snapshot for the whole stream, and a
   * statement timeout of `streamTimeout` instead of the per-request one, which would otherwise
   * cut long streams (a slow reader of a million rows) short.
   */
  async *stream(sql: string, params: readonly unknown[], batchSize: number): AsyncIterable<Row[]> {
    const client = await this.pool.connect();
    let failed: Error | undefined;
    try {
      await client.query('begin read only');
      await client.query(`set local statement_timeout = ${Math.max(0, Math.floor(this.options.streamTimeout))}`);
      this.options.onStatement?.(sql, params);
      const cursor = client.query(new Cursor<unknown[]>(sql, params as unknown[], { rowMode: 'array', types: RAW_TYPES }));
      try {
        for (;;) {
          const rows = await cursor.read(batchSize);
          if (rows.length === 0) return;
          yield rows;
        }
      } finally {
        await cursor.close().catch(() => undefined);
      }
    } catch (err) {
      failed = err as Error;
      throw err;
    } finally {
      await client.query(failed ? 'rollback' : 'commit').catch((e: Error) => (failed = e));
      client.release(failed);
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('select 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
