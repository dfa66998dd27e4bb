/**
 * Rate limits shared through Redis by two Sluice instances (SQLite, inject): a limit of N admits
 * exactly N requests across both under concurrent load; and with a Redis of the test's own killed
 * mid-test, each instance keeps limiting on its own at limit ÷ `rateLimitFallback.instances`
 * (the headers say so), and the shared limit is back once Redis is.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { shop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';
import { PrivateRedis, REDIS_URL, redisAvailable, redisServerAvailable, uniquePrefix } from '../support/redis.ts';

const API = '/api/v1';
const withRedis = await redisAvailable();

const flags = (redisUrl: string, prefix: string, extra: Record<string, unknown> = {}) => ({
  'redis.url': redisUrl, 'redis.prefix': prefix,
  rateLimits: [{ name: 'per-ip', key: 'ip', limit: 20, window: '30s' }],
  ...extra,
});
const from = (s: TestSluice, address: string, path = '/products/1'): Promise<LightMyRequestResponse> =>
  s.sluice.app.inject({ method: 'GET', url: `${API}${path}`, remoteAddress: address });
/** `n` concurrent requests from `address`, alternating between the instances; the status codes. */
async function storm(instances: TestSluice[], address: string, n: number): Promise<LightMyRequestResponse[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => from(instances[i % instances.length]!, address, i % 3 ? '/products/1' : '/orders?limit=2')));
}
const admitted = (responses: LightMyRequestResponse[]) => responses.filter((r) => r.statusCode === 200).length;

describe.runIf(withRedis)('two instances sharing the machine\'s Redis', () => {
  let db: { url: string; dispose: () => Promise<void> };
  let a: TestSluice, b: TestSluice;
  beforeAll(async () => {
    db = await shop('sqlite');
    const prefix = uniquePrefix();
    a = await startSluice({ url: db.url, flags: flags(REDIS_URL, prefix) });
    b = await startSluice({ url: db.url, flags: flags(REDIS_URL, prefix) });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.dispose();
  });

  test('a limit of 20 admits exactly 20 of 60 concurrent requests across both instances; the rest are 429s', async () => {
    const responses = await storm([a, b], '198.51.100.1', 60);
    expect(admitted(responses)).toBe(20);
    const refused = responses.filter((r) => r.statusCode !== 200);
    expect(refused.map((r) => r.statusCode)).toEqual(Array(40).fill(429));
    for (const r of refused) {
      expect(r.json().code).toBe('SLUICE_RATE_LIMITED');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(30);
    }
    // Every admitted response saw a different remaining count: one shared log, no lost update.
    const remaining = responses.filter((r) => r.statusCode === 200).map((r) => Number(r.headers['ratelimit-remaining'])).sort((x, y) => x - y);
    expect(remaining).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const s of [a, b]) expect((await from(s, '198.51.100.1')).statusCode).toBe(429);
    // Another address has its own budget on both.
    expect((await from(b, '198.51.100.2')).headers['ratelimit-remaining']).toBe('19');
    expect((await from(a, '198.51.100.2')).headers['ratelimit-remaining']).toBe('18');
  });
});

describe.runIf(withRedis && redisServerAvailable())('Redis killed mid-test', () => {
  let db: { url: string; dispose: () => Promise<void> };
  let redis: PrivateRedis;
  let a: TestSluice, b: TestSluice;
  beforeAll(async () => {
    db = await shop('sqlite');
    redis = await PrivateRedis.start();
    const prefix = uniquePrefix();
    const extra = { 'rateLimitFallback.instances': 2, 'rateLimitFallback.probeInterval': '200ms' };
    a = await startSluice({ url: db.url, flags: flags(redis.url, prefix, extra) });
    b = await startSluice({ url: db.url, flags: flags(redis.url, prefix, extra) });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
    await db?.dispose();
  });

  test('each instance limits alone at 20 ÷ 2 while Redis is down, and the limit is shared again once it is back', async () => {
    // Shared: 20 across both.
    expect(admitted(await storm([a, b], '203.0.113.1', 30))).toBe(20);

    await redis.stop();
    const started = Date.now();
    const down = await storm([a, b], '203.0.113.2', 30);
    expect(Date.now() - started).toBeLessThan(2_000); // no request waits for the dead Redis
    expect(down.every((r) => r.statusCode === 200 || r.statusCode === 429)).toBe(true);
    expect(admitted(down)).toBe(20); // 10 on each: together still within the limit
    for (const s of [a, b]) {
      const res = await from(s, '203.0.113.3');
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-limit']).toBe('10');
      expect(res.headers['ratelimit-remaining']).toBe('9');
      expect(s.sluice.engine.rateLimiter!.fallbackActive).toBe(true);
    }
    const alone = [];
    for (let i = 0; i < 12; i++) alone.push((await from(a, '203.0.113.4')).statusCode);
    expect(alone.filter((c) => c === 200).length).toBe(10);

    await redis.start();
    let shared = false;
    for (let i = 0; i < 100 && !shared; i++) {
      await sleep(100);
      shared = [a, b].every((s) => !s.sluice.engine.rateLimiter!.fallbackActive);
    }
    expect(shared, 'Redis was not used again within 10 s of its restart').toBe(true);
    const back = await storm([a, b], '203.0.113.5', 30);
    expect(admitted(back)).toBe(20);
    expect(back.find((r) => r.statusCode === 200)!.headers['ratelimit-limit']).toBe('20');
  });
});
