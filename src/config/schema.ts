/**
 * The configuration contract (SPEC §1) as a zod schema with defaults. Durations and sizes accept
 * human units and come out as milliseconds and bytes. Sections that later capabilities enforce
 * (auth, roles, rateLimits, cache) are accepted in their documented shape so one file serves every
 * version; `serve` warns loudly about the ones this build does not enforce yet.
 */
import { z } from 'zod';
import { parseDuration, parseSize } from './units.ts';

/** A field given as a number, or as a string (environment, flags) that `parse` turns into one. */
function parsed<T>(parse: (v: unknown) => T | undefined, expected: string, fallback: T) {
  return z.union([z.number(), z.string(), z.boolean(), z.array(z.string())], { error: expected }).optional().transform((v, ctx) => {
    if (v === undefined) return fallback;
    const out = parse(v);
    if (out === undefined) {
      ctx.issues.push({ code: 'custom', message: expected, input: v });
      return z.NEVER;
    }
    return out;
  });
}

const duration = (fallback: string) => parsed(parseDuration, 'expected a duration such as 500ms, 2s, 15m or 1h', parseDuration(fallback)!);
const size = (fallback: string) => parsed(parseSize, 'expected a size such as 512kb or 1mb', parseSize(fallback)!);
const int = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => parsed((v) => {
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}, `expected an integer from ${min} to ${max}`, fallback);
const bool = (fallback: boolean) => parsed((v) => (v === true || v === 'true' ? true : v === false || v === 'false' ? false : undefined), 'expected true or false', fallback);
const list = (fallback: string[]) => parsed((v) => {
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
}, 'expected a list of strings (or a comma-separated string)', fallback);

/** `auto` (one per available core) or a count of worker processes. */
function workerCount(v: unknown): number | 'auto' | undefined {
  if (v === 'auto') return 'auto';
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 1024 ? n : undefined;
}

const databaseUrl = z.string({ error: 'expected a database URL (postgres://…, sqlite:path)' }).refine(
  (u) => u === '' || /^(postgres|postgresql):\/\//.test(u) || /^sqlite:/.test(u) || /\.(db|sqlite|sqlite3)$/.test(u),
  { error: 'expected postgres://…, postgresql://… or sqlite:path' },
);

// Role policies (SPEC §6): role → resource ('*' for any other) → action → rule. Names are checked
// against the database when it has been read (auth/policies.ts).
const filterSpec = z.union([z.string(), z.record(z.string(), z.unknown())], { error: 'expected a filter: an object such as { customer_id: $auth.sub } or a query string such as "status=paid"' });
const actionRule = z.union([
  z.literal('*'), z.literal(true),
  z.strictObject({
    filter: filterSpec.optional(),
    columns: z.union([z.literal('*'), z.array(z.string())], { error: "expected '*' or a list of column names" }).optional(),
    preset: z.record(z.string(), z.unknown()).optional(),
    check: filterSpec.optional(),
  }),
], { error: "expected '*', true or { filter, columns, preset, check }" });
const resourceRules = z.union([
  z.literal('*'),
  z.strictObject({ read: actionRule.optional(), create: actionRule.optional(), update: actionRule.optional(), delete: actionRule.optional() }),
], { error: "expected '*' or a map of actions (read, create, update, delete) to rules" });

/** The `cache` section: see the configuration reference in the README. */
const cacheSchema = z.strictObject({
  enabled: bool(true),
  /** How long an entry is fresh. */
  ttl: duration('60s'),
  /** Upper bound of the in-process cache (bodies, keys and bookkeeping). */
  maxBytes: size('64mb'),
  /** Past its TTL, an entry whose tables were not written is served while it is refreshed. */
  staleWhileRevalidate: duration('0s'),
  /** Past its TTL, an entry is served (X-Cache: STALE) when the database fails. */
  staleIfError: duration('5m'),
  /** How often the Redis tag counters are read back (a lost invalidation message is caught by then). */
  resync: duration('1s'),
  /**
   * How many times a request must be seen before its response is stored (nginx's
   * `proxy_cache_min_uses`): 2 keeps one-off URLs — a crawler, the long tail of ids — from
   * costing entry building, eviction of hot entries and Redis writes. 1: every response is stored.
   */
  minUses: int(1, 1, 100),
  resources: z.record(z.string(), z.strictObject({
    enabled: bool(true),
    ttl: parsed(parseDuration, 'expected a duration such as 500ms, 2s, 15m or 1h', undefined as number | undefined),
    /** `Cache-Control` of anonymous reads of the resource (authenticated ones are always private). */
    cacheControl: z.string().optional(),
  })).prefault({}),
});

