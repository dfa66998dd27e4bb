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
import type { ResponseCache } from './cache/response-cache.ts';
import type { RedisStore } from './cache/redis-store.ts';
import type { RateLimiter } from './ratelimit/limiter.ts';
import { mapDatabaseError } from './db/errors.ts';
import { rateLimitFallback, rateLimitRejected } from './metrics/signals.ts';
import { SluiceError } from './errors/registry.ts';
import { opsFor, type Ops } from './ops/setup.ts';

/** Errors after which a cached read may be served stale (stale-if-error). */
const UNAVAILABLE = new Set(['SLUICE_DATABASE_UNAVAILABLE', 'SLUICE_POOL_TIMEOUT', 'SLUICE_STATEMENT_TIMEOUT']);
const unavailable = (err: unknown) => {
  const mapped = err instanceof SluiceError ? err : mapDatabaseError(err, false);
  return mapped instanceof SluiceError && UNAVAILABLE.has(mapped.code);
};

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
  /** Metrics, traces, load shedding and the drain state of this instance (src/ops/setup.ts). */
  readonly ops: Ops;
  /** Starts draining: /health/ready fails and responses close their connections. */
  drain(): void;
  close(): Promise<void>;
}

export function compilerFor(db: Database, config: Config): SqlCompiler {
  return db.dialect === 'postgres' ? new PostgresCompiler(config.database.searchConfig) : new SqliteCompiler();
}

/** @example const sluice = await createSluice({ config }); await sluice.app.listen({ port: 8080 }) */
export async function createSluice(options: SluiceOptions): Promise<Sluice> {
  const { config } = options;
  const log: { app?: FastifyInstance } = {};
  const ops = await opsFor(config);
  const db = ops.database(openDatabase(config.database, {
    onStatement: options.onStatement,
    onError: (err) => log.app?.log.warn({ err }, 'database connection error'),
  }));
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
    await ops.close();
    throw err;
  }
  // Redis errors are logged at most once per 10 s: a Redis that is down must not flood the log.
  let redisLogged = 0;
  const redisError = (err: Error) => {
    if (Date.now() - redisLogged < 10_000) return;
    redisLogged = Date.now();
    log.app?.log.warn({ err: { message: err.message } }, 'redis unavailable: the cache runs on this instance alone until it is back');
  };
  // Loaded only when used: the Redis client and the LRU are memory a server without them does not need.
  let redis: RedisStore | null = null;
  let cache: ResponseCache | null = null;
  if (config.cache.enabled) {
    const [{ RedisStore }, { TagVersions }, { ResponseCache }] = await Promise.all([import('./cache/redis-store.ts'), import('./cache/versions.ts'), import('./cache/response-cache.ts')]);
    redis = config.redis.url ? new RedisStore({ url: config.redis.url, prefix: config.redis.prefix, onError: redisError }) : null;
    const versions = new TagVersions({ redis, resync: config.cache.resync, onError: redisError });
    await versions.start();
    cache = new ResponseCache({ maxBytes: config.cache.maxBytes, minUses: config.cache.minUses, versions, redis, unavailable, onError: redisError });
  }
  // Loaded only when limits are configured: a server without them runs no limit code at all.
  let rateLimiter: RateLimiter | null = null;
  if (config.rateLimits?.length) {
    const { createRateLimiter } = await import('./ratelimit/create.ts');
    rateLimiter = await createRateLimiter(config, {
      log: { warn: (o, m) => log.app?.log.warn(o, m), info: (o, m) => log.app?.log.info(o, m) },
      onReject: rateLimitRejected,
      onFallback: rateLimitFallback,
    });
  }
  const engine: Engine = { config, db, compiler: compilerFor(db, config), snapshot: () => snapshot, auth, cache, rateLimiter };
  const app = buildServer({ engine, logger: options.logger, lifecycle: ops.lifecycle, observers: ops.observers });
  log.app = app;
  ops.lifecycle.watch(app.server);
  return {
    app, engine, db,
    snapshot: () => snapshot,
    ops,
    drain: () => ops.lifecycle.drain(),
    async close() {
      await app.close();
      await auth.keys?.close();
      await cache?.versions.close();
      await redis?.close();
      await rateLimiter?.close();
      await db.close();
      await ops.close();
    },
  };
}
