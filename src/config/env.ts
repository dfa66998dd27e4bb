/**
 * The environment variables Sluice reads: `SLUICE_` + the configuration path in SNAKE_CASE
 * (`limits.maxLimit` → `SLUICE_LIMITS_MAX_LIMIT`), plus the short aliases of SPEC §1.
 */
const LEAVES = [
  'database.url', 'database.replicas', 'database.schemas', 'database.pool.max', 'database.pool.acquireTimeout',
  'database.pool.statementTimeout', 'database.pool.streamTimeout', 'database.preparedStatements', 'database.searchConfig',
  'redis.url', 'redis.prefix', 'cache.enabled', 'cache.ttl', 'cache.maxBytes', 'cache.staleWhileRevalidate', 'cache.staleIfError',
  'server.port', 'server.host', 'server.basePath', 'server.trustProxy', 'server.headersTimeout',
  'server.requestTimeout', 'server.keepAliveTimeout',
  'limits.defaultLimit', 'limits.maxLimit', 'limits.maxDepth', 'limits.maxBatch', 'limits.maxAffected',
  'limits.maxStreamRows', 'limits.bodySize', 'limits.maxUrlLength',
  'server.cors.origins', 'server.cors.credentials', 'server.securityHeaders', 'server.hsts',
  'server.compression.enabled', 'server.compression.threshold',
  'log.level',
  // Operations (docs/operations.md): workers, shutdown, load shedding, metrics, request logs.
  'server.workers', 'server.drainDelay', 'server.shutdownTimeout', 'server.timing', 'server.loadShedding.maxEventLoopDelay',
  'server.loadShedding.retryAfter', 'metrics.enabled', 'metrics.port', 'metrics.host', 'log.requests',
  'auth.anonRole', 'auth.adminRole', 'auth.apiKeys.enabled', 'auth.apiKeys.cacheTtl', 'auth.audit.enabled',
  'auth.jwt.secret', 'auth.jwt.jwksUrl', 'auth.jwt.issuer', 'auth.jwt.audience', 'auth.jwt.algorithms', 'auth.jwt.roleClaim',
  // Rate limits: the instance count differs per deployment, so it may come from the environment.
  'rateLimitFallback.instances', 'rateLimitFallback.probeInterval',
] as const;

const ALIASES: Record<string, string> = { SLUICE_PORT: 'server.port', SLUICE_HOST: 'server.host' };

/** `limits.maxLimit` → `SLUICE_LIMITS_MAX_LIMIT` */
export function envName(path: string): string {
  return 'SLUICE_' + path.split('.').map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

/** Every variable Sluice reads, with the configuration path it sets (for docs and `--help`). */
export const ENV_VARIABLES: ReadonlyArray<readonly [name: string, path: string]> = [
  ...Object.entries(ALIASES),
  ...LEAVES.map((p) => [envName(p), p] as const),
];

/** The values the environment sets, as `path → raw string`. */
export function readEnv(env: NodeJS.ProcessEnv): Map<string, { value: string; source: string }> {
  const out = new Map<string, { value: string; source: string }>();
  for (const [name, path] of ENV_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== '') out.set(path, { value, source: name });
  }
  return out;
}
