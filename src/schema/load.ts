/** Introspects the database of the right dialect and builds the snapshot. */
import type { Database } from '../db/database.ts';
import type { Snapshot } from './model.ts';
import { introspectPostgres } from './introspect/postgres.ts';
import { introspectSqlite } from './introspect/sqlite.ts';
import { buildSnapshot } from './snapshot.ts';

/** @example const snapshot = await loadSnapshot(db, ['public']) */
export async function loadSnapshot(db: Database, schemas: readonly string[]): Promise<Snapshot> {
  if (db.dialect === 'postgres') return buildSnapshot('postgres', await introspectPostgres(db, schemas), schemas);
  return buildSnapshot('sqlite', await introspectSqlite(db), ['main']);
}
