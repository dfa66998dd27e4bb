/**
 * What the HTTP shell needs to serve requests: configuration, the database, the dialect's SQL
 * compiler and the current schema snapshot (swapped whole on reload, never mutated).
 */
import type { Config } from './config/schema.ts';
import type { Database } from './db/database.ts';
import type { Snapshot } from './schema/model.ts';
import type { SqlCompiler } from './sql/compiler.ts';

export interface Engine {
  readonly config: Config;
  readonly db: Database;
  readonly compiler: SqlCompiler;
  readonly snapshot: () => Snapshot;
}