// Rate limits (SPEC §7), see docs/rate-limits.md: a sliding log per caller, at most `limit`
// requests admitted in any `window`-long interval.
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const required = <T>(schema: z.ZodType<T | undefined, unknown>, expected: string) => schema.refine((v) => v !== undefined, { error: expected }).transform((v) => v as T);
const rateLimitSchema = z.strictObject({
  name: z.string({ error: 'expected a name' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'expected a name of 1 to 64 letters, digits, _ . or -' }),
  key: z.enum(['ip', 'apiKey', 'user', 'role'], { error: 'expected ip, apiKey, user or role' }),
  /** Upper bound: the log of a caller keeps one timestamp per admitted request of the window. */
  limit: required(parsed((v) => {
    const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
    return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 100_000 ? n : undefined;
  }, 'expected an integer from 1 to 100000', undefined as number | undefined), 'expected an integer from 1 to 100000'),
  window: required(parsed((v) => {
    const ms = parseDuration(v);
    return ms !== undefined && ms >= 1000 && ms <= 30 * 86_400_000 ? ms : undefined;
  }, 'expected a duration from 1s to 30d such as 1s, 15m or 1h', undefined as number | undefined), 'expected a duration from 1s to 30d such as 1s, 15m or 1h'),
  /** Only these methods count (GET covers HEAD); all when absent. */
  methods: z.array(z.string().transform((m) => m.toUpperCase()).pipe(z.enum(HTTP_METHODS, { error: `expected methods among ${HTTP_METHODS.join(', ')}` })), { error: 'expected a list of methods' }).min(1).optional(),
  /** Only these resources count; all when absent. */
  resources: z.array(z.string().min(1), { error: 'expected a list of resource names' }).min(1).optional(),
});
const rateLimitsSchema = z.array(rateLimitSchema, { error: 'expected a list of limits such as { name: per-ip, key: ip, limit: 100, window: 15m }' }).superRefine((limits, ctx) => {
  const seen = new Set<string>();
  limits.forEach((l, i) => {
    if (seen.has(l.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `expected a unique name: '${l.name}' is used twice`, input: l.name });
    seen.add(l.name);
  });
});

