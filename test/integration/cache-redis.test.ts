/**
 * The response cache across instances and failures, with real processes around Sluice: two
 * instances sharing Redis and a database (a write on one is seen fresh on the other within
 * 100 ms of its commit), a Redis of the test's own stopped mid-test (the API stays up on the
 * local cache, and catches up when Redis is back), and the database cut off behind a TCP proxy
 * (stale-if-error serves what it has, marked STALE; anything else is a clean 503).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, postgresAvailable, shop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';
import { PrivateRedis, REDIS_URL, redisAvailable, redisServerAvailable, uniquePrefix } from '../support/redis.ts';

const API = '/api/v1';
const cacheFlags = (redisUrl: string, prefix: string) => ({ 'cache.enabled': true, 'cache.ttl': '60s', 'cache.resync': '200ms', 'redis.url': redisUrl, 'redis.prefix': prefix });
const status = (res: { json(): unknown }) => (res.json() as { data: { status: string } }).data.status;

const withRedis = await redisAvailable();

describe.runIf(withRedis).each(await dialects())('two instances sharing Redis (%s)', (dialect) => {
  let db: { url: string; dispose: () => Promise<void> };
  let a: TestSluice, b: TestSluice;
  beforeAll(async () => {
    db = await shop(dialect);
    const prefix = uniquePrefix();
    a = await startSluice({ url: db.url, flags: cacheFlags(REDIS_URL, prefix) });
    b = await startSluice({ url: db.url, flags: cacheFlags(REDIS_URL, prefix) });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.dispose();
  });

  it('a write on A is seen on B within 100 ms of its commit', async () => {
    for (const [i, next] of ['shipped', 'cancelled', 'pending', 'paid', 'shipped'].entries()) {
      const url = `${API}/orders/${20 + i}`;
      await b.get(url);
      expect((await b.get(url)).headers['x-cache']).toBe('HIT');
      const write = await a.request('PATCH', url, { status: next });
      expect(write.statusCode).toBe(200);
      const committed = Date.now(); // the response comes after the commit and the publish
      let seen: number | null = null;
      while (Date.now() - committed < 1000) {
        const res = await b.get(url);
        if (status(res) === next) {
          seen = Date.now() - committed;
          break;
        }
        await sleep(2);
      }
      expect(seen, `B still served the old row ${Date.now() - committed} ms after the commit`).not.toBeNull();
      expect(seen!).toBeLessThanOrEqual(100);
    }
  });

  it('B fills its cache from the entry A stored in Redis (no SQL on B)', async () => {
    const url = `${API}/orders?status=pending&limit=4&sort=-id`;
    expect((await a.get(url)).headers['x-cache']).toBe('MISS');
    await sleep(50); // A stores the shared entry after answering
    b.statements.length = 0;
    const res = await b.get(url);
    expect(res.headers['x-cache']).toBe('HIT');
    expect(b.statements).toEqual([]);
    // …and a write on B makes A's entry stale for A as well.
    const id = (res.json().data as Array<{ id: number }>)[0]!.id;
    expect((await b.request('PATCH', `${API}/orders/${id}`, { status: 'paid' })).statusCode).toBe(200);
    await sleep(50);
    const again = await a.get(url);
    expect(again.headers['x-cache']).toBe('MISS');
    expect((again.json().data as Array<{ id: number }>).map((o) => o.id)).not.toContain(id);
  });
});

describe.runIf(withRedis && redisServerAvailable()).each(await dialects())('Redis going away mid-test (%s)', (dialect) => {
  let db: { url: string; dispose: () => Promise<void> };
  let redis: PrivateRedis;
  let a: TestSluice, b: TestSluice;
  beforeAll(async () => {
    db = await shop(dialect);
    redis = await PrivateRedis.start();
    const prefix = uniquePrefix();
    a = await startSluice({ url: db.url, flags: cacheFlags(redis.url, prefix) });
    b = await startSluice({ url: db.url, flags: cacheFlags(redis.url, prefix) });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
    await db?.dispose();
  });

  it('the API stays up on the local cache, local writes still invalidate, and B catches up when Redis is back', async () => {
    const url = `${API}/orders/30`;
    await b.get(url);
    await a.get(url);
    await redis.stop();
    // Reads keep working on both, from their own caches.
    for (const s of [a, b]) {
      const res = await s.get(url);
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-cache']).toBe('HIT');
    }
    const fresh = await a.get(`${API}/orders/31`);
    expect(fresh.statusCode).toBe(200);
    expect(fresh.headers['x-cache']).toBe('MISS');
    // A write on A while Redis is down: A's own cache is invalidated at once.
    const started = Date.now();
    expect((await a.request('PATCH', url, { status: 'cancelled' })).statusCode).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(status(await a.get(url))).toBe('cancelled');
    // Redis back: A publishes the write it could not, B drops its stale entry.
    await redis.start();
    let caught = false;
    for (let i = 0; i < 100 && !caught; i++) {
      caught = status(await b.get(url)) === 'cancelled';
      if (!caught) await sleep(50);
    }
    expect(caught, 'B never saw the write made while Redis was down').toBe(true);
    // And invalidation across instances works again.
    await b.get(url);
    expect((await a.request('PATCH', url, { status: 'shipped' })).statusCode).toBe(200);
    let seen = false;
    for (let i = 0; i < 50 && !seen; i++) {
      seen = status(await b.get(url)) === 'shipped';
      if (!seen) await sleep(10);
    }
    expect(seen).toBe(true);
  });
});

/** A TCP proxy in front of PostgreSQL that the test can cut. */
class Proxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;
  async start(port = 0): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(5432, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }
  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}

describe.runIf(await postgresAvailable())('stale-if-error with the database cut off (postgres)', () => {
  let db: { url: string; dispose: () => Promise<void> };
  const proxy = new Proxy();
  let s: TestSluice;
  beforeAll(async () => {
    db = await shop('postgres');
    await proxy.start();
    const url = db.url.replace('127.0.0.1:5432', `127.0.0.1:${proxy.port}`).replace('localhost:5432', `127.0.0.1:${proxy.port}`);
    expect(url).toContain(String(proxy.port));
    s = await startSluice({ url, flags: { 'cache.enabled': true, 'cache.ttl': '100ms', 'cache.staleIfError': '1m', 'database.pool.acquireTimeout': '500ms' } });
  });
  afterAll(async () => {
    await proxy.cut();
    await s?.close();
    await db?.dispose();
  });

  it('a cached read is served STALE with its old body; an uncached one is a 503 problem; both recover', async () => {
    const url = `${API}/orders/40`;
    const first = await s.get(url);
    expect(first.headers['x-cache']).toBe('MISS');
    await proxy.cut();
    await sleep(150); // past the TTL
    const stale = await s.get(url);
    expect(stale.statusCode).toBe(200);
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(stale.body).toBe(first.body);
    const uncached = await s.get(`${API}/orders/41`);
    expect(uncached.statusCode).toBe(503);
    expect(uncached.headers['content-type']).toBe('application/problem+json');
    expect(uncached.json().code).toBe('SLUICE_DATABASE_UNAVAILABLE');
    await proxy.start(proxy.port);
    let back = false;
    for (let i = 0; i < 50 && !back; i++) {
      const res = await s.get(`${API}/orders/41`);
      back = res.statusCode === 200 && res.headers['x-cache'] === 'MISS';
      if (!back) await sleep(100);
    }
    expect(back).toBe(true);
    expect((await s.get(url)).headers['x-cache']).toBe('MISS');
  });
});
