/**
 * What the HTTP shell needs to serve requests: configuration, the database, the dialect's SQL
 * compiler, the current schema snapshot and authentication/policies and the response cache (swapped whole on reload, never mutated).
 */
import type { Config } from './config/schema.ts';
import type { Database } from './db/database.ts';
import type { Snapshot } from './schema/model.ts';
import type { SqlCompiler } from './sql/compiler.ts';
import type { Auth } from './auth/auth.ts';
import type { ResponseCache } from './cache/response-cache.ts';
import type { RateLimiter } from './ratelimit/limiter.ts';

export interface Engine {
  readonly config: Config;
  readonly db: Database;
  readonly compiler: SqlCompiler;
  readonly snapshot: () => Snapshot;
  /** Credentials → principal → the role's view of the snapshot. */
  readonly auth: Auth;
  /** The response cache; null when `cache.enabled` is off. */
  readonly cache: ResponseCache | null;
  /** Rate limits (SPEC §7); null when `rateLimits` is absent or empty. */
  readonly rateLimiter?: RateLimiter | null;
}
