/**
 * The one contract every rate-limit store keeps, run against the in-process store and the Redis
 * store (the Lua script on the machine's Redis), both on a fake clock so that windows pass
 * without sleeping: exactly `limit` admitted per window, slots freed in the order they were used
 * (no boundary burst: never more than `limit` in any window-long interval, checked on random
 * traffic), exact retry times, independent keys, several limits decided all or nothing. Then what
 * only one store has: the Redis server's clock and key layout, the memory bound of the LRU.
 */
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { Redis } from 'ioredis';
import { MemoryLimitStore } from '../../src/ratelimit/memory-store.ts';
import { RedisLimitStore } from '../../src/ratelimit/redis-store.ts';
import { compileRules, type Rule } from '../../src/ratelimit/rules.ts';
import type { Decision, LimitStore } from '../../src/ratelimit/store.ts';
import { PrivateRedis, REDIS_URL, redisAvailable, redisServerAvailable, uniquePrefix } from '../support/redis.ts';

const withRedis = await redisAvailable();

interface Harness {
  readonly store: LimitStore;
  /** The fake clock, in ms. */
  time: number;
}

const factories: Array<[string, boolean, () => Harness]> = [
  ['memory', true, () => {
    const h: Harness = { time: 1_000_000, store: undefined as unknown as LimitStore };
    return Object.assign(h, { store: new MemoryLimitStore({ now: () => h.time }) });
  }],
  ['redis', withRedis, () => {
    const h: Harness = { time: 1_700_000_000_000, store: undefined as unknown as LimitStore };
    return Object.assign(h, { store: new RedisLimitStore({ url: REDIS_URL, now: () => h.time }) });
  }],
];

/** Rules `{ name, limit, window }` with a fresh key prefix (no test sees another's logs). */
function rules(...specs: Array<[name: string, limit: number, window: number]>): Rule[] {
  return compileRules(specs.map(([name, limit, window]) => ({ name, key: 'ip' as const, limit, window })), uniquePrefix());
}
const keyOf = (rule: Rule, who = 'client') => rule.keyPrefix + who;

