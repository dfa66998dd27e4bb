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
  readonly preparedStatements: boolean;
  readonly onStatement?: StatementListener | undefined;
  readonly onError?: ((err: Error) => void) | undefined;
}

/** Every column arrives as the server's text; nothing is parsed in JavaScript. */
const RAW_TYPES = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;
/** Distinct statements prepared per connection before new shapes run unnamed. */
const MAX_PREPARED = 256;

export class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;
  readonly pool: pg.Pool;
  private readonly names = new Map<string, string>();
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

  private name(sql: string): string | undefined {
    if (!this.options.preparedStatements) return undefined;
    let name = this.names.get(sql);
    if (name === undefined && this.names.size < MAX_PREPARED) this.names.set(sql, (name = `s${this.names.size}`));
    return name;
  }

  private async run(client: pg.Pool | pg.PoolClient, sql: string, params: readonly unknown[]): Promise<Row[]> {
    this.options.onStatement?.(sql, params);
    const name = this.name(sql);
    const result = await client.query<unknown[]>({ text: sql, values: params as unknown[], rowMode: 'array', ...(name ? { name } : {}) });
    return result.rows;
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

  async *stream(sql: string, params: readonly unknown[], batchSize: number): AsyncIterable<Row[]> {
    const client = await this.pool.connect();
    this.options.onStatement?.(sql, params);
    const cursor = client.query(new Cursor<unknown[]>(sql, params as unknown[], { rowMode: 'array', types: RAW_TYPES }));
    let failed: Error | undefined;
    try {
      for (;;) {
        const rows = await cursor.read(batchSize);
        if (rows.length === 0) return;
        yield rows;
      }
    } catch (err) {
      failed = err as Error;
      throw err;
    } finally {
      if (!failed) await cursor.close().catch((e: Error) => (failed = e));
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
