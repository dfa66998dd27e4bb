/**
 * SPEC §8 metrics as Prometheus sees them, on SQLite and PostgreSQL: `GET /metrics` in the text
 * format; request durations labelled by method, route TEMPLATE (with the resource name, never a
 * raw URL or id) and status; database statement times and pool usage by target; cache results
 * from X-Cache; the rate-limit and breaker instruments; Server-Timing; metrics switched off.
 * Metrics are per process and this file's instances share them, so counts are compared before
 * and after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, shop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';
import { rateLimitFallback, rateLimitRejected } from '../../src/metrics/signals.ts';

const API = '/api/v1';

/** The value of one sample line (`name{labels}`), 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const count = (route: string, status: number, method = 'GET') => `http_request_duration_seconds_count{method="${method}",route="${route}",status_code="${status}"}`;

describe.each(await dialects())('metrics (%s)', (dialect) => {
  let db: { url: string; dispose: () => Promise<void> };
  let s: TestSluice;
  let cached: TestSluice;
  const scrape = async (on: TestSluice = s) => {
    const res = await on.get('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    return res.body;
  };
  beforeAll(async () => {
    db = await shop(dialect);
    s = await startSluice({ url: db.url, flags: { 'server.timing': true } });
    cached = await startSluice({ url: db.url, flags: { 'cache.enabled': true, 'server.timing': true } });
  });
  afterAll(async () => {
    await s?.close();
    await cached?.close();
    await db?.dispose();
  });

  it('counts requests by method, route template with the resource name, and status; never by raw URL', async () => {
    const before = await scrape();
    for (const id of [1, 2, 3]) expect((await s.get(`${API}/orders/${id}`)).statusCode).toBe(200);
    expect((await s.get(`${API}/orders/999999999`)).statusCode).toBe(404);
    expect((await s.get(`${API}/orders?limit=2`)).statusCode).toBe(200);
    expect((await s.request('PATCH', `${API}/orders/4`, { status: 'shipped' })).statusCode).toBe(200);
    expect((await s.get(`${API}/no_such_table/7`)).statusCode).toBe(404);
    expect((await s.get('/not/a/route/123456')).statusCode).toBe(404);
    const after = await scrape();
    const delta = (series: string) => sample(after, series) - sample(before, series);
    expect(delta(count('/api/v1/orders/:id', 200))).toBe(3);
    expect(delta(count('/api/v1/orders/:id', 404))).toBe(1);
    expect(delta(count('/api/v1/orders', 200))).toBe(1);
    expect(delta(count('/api/v1/orders/:id', 200, 'PATCH'))).toBe(1);
    // A name that is not a resource keeps the template: label values stay a bounded set.
    expect(delta(count('/api/v1/:resource/:id', 404))).toBe(1);
    expect(delta(count('unmatched', 404))).toBe(1);
    expect(after).not.toMatch(/no_such_table|\/not\/a\/route|orders\/[0-9]/);
    // Buckets are cumulative and end in +Inf = count.
    const inf = sample(after, 'http_request_duration_seconds_bucket{method="GET",route="/api/v1/orders/:id",status_code="200",le="+Inf"}');
    expect(inf).toBe(sample(after, count('/api/v1/orders/:id', 200)));
    expect(sample(after, 'http_request_duration_seconds_sum{method="GET",route="/api/v1/orders/:id",status_code="200"}')).toBeGreaterThan(0);
    expect(after).toMatch(/^# TYPE http_request_duration_seconds histogram$/m);
    // The scrape itself is in flight while it is collected.
    expect(sample(after, 'http_requests_in_flight')).toBeGreaterThanOrEqual(1);
    expect(after).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(after).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(after).toMatch(/^nodejs_heap_space_size_used_bytes\{/m);
    // Left out on purpose (src/metrics/instruments.ts): an observer of every garbage collection.
    expect(after).not.toMatch(/nodejs_gc_duration_seconds/);
  });

  it('times database statements by target and operation, and shows pool usage where there is a pool', async () => {
    const before = await scrape();
    await s.get(`${API}/customers/5`);
    await s.request('PATCH', `${API}/orders/6`, { status: 'paid' });
    const after = await scrape();
    const delta = (series: string) => sample(after, series) - sample(before, series);
    expect(delta('sluice_db_query_duration_seconds_count{target="primary",operation="query"}')).toBeGreaterThanOrEqual(1);
    expect(delta('sluice_db_query_duration_seconds_count{target="primary",operation="transaction"}') + delta('sluice_db_query_duration_seconds_count{target="primary",operation="write"}')).toBeGreaterThanOrEqual(1);
    if (dialect === 'postgres') {
      expect(sample(after, 'sluice_db_pool_connections{target="primary",state="total"}')).toBeGreaterThanOrEqual(1);
      expect(after).toMatch(/^sluice_db_pool_connections\{target="primary",state="idle"\} \d+$/m);
      expect(after).toMatch(/^sluice_db_pool_waiting\{target="primary"\} 0$/m);
    } else {
      expect(after).not.toMatch(/^sluice_db_pool_connections\{/m); // SQLite has connections, no pool
    }
  });

  it('counts cache results by X-Cache (miss, then hit)', async () => {
    const before = await scrape(cached);
    const url = `${API}/products?limit=3&sort=-id`;
    expect((await cached.get(url)).headers['x-cache']).toBe('MISS');
    expect((await cached.get(url)).headers['x-cache']).toBe('HIT');
    expect((await cached.get(url)).headers['x-cache']).toBe('HIT');
    const after = await scrape(cached);
    expect(sample(after, 'sluice_cache_results_total{result="miss"}') - sample(before, 'sluice_cache_results_total{result="miss"}')).toBe(1);
    expect(sample(after, 'sluice_cache_results_total{result="hit"}') - sample(before, 'sluice_cache_results_total{result="hit"}')).toBe(2);
  });

  it('has the rate-limit and circuit-breaker instruments the other parts report into', async () => {
    const before = await scrape();
    expect(before).toMatch(/^sluice_circuit_breaker_state\{target="primary"\} 0$/m);
    rateLimitRejected('per-ip');
    rateLimitRejected('per-ip');
    rateLimitFallback(true);
    const after = await scrape();
    expect(sample(after, 'sluice_rate_limit_rejections_total{limit="per-ip"}') - sample(before, 'sluice_rate_limit_rejections_total{limit="per-ip"}')).toBe(2);
    expect(sample(after, 'sluice_rate_limit_fallback')).toBe(1);
    rateLimitFallback(false);
    expect(sample(await scrape(), 'sluice_rate_limit_fallback')).toBe(0);
  });

  it('Server-Timing shows parse, db, render and total for a read, total alone for a cache hit', async () => {
    const timing = String((await s.get(`${API}/orders/7`)).headers['server-timing']);
    const stages = Object.fromEntries(timing.split(', ').map((p) => {
      const [name, dur] = p.split(';dur=');
      return [name, Number(dur)];
    }));
    expect(Object.keys(stages)).toEqual(['parse', 'db', 'render', 'total']);
    for (const v of Object.values(stages)) expect(v).toBeGreaterThanOrEqual(0);
    expect(stages.total!).toBeGreaterThanOrEqual(stages.db!);
    const url = `${API}/orders/8`;
    await cached.get(url);
    const hit = await cached.get(url);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['server-timing']).toMatch(/^total;dur=\d+(\.\d)?$/);
    // A write's statements run in a transaction; they count as db too.
    const write = await s.request('PATCH', `${API}/orders/9`, { status: 'paid' });
    expect(String(write.headers['server-timing'])).toMatch(/db;dur=\d/);
  });
});

describe('metrics and Server-Timing switched off', () => {
  let db: { url: string; dispose: () => Promise<void> };
  let s: TestSluice;
  beforeAll(async () => {
    db = await shop('sqlite');
    // Server-Timing is off by default (as in PostgREST).
    s = await startSluice({ url: db.url, flags: { 'metrics.enabled': false } });
  });
  afterAll(async () => {
    await s?.close();
    await db?.dispose();
  });

  it('/metrics is a 404 problem and responses carry no Server-Timing', async () => {
    const res = await s.get('/metrics');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toBe('application/problem+json');
    const read = await s.get(`${API}/orders/1`);
    expect(read.statusCode).toBe(200);
    expect(read.headers['server-timing']).toBeUndefined();
  });

  it('a separate metrics port takes /metrics off the API port', async () => {
    const other = await startSluice({ url: db.url, flags: { 'metrics.port': 9 } });
    try {
      expect((await other.get('/metrics')).statusCode).toBe(404);
      expect((await other.get(`${API}/orders/1`)).statusCode).toBe(200);
    } finally {
      await other.close();
    }
  });
});
