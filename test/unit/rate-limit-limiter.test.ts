/**
 * The limiter around the stores: the hooks a metric reads (`onReject` with the limit's name,
 * `onFallback` on every switch), one log line per outage however many requests fail, decisions
 * made locally without touching Redis while it is down (synchronously: no request waits for it),
 * Redis found back by the probe, and a start-up without Redis that begins on the fallback.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { RateLimiter, type LimiterLog } from '../../src/ratelimit/limiter.ts';
import { RedisLimitStore } from '../../src/ratelimit/redis-store.ts';
import { compileRules } from '../../src/ratelimit/rules.ts';
import { PrivateRedis, redisServerAvailable, uniquePrefix } from '../support/redis.ts';

const [rule] = compileRules([{ name: 'per-ip', key: 'ip', limit: 6, window: 60_000 }], uniquePrefix());
const key = (who: string) => rule!.keyPrefix + who;

function recorder() {
  const lines: Array<[level: string, message: string]> = [];
  const fallbacks: boolean[] = [];
  const rejects: string[] = [];
  const log: LimiterLog = { warn: (_o, m) => lines.push(['warn', m]), info: (_o, m) => lines.push(['info', m]) };
  return { lines, fallbacks, rejects, log, onFallback: (on: boolean) => fallbacks.push(on), onReject: (name: string) => rejects.push(name) };
}

const limiters: RateLimiter[] = [];
const servers: PrivateRedis[] = [];
afterEach(async () => {
  await Promise.all(limiters.splice(0).map((l) => l.close()));
  await Promise.all(servers.splice(0).map((r) => r.stop()));
});

describe('without Redis', () => {
  test('decides synchronously in process and reports each rejection by limit name', () => {
    const r = recorder();
    const limiter = new RateLimiter({ rules: [rule!], redis: null, instances: 3, ...r });
    limiters.push(limiter);
    const decisions = Array.from({ length: 8 }, () => limiter.decide([key('a')], [rule!]));
    expect(decisions.some((d) => d instanceof Promise)).toBe(false);
    // `instances` divides only the fallback of a shared limit: alone, the whole limit applies.
    expect(decisions.map((d) => (d as { admitted: boolean }).admitted)).toEqual([true, true, true, true, true, true, false, false]);
    expect(r.rejects).toEqual(['per-ip', 'per-ip']);
    expect(r.fallbacks).toEqual([]);
  });
});

describe.runIf(redisServerAvailable())('with a Redis that dies and comes back', () => {
  test('one warning and onFallback(true) per outage, local decisions at limit ÷ instances without waiting for Redis, then Redis again after the probe', async () => {
    const redis = await PrivateRedis.start();
    servers.push(redis);
    const r = recorder();
    const limiter = new RateLimiter({ rules: [rule!], redis: new RedisLimitStore({ url: redis.url }), instances: 3, probeInterval: 100, ...r });
    limiters.push(limiter);
    await limiter.start();
    const shared = await limiter.decide([key('b')], [rule!]);
    expect(shared).toMatchObject({ admitted: true, limit: 6, remaining: 5 });

    await redis.stop();
    // The request that meets the failure is decided locally, not failed.
    const first = await limiter.decide([key('c')], [rule!]);
    expect(first).toMatchObject({ admitted: true, limit: 2, remaining: 1 });
    expect(limiter.fallbackActive).toBe(true);
    const next = Array.from({ length: 20 }, () => limiter.decide([key('c')], [rule!]));
    expect(next.some((d) => d instanceof Promise), 'a request went to the dead Redis').toBe(false);
    expect(next.filter((d) => (d as { admitted: boolean }).admitted).length).toBe(1);
    expect(r.rejects.length).toBe(19);
    expect(r.fallbacks).toEqual([true]);
    expect(r.lines.filter(([level]) => level === 'warn')).toHaveLength(1);
    expect(r.lines[0]![1]).toContain('limit ÷ 3');

    await redis.start();
    for (let i = 0; i < 100 && limiter.fallbackActive; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(limiter.fallbackActive).toBe(false);
    expect(r.fallbacks).toEqual([true, false]);
    expect(r.lines.map(([level]) => level)).toEqual(['warn', 'info']);
    const again = limiter.decide([key('d')], [rule!]);
    expect(again).toBeInstanceOf(Promise);
    expect(await again).toMatchObject({ admitted: true, limit: 6, remaining: 5 });

    // A second outage is reported again, once.
    await redis.stop();
    for (let i = 0; i < 5; i++) await limiter.decide([key('e')], [rule!]);
    expect(r.fallbacks).toEqual([true, false, true]);
    expect(r.lines.filter(([level]) => level === 'warn')).toHaveLength(2);
  });

  test('a Redis that is not there at start-up: the limiter starts on the fallback and says so', async () => {
    const redis = await PrivateRedis.start();
    servers.push(redis);
    await redis.stop();
    const r = recorder();
    const limiter = new RateLimiter({ rules: [rule!], redis: new RedisLimitStore({ url: redis.url }), instances: 2, probeInterval: 100, ...r });
    limiters.push(limiter);
    await limiter.start();
    expect(limiter.fallbackActive).toBe(true);
    expect(r.fallbacks).toEqual([true]);
    expect(limiter.decide([key('f')], [rule!])).toMatchObject({ admitted: true, limit: 3 });
    await redis.start();
    for (let i = 0; i < 100 && limiter.fallbackActive; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.fallbacks).toEqual([true, false]);
  });
});
