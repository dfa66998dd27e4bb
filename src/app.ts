/**
 * Assembles a running Sluice: database, schema snapshot, SQL compiler and the HTTP shell.
 * `createSluice` is what `sluice serve` runs and what the tests start with `inject()`.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.ts';
import type { Database, StatementListener } from './db/database.ts';
import type { Snapshot } from './schema/model.ts';
import type { SqlCompiler } from './sql/compiler.ts';
import type { Engine } from './engine.ts';
import { openDatabase } from './db/open.ts';
import { loadSnapshot } from './schema/load.ts';
import { PostgresCompiler } from './sql/dialect/postgres.ts';
import { SqliteCompiler } from './sql/dialect/sqlite.ts';
import { buildServer } from './http/server.ts';
import { Auth } from './auth/auth.ts';
import { ApiKeyStore } from './auth/api-keys.ts';
import { JwtVerifier, checkJwtConfig } from './auth/jwt.ts';
import { ensureSystemTables } from './auth/system-tables.ts';

export interface SluiceOptions {
  readonly config: Config;
  /** Called with every SQL statement sent (tests count them). */
  readonly onStatement?: StatementListener;
  readonly logger?: boolean | Record<string, unknown>;
}

export interface Sluice {
  readonly app: FastifyInstance;
  readonly engine: Engine;
  readonly db: Database;
  snapshot(): Snapshot;
  close(): Promise<void>;
}

export function compilerFor(db: Database, config: Config): SqlCompiler {
  return db.dialect === 'postgres' ? new PostgresCompiler(config.database.searchConfig) : new SqliteCompiler();
}

/** @example const sluice = await createSluice({ config }); await sluice.app.listen({ port: 8080 }) */
export async function createSluice(options: SluiceOptions): Promise<Sluice> {
  const { config } = options;
  const log: { app?: FastifyInstance } = {};
  const db = openDatabase(config.database, {
    onStatement: options.onStatement,
    onError: (err) => log.app?.log.warn({ err }, 'database connection error'),
  });
  let snapshot: Snapshot;
  let auth: Auth;
  try {
    const { apiKeys, audit, jwt } = config.auth;
    if (jwt) checkJwtConfig(jwt);
    if (apiKeys.enabled || audit.enabled) await ensureSystemTables(db, { apiKeys: apiKeys.enabled, audit: audit.enabled });
    snapshot = await loadSnapshot(db, config.database.schemas);
    const keys = apiKeys.enabled ? new ApiKeyStore(db, { cacheTtl: apiKeys.cacheTtl, touchInterval: apiKeys.touchInterval }) : null;
    auth = new Auth({ config, keys, jwt: jwt ? new JwtVerifier(jwt) : null });
    // Policies name resources and columns: checked now, so a mistake stops start-up.
    auth.policies(snapshot);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  const engine: Engine = { config, db, compiler: compilerFor(db, config), snapshot: () => snapshot, auth };
  const app = buildServer({ engine, logger: options.logger });
  log.app = app;
  return {
    app, engine, db,
    snapshot: () => snapshot,
    async close() {
      await app.close();
      await auth.keys?.close();
      await db.close();
    },
  };
}