export const configSchema = z.strictObject({
  database: z.strictObject({
    url: databaseUrl.default(''),
    replicas: list([]),
    schemas: list(['public']),
    pool: z.strictObject({
      max: int(10, 1, 1000),
      acquireTimeout: duration('2s'),
      statementTimeout: duration('5s'),
      streamTimeout: duration('10m'),
      /** Most statements in flight on one connection (PostgreSQL pipelining); 1 turns it off. */
      pipeline: int(8, 1, 1000),
    }).prefault({}),
    preparedStatements: bool(true),
    searchConfig: z.string().regex(/^[a-z_][a-z0-9_.]*$/i, { error: 'expected a text search configuration name' }).default('simple'),
  }).prefault({}),
  redis: z.strictObject({
    url: z.string().optional(),
    /** Prepended to Sluice's keys and channels (several deployments may share one Redis). */
    prefix: z.string().regex(/^[A-Za-z0-9:_.-]*$/, { error: 'expected letters, digits and : _ . -' }).default('sluice:'),
  }).prefault({}),
  server: z.strictObject({
    port: int(8080, 0, 65535),
    host: z.string({ error: 'expected a host name or address' }).min(1).default('127.0.0.1'),
    basePath: z.string().regex(/^(\/[A-Za-z0-9._~-]+)*$/, { error: 'expected a path such as /api/v1 (no trailing slash)' }).default('/api/v1'),
    trustProxy: parsed((v) => (v === true || v === 'true' ? true : v === false || v === 'false' ? false : typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : Array.isArray(v) ? v : undefined), 'expected true, false or a list of addresses/CIDRs', false as boolean | string[]),
    headersTimeout: duration('10s'),
    requestTimeout: duration('30s'),
    keepAliveTimeout: duration('72s'),
    cors: z.strictObject({
      /** Allowed origins (`*` for any, without credentials); empty: no CORS headers. */
      origins: list([]),
      credentials: bool(false),
      maxAge: duration('10m'),
    }).prefault({}).refine((c) => !(c.credentials && c.origins.includes('*')), { error: "expected explicit origins: '*' cannot be combined with credentials" }),
    /** nosniff, no-referrer, frame-deny and a strict CSP on API responses. */
    securityHeaders: bool(true),
    /** `Strict-Transport-Security` (only behind TLS). */
    hsts: bool(false),
    /** gzip and brotli, negotiated by Accept-Encoding, for bodies from `threshold` bytes (streams always). */
    compression: z.strictObject({ enabled: bool(true), threshold: size('1kb') }).prefault({}),
    /** Processes serving the port (node:cluster): a number, or `auto` for one per available core. */
    workers: parsed(workerCount, "expected a number of workers from 1 to 1024, or 'auto'", 1 as number | 'auto'),
    /** After SIGTERM/SIGINT, readiness fails at once and requests are still served this long (load balancers notice). */
    drainDelay: duration('5s'),
    /** Then in-flight requests get this long to finish before their connections are cut. */
    shutdownTimeout: duration('20s'),
    /** `Server-Timing` on responses (parse, db, render, total); off by default, as in PostgREST (it costs every request a few microseconds). */
    timing: bool(false),
    /** 503 + Retry-After for new API requests while the event loop lags (health and metrics still answer). */
    loadShedding: z.strictObject({
      /**
       * 0 (the default, as in @fastify/under-pressure) turns shedding off: a process that also
       * runs synchronous SQLite queries or heavy start-up work lags without being overloaded.
       * deploy/ turns it on at 200ms.
       */
      maxEventLoopDelay: duration('0ms'),
      retryAfter: duration('2s'),
      /** How often the lag is sampled. */
      sampleInterval: duration('100ms'),
    }).prefault({}),
  }).prefault({}),
  /** Prometheus metrics at `GET /metrics` (docs/operations.md lists them). */
  metrics: z.strictObject({
    enabled: bool(true),
    /** A separate port for /metrics (then not served on the API port); 0: the API port. */
    port: int(0, 0, 65535),
    /** Address of the metrics port (default: server.host). */
    host: z.string().min(1).optional(),
  }).prefault({}),
  limits: z.strictObject({
    defaultLimit: int(25, 0, 1_000_000),
    maxLimit: int(1000, 1, 1_000_000),
    maxDepth: int(3, 0, 16),
    maxBatch: int(1000, 1, 100_000),
    maxAffected: int(10_000, 1, 100_000_000),
    maxStreamRows: int(1_000_000, 1, 1_000_000_000),
    bodySize: size('1mb'),
    maxUrlLength: int(8192, 256, 1_048_576),
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'expected one of fatal, error, warn, info, debug, trace, silent' }).default('info'),
    /** One line per request at info (request id, method, route, status, time, caller). */
    requests: bool(true),
  }).prefault({}),
  auth: z.strictObject({
    /** The role of callers without credentials; unset: they get 401 (the demo sets `anon`). */
    anonRole: z.string().min(1).optional(),
    /** Full access to every resource and the admin API (`/admin/*`); cannot be restricted. */
    adminRole: z.string().min(1).default('admin'),
    apiKeys: z.strictObject({
      /** Keys table created on start and `Authorization: Bearer sk_…` / `X-API-Key` accepted. */
      enabled: bool(true),
      /** How long a looked-up key is trusted before it is read again (revocation delay). */
      cacheTtl: duration('2s'),
      /** `last_used_at` is written in batches at this interval, not per request. */
      touchInterval: duration('30s'),
    }).prefault({}),
    jwt: z.strictObject({
      /** Shared secret of HS256/384/512 tokens (prefix `base64:` for a base64-encoded secret). */
      secret: z.string().min(1).optional(),
      /** PEM public key (SPKI) of RS*, PS*, ES* or EdDSA tokens. */
      publicKey: z.string().min(1).optional(),
      jwksUrl: z.url({ error: 'expected an http(s) URL' }).optional(),
      /** Find `jwks_uri` from `{issuer}/.well-known/openid-configuration`. */
      discovery: bool(false),
      issuer: z.string().min(1).optional(),
      audience: list([]),
      algorithms: list([]),
      /** Dotted path of the claim holding the role (`role`, `app_metadata.role`, `realm_access.roles`). */
      roleClaim: z.string().min(1).default('role'),
      /** The role of a verified token without a role claim; unset: such tokens get 403. */
      defaultRole: z.string().min(1).optional(),
      clockTolerance: duration('5s'),
      /** At most one JWKS refetch per interval for an unknown `kid`. */
      jwksCooldown: duration('30s'),
      jwksCacheMaxAge: duration('10m'),
    }).optional(),
    audit: z.strictObject({ enabled: bool(true) }).prefault({}),
  }).prefault({}),
  roles: z.record(z.string(), z.union([z.literal('*'), z.record(z.string(), resourceRules)], { error: "expected '*' or a map of resource names ('*' for any) to actions" })).optional(),
  rateLimits: rateLimitsSchema.optional(),
  /**
   * The in-process rate limiter: alone without Redis, in place of Redis while it fails. Then each
   * instance admits limit ÷ `instances` (at least 1), and Redis is probed every `probeInterval`.
   */
  rateLimitFallback: z.strictObject({
    instances: int(1, 1, 10_000),
    probeInterval: duration('1s'),
    maxBytes: size('16mb'),
  }).prefault({}),
  /**
   * The response cache (SPEC §5). Off unless the file has a `cache` section (`enabled: false`
   * keeps it off). ETags, 304s and If-Match work either way.
   */
  cache: cacheSchema.optional().transform((c) => c ?? cacheSchema.parse({ enabled: false })),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