describe.each(factories)('rate-limit store contract: %s', (_name, enabled, make) => {
  let h: Harness;
  const open: LimitStore[] = [];
  const fresh = async () => {
    h = make();
    open.push(h.store);
    if (h.store instanceof RedisLimitStore) await h.store.connected();
    return h;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  const decide = async (rs: readonly Rule[], who = 'client'): Promise<Decision> => h.store.decide(rs.map((r) => keyOf(r, who)), rs);
  /** Sends `n` requests at the current time; the decisions. */
  const burst = async (n: number, rs: readonly Rule[], who = 'client') => {
    const out: Decision[] = [];
    for (let i = 0; i < n; i++) out.push(await decide(rs, who));
    return out;
  };

  test.runIf(enabled)('admits exactly `limit` requests in a window, counting down, then refuses with the time until the first slot frees', async () => {
    await fresh();
    const [r] = rules(['five', 5, 10_000]);
    const first = await burst(5, [r!]);
    expect(first.map((d) => [d.admitted, d.remaining, d.limit])).toEqual([[true, 4, 5], [true, 3, 5], [true, 2, 5], [true, 1, 5], [true, 0, 5]]);
    expect(first[0]!.resetMs).toBe(10_000);
    const refused = await decide([r!]);
    expect(refused).toMatchObject({ admitted: false, remaining: 0, resetMs: 10_000 });
    expect(refused.rule.name).toBe('five');
    h.time += 9_999;
    expect(await decide([r!])).toMatchObject({ admitted: false, resetMs: 1 });
    h.time += 1;
    // The five slots of t=0 free together: five more, and no sixth.
    expect((await burst(6, [r!])).map((d) => d.admitted)).toEqual([true, true, true, true, true, false]);
  });

  test.runIf(enabled)('slots free one by one as the requests that used them leave the window (no boundary burst)', async () => {
    await fresh();
    const [r] = rules(['spread', 4, 10_000]);
    const t0 = h.time;
    expect((await burst(2, [r!])).every((d) => d.admitted)).toBe(true); // t0: 2
    h.time = t0 + 6_000;
    expect((await burst(2, [r!])).map((d) => d.remaining)).toEqual([1, 0]); // t0+6s: 2 more, reset still points at t0
    h.time = t0 + 9_000;
    expect(await decide([r!])).toMatchObject({ admitted: false, resetMs: 1_000 });
    // At the end of a fixed window a fixed-window counter would admit 4 more here; the log admits the 2 that freed.
    h.time = t0 + 10_000;
    const after = await burst(3, [r!]);
    expect(after.map((d) => d.admitted)).toEqual([true, true, false]);
    expect(after[1]).toMatchObject({ remaining: 0, resetMs: 6_000 }); // the slots of t0+6s come next
    expect(after[2]!.resetMs).toBe(6_000);
    h.time = t0 + 16_000;
    expect((await burst(3, [r!])).map((d) => d.admitted)).toEqual([true, true, false]);
  });

  test.runIf(enabled)('on random traffic: never more than `limit` admitted in any window-long interval, and no request refused that fitted', async () => {
    await fresh();
    const limit = 7, window = 5_000;
    const [r] = rules(['random', limit, window]);
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const admitted: number[] = [];
    for (let i = 0; i < 300; i++) {
      h.time += Math.floor(random() * (random() < 0.8 ? 150 : 3_000));
      const inWindow = admitted.filter((t) => t > h.time - window).length;
      const d = await decide([r!]);
      expect(d.admitted, `request ${i} at +${h.time}: ${inWindow} admitted in the window`).toBe(inWindow < limit);
      if (d.admitted) admitted.push(h.time);
      else expect(d.resetMs).toBe(admitted.filter((t) => t > h.time - window)[0]! + window - h.time);
    }
    for (const t of admitted) expect(admitted.filter((u) => u > t - window && u <= t).length).toBeLessThanOrEqual(limit);
    expect(admitted.length).toBeGreaterThan(limit * 3); // the walk crossed many windows
  });

  test.runIf(enabled)('a refused request is not counted: retrying at the announced time is admitted', async () => {
    await fresh();
    const [r] = rules(['retry', 2, 3_000]);
    await burst(2, [r!]);
    h.time += 1_234;
    let refused = await decide([r!]);
    for (let i = 0; i < 20; i++) refused = await decide([r!]); // hammering does not push the retry time out
    expect(refused).toMatchObject({ admitted: false, resetMs: 3_000 - 1_234 });
    h.time += refused.resetMs;
    expect((await decide([r!])).admitted).toBe(true);
  });

  test.runIf(enabled)('keys are independent: one caller at its limit does not hold back another', async () => {
    await fresh();
    const [r] = rules(['keys', 2, 10_000]);
    expect((await burst(3, [r!], 'a')).map((d) => d.admitted)).toEqual([true, true, false]);
    expect((await burst(3, [r!], 'b')).map((d) => d.admitted)).toEqual([true, true, false]);
    expect((await decide([r!], 'a')).admitted).toBe(false);
  });

  test.runIf(enabled)('several limits: admitted only when all admit, counted in all or none; headers name the tightest', async () => {
    await fresh();
    const [short, long] = rules(['short', 2, 1_000], ['long', 5, 60_000]);
    const both = [long!, short!];
    const first = await decide(both);
    expect(first).toMatchObject({ admitted: true, remaining: 1 });
    expect(first.rule.name).toBe('short'); // 1 left of short, 4 of long
    await decide(both);
    const refused = await decide(both);
    expect(refused).toMatchObject({ admitted: false, resetMs: 1_000 });
    expect(refused.rule.name).toBe('short');
    // The refusal consumed nothing of `long`: 3 of its 5 remain.
    h.time += 1_000;
    expect((await burst(4, [long!])).map((d) => d.admitted)).toEqual([true, true, true, false]);
  });

  test.runIf(enabled)('on a tie of remaining requests, the headers describe the limit that frees up later', async () => {
    await fresh();
    const [a, b] = rules(['a', 2, 1_000], ['b', 2, 5_000]);
    const d = await decide([a!, b!]);
    expect(d).toMatchObject({ admitted: true, remaining: 1, resetMs: 5_000 });
    expect(d.rule.name).toBe('b');
  });

  test.runIf(enabled)('when the refusing limits differ, the refusal waits for the one that frees last', async () => {
    await fresh();
    const [a, b] = rules(['a', 1, 2_000], ['b', 1, 8_000]);
    await decide([a!, b!]);
    const refused = await decide([a!, b!]);
    expect(refused.rule.name).toBe('b');
    expect(refused.resetMs).toBe(8_000);
  });
});

/** Script calls a Redis has run (EVALSHA and EVAL): a private Redis counts one store's round trips. */
async function scriptCallsOn(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  return [...info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

/** A Redis log's entries, newest first: `stamp:weight:total`, as [stamp, weight, total]. */
async function entriesOf(redis: Redis, key: string): Promise<number[][]> {
  return (await redis.lrange(key, 0, -1)).map((e) => e.split(':').map(Number));
}
/** The requests and leased slots a Redis log holds (the sum of its entries' weights). */
async function slotsIn(redis: Redis, key: string): Promise<number> {
  return (await entriesOf(redis, key)).reduce((sum, [, weight]) => sum + weight!, 0);
}

/**
 * Runs `body` against a Redis of its own — its command statistics count the script calls of
 * these stores and nothing else — with `count` stores on it (clock `now`) and a client for
 * reading it; closes them and stops that Redis afterwards, whatever happened.
 */
async function onPrivateRedis(count: number, now: () => number, body: (on: { stores: RedisLimitStore[]; stats: Redis; scriptCalls: () => Promise<number> }) => Promise<void>): Promise<void> {
  const own = await PrivateRedis.start();
  const stores = Array.from({ length: count }, () => new RedisLimitStore({ url: own.url, now }));
  const stats = new Redis(own.url);
  try {
    await Promise.all(stores.map((store) => store.connected()));
    await body({ stores, stats, scriptCalls: () => scriptCallsOn(stats) });
  } finally {
    await Promise.all(stores.map((store) => store.close()));
    stats.disconnect();
    await own.stop();
  }
}

describe.runIf(withRedis)('Redis store only', () => {
  const client = new Redis(REDIS_URL);
  const stores: RedisLimitStore[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    client.disconnect();
  });

  test("times come from the Redis server's clock, keys are `{prefix}rl:{name}:{caller}` and expire with the window", async () => {
    const store = new RedisLimitStore({ url: REDIS_URL });
    stores.push(store);
    await store.connected();
    const prefix = uniquePrefix();
    const [r] = compileRules([{ name: 'per-ip', key: 'ip', limit: 3, window: 2_000 }], prefix);
    const key = `${prefix}rl:per-ip:10.0.0.1`;
    expect(r!.keyPrefix + '10.0.0.1').toBe(key);
    const d = await store.decide([key], [r!]);
    expect(d).toMatchObject({ admitted: true, remaining: 2, limit: 3, resetMs: 2_000 });
    const [[seconds, micros], stored, ttl] = await Promise.all([client.time(), client.lindex(key, 0), client.pttl(key)]);
    const serverNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    expect(stored).toMatch(/^\d{15}:1:1$/);
    expect(Math.abs(serverNow - Number(stored!.split(':')[0]))).toBeLessThan(1_000);
    expect(ttl).toBeGreaterThan(1_000);
    expect(ttl).toBeLessThanOrEqual(2_000);
  });

  test('with the real clock, a refused caller is admitted again once the announced time has passed', async () => {
    const store = new RedisLimitStore({ url: REDIS_URL });
    stores.push(store);
    await store.connected();
    const [r] = compileRules([{ name: 'real', key: 'ip', limit: 2, window: 1_000 }], uniquePrefix());
    const key = r!.keyPrefix + 'x';
    await store.decide([key], [r!]);
    await store.decide([key], [r!]);
    const refused = await store.decide([key], [r!]);
    expect(refused.admitted).toBe(false);
    expect(refused.resetMs).toBeGreaterThan(0);
    expect(refused.resetMs).toBeLessThanOrEqual(1_000);
    await new Promise((resolve) => setTimeout(resolve, refused.resetMs + 20));
    expect((await store.decide([key], [r!])).admitted).toBe(true);
  });

  test.runIf(redisServerAvailable())('concurrent requests go to Redis in one script call and are decided in arrival order, each on its own', async () => {
    await onPrivateRedis(1, () => 6_000_000, async ({ stores: [store], stats, scriptCalls }) => {
      const before = await scriptCalls();
      const [a, b] = compileRules([{ name: 'a', key: 'ip', limit: 5, window: 60_000 }, { name: 'b', key: 'ip', limit: 8, window: 60_000 }], uniquePrefix());
      // 12 requests of x against a and b (a refuses after 5; refused ones are not counted by b), and 3 of y against b only.
      const xs = Array.from({ length: 12 }, () => store!.decide([a!.keyPrefix + 'x', b!.keyPrefix + 'x'], [a!, b!]));
      const ys = Array.from({ length: 3 }, () => store!.decide([b!.keyPrefix + 'y'], [b!]));
      const dx = await Promise.all(xs);
      const dy = await Promise.all(ys);
      // EVALSHA fails once with NOSCRIPT on a fresh server and ioredis sends EVAL: at most 2 calls.
      const calls = (await scriptCalls()) - before;
      expect(calls).toBeGreaterThanOrEqual(1);
      expect(calls).toBeLessThanOrEqual(2);
      expect(dx.map((d) => d.admitted)).toEqual([...Array(5).fill(true), ...Array(7).fill(false)]);
      expect(dx.slice(0, 5).map((d) => d.remaining)).toEqual([4, 3, 2, 1, 0]);
      expect(dx[5]).toMatchObject({ admitted: false, remaining: 0, resetMs: 60_000 });
      expect(dx[5]!.rule.name).toBe('a');
      expect(dy.map((d) => [d.admitted, d.remaining])).toEqual([[true, 7], [true, 6], [true, 5]]);
      expect(await slotsIn(stats, b!.keyPrefix + 'x')).toBe(5);
    });
  });

  test('more than one block of expired entries leaves the log at once (trimmed 64 at a time), and the rest stay', async () => {
    let time = 8_000_000;
    const store = new RedisLimitStore({ url: REDIS_URL, now: () => time });
    stores.push(store);
    await store.connected();
    const [r] = compileRules([{ name: 'trim', key: 'ip', limit: 300, window: 1_000 }], uniquePrefix());
    const key = r!.keyPrefix + 't';
    await Promise.all(Array.from({ length: 150 }, () => store.decide([key], [r!])));
    time += 500;
    await Promise.all(Array.from({ length: 50 }, () => store.decide([key], [r!])));
    expect(await slotsIn(client, key)).toBe(200);
    time += 501; // the first 150 left the window, the 50 of t+500 did not
    const d = await store.decide([key], [r!]);
    expect(d).toMatchObject({ admitted: true, remaining: 300 - 50 - 1, resetMs: 499 });
    expect(await slotsIn(client, key)).toBe(51);
    time += 1_000; // all gone
    expect(await store.decide([key], [r!])).toMatchObject({ admitted: true, remaining: 299, resetMs: 1_000 });
    expect(await slotsIn(client, key)).toBe(1);
  });

  test('interleaved callers in one call keep their own counts and their arrival order', async () => {
    const store = new RedisLimitStore({ url: REDIS_URL, now: () => 9_000_000 });
    stores.push(store);
    await store.connected();
    const [r] = compileRules([{ name: 'mix', key: 'ip', limit: 3, window: 60_000 }], uniquePrefix());
    const who = ['a', 'a', 'b', 'a', 'b', 'b', 'a', 'b', 'a', 'b'];
    const decisions = await Promise.all(who.map((w) => store.decide([r!.keyPrefix + w], [r!])));
    const of = (w: string) => decisions.filter((_, i) => who[i] === w).map((d) => (d.admitted ? d.remaining : 'refused'));
    expect(of('a')).toEqual([2, 1, 0, 'refused', 'refused']);
    expect(of('b')).toEqual([2, 1, 0, 'refused', 'refused']);
  });

  test('more concurrent requests than one script call takes are split, and all are decided', async () => {
    const store = new RedisLimitStore({ url: REDIS_URL, now: () => 7_000_000 });
    stores.push(store);
    await store.connected();
    const [r] = compileRules([{ name: 'big', key: 'ip', limit: 100, window: 60_000 }], uniquePrefix());
    const decisions = await Promise.all(Array.from({ length: 150 }, () => store.decide([r!.keyPrefix + 'z'], [r!])));
    expect(decisions.filter((d) => d.admitted)).toHaveLength(100);
    expect(decisions.slice(0, 100).every((d) => d.admitted)).toBe(true);
    expect(await slotsIn(client, r!.keyPrefix + 'z')).toBe(100);
  });

  test.runIf(redisServerAvailable())('far from its limit a busy caller is admitted from leased slots: few script calls, every request admitted, remaining counting down by one', async () => {
    await onPrivateRedis(1, () => 3_000_000, async ({ stores: [store], stats, scriptCalls }) => {
      const [r] = compileRules([{ name: 'busy', key: 'ip', limit: 100_000, window: 60_000 }], uniquePrefix());
      const key = r!.keyPrefix + 'x';
      const before = await scriptCalls();
      const decisions: Decision[] = [];
      // 40 turns of the event loop, 50 requests each: a busy caller.
      for (let turn = 0; turn < 40; turn++) decisions.push(...(await Promise.all(Array.from({ length: 50 }, () => store!.decide([key], [r!])))));
      const calls = (await scriptCalls()) - before;
      expect(decisions.every((d) => d.admitted)).toBe(true);
      // One call per turn without leases: 40.
      expect(calls).toBeLessThanOrEqual(12);
      const remaining = decisions.map((d) => d.remaining);
      expect(remaining).toEqual(remaining.map((_, i) => 100_000 - 1 - i));
      // Every admitted request and every slot still leased is in the log; the slots at the end of the period.
      const log = await entriesOf(stats, key);
      expect(await slotsIn(stats, key)).toBeGreaterThanOrEqual(2000);
      expect(log.filter(([t]) => t! > 3_000_000).length).toBeGreaterThan(0);
      expect(Math.max(...log.map(([t]) => t!))).toBe(3_000_000 + 1_000);
      // One entry per script call and stamp, not one per request or slot; the totals add up.
      expect(log.length).toBeLessThanOrEqual(2 * calls);
      expect(log[0]![2]).toBe(await slotsIn(stats, key));
    });
  });

  test.runIf(redisServerAvailable())('a steady caller asks for its next lease before the slots run out: once leasing, no request waits for Redis, and remaining still counts down by one', async () => {
    let time = 8_000_000;
    await onPrivateRedis(1, () => time, async ({ stores: [store], stats, scriptCalls }) => {
      // Two limits, so that the lease is the tighter of both; the lease period is 100 ms.
      const [ip, role] = compileRules([{ name: 'ip', key: 'ip', limit: 50_000, window: 1_000 }, { name: 'role', key: 'role', limit: 40_000, window: 1_000 }], uniquePrefix());
      const keys = [ip!.keyPrefix + 'x', role!.keyPrefix + 'anon'];
      const remaining: number[] = [];
      let waited = 0;
      const before = await scriptCalls();
      // 60 turns of the event loop 4 ms apart, 40 requests each: about what one lease period holds.
      for (let turn = 0; turn < 60; turn++) {
        time += 4;
        const pending = Array.from({ length: 40 }, () => new Promise<Decision>((resolve, reject) => {
          let sync = true;
          store!.decideWith(keys, [ip!, role!], (err, d) => {
            if (err) return reject(err);
            if (!sync && turn >= 2) waited++;
            resolve(d!);
          });
          sync = false;
        }));
        for (const d of await Promise.all(pending)) {
          expect(d.admitted).toBe(true);
          expect(d.rule.name).toBe('role');
          remaining.push(d.remaining);
        }
        await new Promise((resolve) => setTimeout(resolve, 2)); // the next lease's reply arrives between turns
      }
      expect(waited).toBe(0);
      const off = remaining.map((r, i) => [i, r - (40_000 - 1 - i)]).filter(([, d]) => d !== 0);
      expect(off.slice(0, 5)).toEqual([]);
      expect(remaining).toEqual(remaining.map((_, i) => 40_000 - 1 - i));
      const calls = (await scriptCalls()) - before;
      expect(calls).toBeGreaterThan(2); // several leases, asked for ahead…
      expect(calls).toBeLessThan(30); // …not one call per turn
      // Every request and every slot still leased is in both logs.
      const [a, b] = await Promise.all(keys.map((k) => slotsIn(stats, k)));
      expect(a).toBe(b);
      expect(a).toBeGreaterThanOrEqual(60 * 40);
    });
  });

  test.runIf(redisServerAvailable())('a lease holder whose next lease is refused (too few free slots) stops asking ahead until its slots are used', async () => {
    const time = 9_000_000;
    await onPrivateRedis(2, () => time, async ({ stores: [a, b], scriptCalls }) => {
      const [r] = compileRules([{ name: 'near', key: 'ip', limit: 4_000, window: 10_000 }], uniquePrefix());
      const key = r!.keyPrefix + 'x';
      const turn = async (store: RedisLimitStore, n: number) => (await Promise.all(Array.from({ length: n }, () => store.decide([key], [r!])))).filter((d) => d.admitted).length;
      expect(await turn(a!, 200)).toBe(200); // a is granted a lease with these
      while ((await turn(b!, 200)) > 0); // b takes every slot left: no lease can be granted any more
      const before = await scriptCalls();
      let admitted = 0;
      for (let i = 0; i < 40; i++) {
        admitted += await turn(a!, 20);
        await new Promise((resolve) => setTimeout(resolve, 2)); // an ask's reply arrives between turns
      }
      const calls = (await scriptCalls()) - before;
      expect(admitted).toBeGreaterThan(100); // a used its leased slots…
      expect(admitted).toBeLessThan(800); // …and no more
      // One refused ask ahead, then the requests past the lease each turn: not one ask per turn on top.
      const turnsPastLease = 40 - Math.floor(admitted / 20);
      expect(calls).toBeLessThanOrEqual(turnsPastLease + 2);
    });
  });

  test('a slot used late in its lease period still counts until a window after that (no interval holds more than the limit)', async () => {
    const t0 = 6_600_000;
    let time = t0;
    const a = new RedisLimitStore({ url: REDIS_URL, now: () => time });
    const b = new RedisLimitStore({ url: REDIS_URL, now: () => time });
    stores.push(a, b);
    await Promise.all([a.connected(), b.connected()]);
    const limit = 2_000, window = 10_000, period = 1_000; // the lease period: a tenth of the window, at most 1 s
    const [r] = compileRules([{ name: 'late', key: 'ip', limit, window }], uniquePrefix());
    const key = r!.keyPrefix + 'x';
    const admitted: number[] = [];
    const burst = async (store: RedisLimitStore, n: number) => {
      const ds = await Promise.all(Array.from({ length: n }, () => store.decide([key], [r!])));
      for (const d of ds) if (d.admitted) admitted.push(time);
      return ds.filter((d) => d.admitted).length;
    };
    expect(await burst(a, 100)).toBe(100); // a is granted a lease with these
    while ((await burst(b, 100)) > 0); // b takes every slot left
    time = t0 + period * 0.85; // a uses its leased slots late in the period
    const late = await burst(a, 200);
    expect(late).toBeGreaterThan(0);
    time = t0 + window + 1; // everything stamped at t0 has left the window, a's late requests have not
    while ((await burst(b, 100)) > 0);
    const inWindow = (t: number) => admitted.filter((u) => u > t - window && u <= t).length;
    for (const t of admitted) expect(inWindow(t), `admitted in the window ending at +${t - t0} ms`).toBeLessThanOrEqual(limit);
    expect(admitted.filter((u) => u === time).length).toBeGreaterThan(0); // b was admitted again once t0 had left the window
  });

  test('leased slots count against the limit on every instance: two instances admit exactly the limit together', async () => {
    const time = 4_000_000;
    const a = new RedisLimitStore({ url: REDIS_URL, now: () => time });
    const b = new RedisLimitStore({ url: REDIS_URL, now: () => time });
    stores.push(a, b);
    await Promise.all([a.connected(), b.connected()]);
    const [r] = compileRules([{ name: 'shared', key: 'ip', limit: 2_000, window: 60_000 }], uniquePrefix());
    const key = r!.keyPrefix + 'x';
    let admitted = 0;
    for (let turn = 0; turn < 200; turn++) {
      const store = turn % 2 === 0 ? a : b;
      const ds = await Promise.all(Array.from({ length: 60 }, () => store.decide([key], [r!])));
      admitted += ds.filter((d) => d.admitted).length;
      if (turn > 2 && ds.every((d) => !d.admitted) && admitted >= 2_000) break;
    }
    expect(admitted).toBe(2_000);
    expect(await slotsIn(client, key)).toBe(2_000);
  });

  test.runIf(redisServerAvailable())('with leases, on random bursts from two instances: never more than `limit` admitted in any window-long interval', async () => {
    let time = 5_500_000;
    await onPrivateRedis(2, () => time, async ({ stores: [a, b], scriptCalls }) => {
      const limit = 1_000, window = 2_000;
      const [r] = compileRules([{ name: 'bursty', key: 'ip', limit, window }], uniquePrefix());
      const key = r!.keyPrefix + 'x';
      let seed = 7;
      const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      const admitted: number[] = [];
      const turns = 150;
      for (let i = 0; i < turns; i++) {
        time += Math.floor(random() * 120);
        const store = random() < 0.5 ? a! : b!;
        const ds = await Promise.all(Array.from({ length: 5 + Math.floor(random() * 60) }, () => store.decide([key], [r!])));
        for (const d of ds) if (d.admitted) admitted.push(time);
      }
      for (const t of admitted) expect(admitted.filter((u) => u > t - window && u <= t).length).toBeLessThanOrEqual(limit);
      expect(admitted.length).toBeGreaterThan(limit * 2); // several windows were filled
      // Leases were used: fewer script calls than turns.
      expect(await scriptCalls()).toBeLessThan(turns);
    });
  });

  test('a log in the format of an earlier version (one bare stamp per request) starts afresh instead of failing the script', async () => {
    const store = new RedisLimitStore({ url: REDIS_URL, now: () => 5_100_000 });
    stores.push(store);
    await store.connected();
    const [r] = compileRules([{ name: 'old', key: 'ip', limit: 10, window: 60_000 }], uniquePrefix());
    const key = r!.keyPrefix + 'x';
    await client.lpush(key, '5090000', '5095000');
    expect(await store.decide([key], [r!])).toMatchObject({ admitted: true, remaining: 9 });
    expect(await entriesOf(client, key)).toEqual([[5_100_000, 1, 1]]);
  });

  test('a log written under a higher limit is cut to the current one (a lowered limit takes effect at once)', async () => {
    const store = new RedisLimitStore({ url: REDIS_URL, now: () => 5_000_000 });
    stores.push(store);
    await store.connected();
    const prefix = uniquePrefix();
    const [high] = compileRules([{ name: 'l', key: 'ip', limit: 10, window: 60_000 }], prefix);
    const [low] = compileRules([{ name: 'l', key: 'ip', limit: 3, window: 60_000 }], prefix);
    for (let i = 0; i < 8; i++) await store.decide([high!.keyPrefix + 'x'], [high!]);
    expect(await store.decide([low!.keyPrefix + 'x'], [low!])).toMatchObject({ admitted: false, remaining: 0 });
    expect(await client.llen(low!.keyPrefix + 'x')).toBe(3);
    expect(await slotsIn(client, low!.keyPrefix + 'x')).toBe(3);
  });
});

describe('memory store only', () => {
  test('memory stays within maxBytes however many callers come (least recently used logs go first)', () => {
    let time = 0;
    const store = new MemoryLimitStore({ maxBytes: 20_000, now: () => time });
    const [r] = compileRules([{ name: 'm', key: 'ip', limit: 100, window: 60_000 }], '');
    for (let i = 0; i < 5_000; i++) {
      time++;
      for (let j = 0; j < 10; j++) store.decide([`${r!.keyPrefix}${i}`], [r!]);
    }
    expect(store.bytes).toBeGreaterThan(10_000);
    expect(store.bytes).toBeLessThanOrEqual(20_000);
    // The most recent caller is still known: its 10 requests count.
    expect(store.decide([`${r!.keyPrefix}4999`], [r!]).remaining).toBe(100 - 11);
  });

  test('a divided store (the Redis fallback) enforces limit ÷ divisor, at least 1', () => {
    const store = new MemoryLimitStore({ divisor: 3, now: () => 0 });
    const [ten, two] = compileRules([{ name: 'ten', key: 'ip', limit: 10, window: 1_000 }, { name: 'two', key: 'ip', limit: 2, window: 1_000 }], '');
    const tens = Array.from({ length: 4 }, () => store.decide(['t'], [ten!]));
    expect(tens.map((d) => d.admitted)).toEqual([true, true, true, false]);
    expect(tens[0]!.limit).toBe(3);
    expect([store.decide(['w'], [two!]).admitted, store.decide(['w'], [two!]).admitted]).toEqual([true, false]);
  });
});
