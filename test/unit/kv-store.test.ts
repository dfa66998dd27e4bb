/**
 * The key-value contract every store keeps: the in-process LRU and Redis run the same cases.
 * Memory-only cases check the byte bound; Redis-only ones check that a Redis that is down fails
 * fast instead of queueing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryStore, type KvStore } from '../../src/cache/store.ts';
import { RedisStore } from '../../src/cache/redis-store.ts';
import { PrivateRedis, REDIS_URL, redisAvailable, redisServerAvailable, uniquePrefix } from '../support/redis.ts';

const stores: Array<[string, () => Promise<KvStore>]> = [['memory', async () => new MemoryStore({ maxBytes: 1 << 20 })]];
if (await redisAvailable()) {
  stores.push(['redis', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix: uniquePrefix() });
    await store.connected();
    return store;
  }]);
}

describe.each(stores)('key-value store contract (%s)', (_name, make) => {
  const open: KvStore[] = [];
  const fresh = async () => {
    const store = await make();
    open.push(store);
    return store;
  };
  afterAll(async () => {
    for (const s of open) await s.close();
  });

  it('get of a missing key is undefined; set then get returns the same bytes', async () => {
    const store = await fresh();
    expect(await store.get('nope')).toBeUndefined();
    const value = Buffer.from([0, 1, 2, 255, 0x7b, 0x22]);
    await store.set('k', value, 10_000);
    expect(Buffer.compare((await store.get('k'))!, value)).toBe(0);
  });

  it('set replaces a value; delete removes it', async () => {
    const store = await fresh();
    await store.set('k', Buffer.from('one'), 10_000);
    await store.set('k', Buffer.from('two'), 10_000);
    expect((await store.get('k'))!.toString()).toBe('two');
    await store.delete('k');
    expect(await store.get('k')).toBeUndefined();
    await store.delete('never-set');
  });

  it('a value expires after its TTL', async () => {
    const store = await fresh();
    await store.set('short', Buffer.from('x'), 60);
    await store.set('long', Buffer.from('y'), 10_000);
    expect((await store.get('short'))?.toString()).toBe('x');
    await sleep(150);
    expect(await store.get('short')).toBeUndefined();
    expect((await store.get('long'))?.toString()).toBe('y');
  });

  it('incr counts from 1, atomically under concurrency; counters reads several, 0 when missing', async () => {
    const store = await fresh();
    expect(await store.incr('c')).toBe(1);
    const results = await Promise.all(Array.from({ length: 50 }, () => store.incr('c')));
    expect(new Set(results).size).toBe(50);
    expect(Math.max(...results)).toBe(51);
    await store.incr('d');
    expect(await store.counters(['c', 'missing', 'd'])).toEqual([51, 0, 1]);
    expect(await store.counters([])).toEqual([]);
  });

  it('keys are exact: no prefix or pattern matching between them', async () => {
    const store = await fresh();
    await store.set('a', Buffer.from('1'), 10_000);
    await store.set('a*', Buffer.from('2'), 10_000);
    await store.set('a:b', Buffer.from('3'), 10_000);
    expect((await store.get('a'))!.toString()).toBe('1');
    expect((await store.get('a*'))!.toString()).toBe('2');
    expect((await store.get('a:b'))!.toString()).toBe('3');
    expect(await store.get('a:')).toBeUndefined();
  });
});

describe('memory store bound', () => {
  it('never holds more bytes than maxBytes; the least recently used go first', async () => {
    const store = new MemoryStore({ maxBytes: 10_000 });
    for (let i = 0; i < 100; i++) {
      await store.set(`k${i}`, Buffer.alloc(1000, i), 60_000);
      if (i === 50) await store.get('k45'); // recently used: survives longer than its neighbours
      expect(store.bytes).toBeLessThanOrEqual(10_000);
    }
    expect(await store.get('k0')).toBeUndefined();
    expect((await store.get('k99'))![0]).toBe(99);
    expect(store.size).toBeLessThan(10);
  });

  it('a value larger than the whole store is not kept', async () => {
    const store = new MemoryStore({ maxBytes: 1000 });
    await store.set('big', Buffer.alloc(5000), 60_000);
    expect(await store.get('big')).toBeUndefined();
  });
});

describe.runIf(redisServerAvailable())('redis store when Redis goes away', () => {
  it('commands fail within the command timeout instead of hanging, and work again once Redis is back', async () => {
    const server = await PrivateRedis.start();
    const store = new RedisStore({ url: server.url, prefix: uniquePrefix(), commandTimeout: 200 });
    try {
      await store.connected();
      await store.set('k', Buffer.from('v'), 60_000);
      await server.stop();
      // A command sent at once, before the client saw the connection drop, and one after.
      const first = Date.now();
      await expect(store.get('k')).rejects.toThrow();
      expect(Date.now() - first).toBeLessThan(1000);
      for (let i = 0; i < 100 && store.ready; i++) await sleep(10);
      expect(store.ready).toBe(false);
      const second = Date.now();
      await expect(store.get('k')).rejects.toThrow();
      expect(Date.now() - second).toBeLessThan(100);
      await server.start();
      await store.connected(5000);
      expect(store.ready).toBe(true);
      await store.set('k', Buffer.from('again'), 60_000);
      expect((await store.get('k'))!.toString()).toBe('again');
    } finally {
      await store.close();
      await server.stop();
    }
  });
});
