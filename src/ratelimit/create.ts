/**
 * Builds the rate limiter of a configuration: the rules, the Redis store when `redis.url` is set
 * (keys `{redis.prefix}rl:{limit name}:{caller}`), the fallback settings. Imported on demand, so
 * a server without `rateLimits` never loads the limiter, the Redis client or the Lua script.
 */
import type { Config } from '../config/schema.ts';
import { RateLimiter, type RateLimiterOptions } from './limiter.ts';
import { RedisLimitStore } from './redis-store.ts';
import { compileRules } from './rules.ts';

export type LimiterHooks = Pick<RateLimiterOptions, 'log' | 'onFallback' | 'onReject' | 'now'>;

/** @example const limiter = await createRateLimiter(config, { onReject: (name) => rejected.inc({ limit: name }) }) */
export async function createRateLimiter(config: Config, hooks: LimiterHooks = {}): Promise<RateLimiter> {
  const { url, prefix } = config.redis;
  const fallback = config.rateLimitFallback;
  const limiter = new RateLimiter({
    ...hooks,
    rules: compileRules(config.rateLimits ?? [], prefix),
    redis: url ? new RedisLimitStore({ url, now: hooks.now }) : null,
    instances: fallback.instances,
    probeInterval: fallback.probeInterval,
    maxBytes: fallback.maxBytes,
  });
  await limiter.start();
  return limiter;
}
