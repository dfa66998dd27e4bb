/**
 * PostgreSQL through node-postgres: statements of different requests pipelined on shared
 * connections (db/pipeline-pool.ts), transactions and cursors on connections of their own, acquire
 * and statement timeouts, every value read as raw text (the JSON the database built passes
 * through untouched), statements prepared by name (bounded, and off for PgBouncer in transaction
 * mode), streams through a server-side cursor.
 */
import type pg from 'pg';
import Cursor from 'pg-cursor';
import type { Database, Executor, Row, StatementListener } from './database.ts';
import { PipelinePool, type StatementShape } from './pipeline-pool.ts';

export interface PostgresOptions {
  readonly url: string;
  readonly max: number;
  readonly acquireTimeout: number;
  readonly statementTimeout: number;
  /** Most statements in flight on one shared connection (1: no pipelining). */
  readonly pipeline: number;
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

export class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;
  readonly pool: PipelinePool;
  private readonly named = new Map<string, StatementShape>();
  /** Texts seen once, oldest first (candidates for a name). */
  private readonly seen = new Set<string>();
  private readonly options: PostgresOptions;

  constructor(options: PostgresOptions) {
    this.options = options;
    this.pool = new PipelinePool({
      client: {
        connectionString: options.url,
        connectionTimeoutMillis: options.acquireTimeout,
        statement_timeout: options.statementTimeout || undefined,
        application_name: 'sluice',
        options: '-c TimeZone=UTC',
        types: RAW_TYPES,
      },
      max: options.max,
      depth: options.pipeline,
      acquireTimeout: options.acquireTimeout,
      idleTimeout: 30_000,
      onError: options.onError,
    });
  }

  poolStats(): { total: number; idle: number; waiting: number } {
    return this.pool.stats();
  }

  /**
   * The query config of a statement text. Statements are prepared by name once they recur: a text
   * seen for the second time gets a name (at most MAX_PREPARED of them, never reused, since every
   * connection keeps what it prepared). One-off texts — a crawler's offsets — run unnamed and use
   * up nothing.
   */
  private shape(sql: string): StatementShape {
    const named = this.named.get(sql);
    if (named !== undefined) return named;
    if (!this.options.preparedStatements || this.named.size >= MAX_PREPARED) return { text: sql };
    if (!this.seen.delete(sql)) {
      if (this.seen.size >= MAX_SEEN) this.seen.delete(this.seen.values().next().value!);
      this.seen.add(sql);
      return { text: sql };
    }
    const shape: StatementShape = { name: `s${this.named.size}`, text: sql };
    this.named.set(sql, shape);
    return shape;
  }

  /** One statement on a shared connection; this runs once per request. */
  query(sql: string, params: readonly unknown[]): Promise<Row[]> {
    this.options.onStatement?.(sql, params);
    return this.pool.query(this.shape(sql), params as unknown[]);
  }

  /** A write of one statement commits on its own: it shares connections like a read. */
  write(sql: string, params: readonly unknown[]): Promise<Row[]> {
    return this.query(sql, params);
  }

  async transaction<T>(work: (tx: Executor) => Promise<T>): Promise<T> {
    const { client, release } = await this.pool.reserve();
    let broken: Error | undefined;
    try {
      await client.query('begin');
      const result = await work({
        query: (sql, params) => {
          this.options.onStatement?.(sql, params);
          const config = { ...this.shape(sql), values: params as unknown[], rowMode: 'array' as const };
          return client.query<unknown[]>(config).then((r) => r.rows);
        },
      });
      await client.query('commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      release(broken);
    }
  }

  /**
   * A cursor in a read-only transaction of its own: one snapshot for the whole stream, and a
   * statement timeout of `streamTimeout` instead of the per-request one, which would otherwise
   * cut long streams (a slow reader of a million rows) short.
   */
  async *stream(sql: string, params: readonly unknown[], batchSize: number): AsyncIterable<Row[]> {
    const { client, release } = await this.pool.reserve();
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
      release(failed);
    }
  }

  async ping(): Promise<void> {
    await this.pool.query({ text: 'select 1' }, []);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
