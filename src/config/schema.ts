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

const databaseUrl = z.string({ error: 'expected a database URL (postgres://…, sqlite:path)' }).refine(
  (u) => u === '' || /^(postgres|postgresql):\/\//.test(u) || /^sqlite:/.test(u) || /\.(db|sqlite|sqlite3)$/.test(u),
  { error: 'expected postgres://…, postgresql://… or sqlite:path' },
);

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
    }).prefault({}),
    preparedStatements: bool(true),
    searchConfig: z.string().regex(/^[a-z_][a-z0-9_.]*$/i, { error: 'expected a text search configuration name' }).default('simple'),
  }).prefault({}),
  redis: z.strictObject({ url: z.string().optional() }).prefault({}),
  server: z.strictObject({
    port: int(8080, 0, 65535),
    host: z.string({ error: 'expected a host name or address' }).min(1).default('127.0.0.1'),
    basePath: z.string().regex(/^(\/[A-Za-z0-9._~-]+)*$/, { error: 'expected a path such as /api/v1 (no trailing slash)' }).default('/api/v1'),
    trustProxy: parsed((v) => (v === true || v === 'true' ? true : v === false || v === 'false' ? false : typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : Array.isArray(v) ? v : undefined), 'expected true, false or a list of addresses/CIDRs', false as boolean | string[]),
    headersTimeout: duration('10s'),
    requestTimeout: duration('30s'),
    keepAliveTimeout: duration('72s'),
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
  }).prefault({}),
  // Enforced by later capabilities; accepted now so one configuration file serves every version.
  auth: z.record(z.string(), z.unknown()).optional(),
  roles: z.record(z.string(), z.unknown()).optional(),
  rateLimits: z.array(z.unknown()).optional(),
  cache: z.record(z.string(), z.unknown()).optional(),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
