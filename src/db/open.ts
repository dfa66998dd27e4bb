/** Opens the database a URL names: `postgres://…`, `sqlite:path`, or a path ending in .db/.sqlite. */
import type { Config } from '../config/schema.ts';
import type { Database, StatementListener } from './database.ts';
import { PostgresDatabase } from './postgres.ts';
import { SqliteDatabase } from './sqlite.ts';

/** `sqlite:./shop.db` → `./shop.db`; `sqlite::memory:` → `:memory:` */
export function sqlitePath(url: string): string {
  return url.startsWith('sqlite:') ? url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') : url;
}

export function openDatabase(config: Config['database'], hooks: { onStatement?: StatementListener; onError?: (err: Error) => void } = {}): Database {
  const { url } = config;
  if (/^postgres(ql)?:\/\//.test(url)) {
    return new PostgresDatabase({
      url, max: config.pool.max, acquireTimeout: config.pool.acquireTimeout, statementTimeout: config.pool.statementTimeout,
      streamTimeout: config.pool.streamTimeout, pipeline: config.pool.pipeline,
      preparedStatements: config.preparedStatements, onStatement: hooks.onStatement, onError: hooks.onError,
    });
  }
  return new SqliteDatabase({ path: sqlitePath(url), onStatement: hooks.onStatement, busyTimeout: Math.min(config.pool.acquireTimeout, 30_000) });
}
