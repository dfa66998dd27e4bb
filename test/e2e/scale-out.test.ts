/**
 * Scale-out with real processes (SPEC §8): three `sluice serve` instances over one PostgreSQL
 * database and the machine's Redis, behind a real HAProxy running deploy/haproxy.cfg — the file
 * docker-compose uses. What a user of the load balancer sees is measured:
 *  - one instance SIGKILLed in the middle of 3,000 keep-alive GETs: every GET answers 200 with
 *    the right row (HAProxy retries GETs on another instance, health checks drop the dead one);
 *  - a rolling restart (SIGTERM, start again, wait until HAProxy sees it up, next) under reads
 *    and writes: no request of any method fails, every instance exits 0, and the table holds
 *    exactly the rows the successful writes said — none lost, none doubled.
 *  - rate limits counted across the instances in Redis (exactly the limit admitted), and the
 *    per-instance fallback while Redis is stopped, then the shared count again.
 * Skipped with a message without haproxy, PostgreSQL or Redis; under CI they are required.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Cluster, haproxyBinary, type Reply } from '../support/cluster.ts';
import { dropPostgres, execSql, postgresAvailable, postgresShop } from '../support/databases.ts';
import { PrivateRedis, REDIS_URL, redisAvailable, redisServerAvailable, uniquePrefix } from '../support/redis.ts';

const API = '/api/v1';
const haproxy = haproxyBinary();
const withPostgres = await postgresAvailable();
if (!withPostgres) {
  if (process.env.CI) throw new Error('PostgreSQL is required when CI is set, but it does not answer');
  process.stderr.write('\n[sluice tests] PostgreSQL is not reachable: the scale-out suites are SKIPPED\n');
}
const withRedis = await redisAvailable();

interface Order { id: number; customer_id: number; status: string; total: string }
interface Failure { method: string; path: string; status: number; detail: string }

const failure = (method: string, path: string, reply: Reply): Failure => ({ method, path, status: reply.status, detail: reply.error ?? reply.body.slice(0, 200) });

/** A GET of one order whose answer must be 200 and the row the database holds; else a failure. */
async function readOrder(client: Client, orders: Order[], i: number): Promise<Failure | null> {
  const want = orders[i % orders.length]!;
  const path = `${API}/orders/${want.id}`;
  const reply = await client.send('GET', path);
  if (reply.status !== 200) return failure('GET', path, reply);
  const got = (JSON.parse(reply.body) as { data: Order }).data;
  if (got.id !== want.id || got.status !== want.status || got.total !== want.total || Number(got.customer_id) !== Number(want.customer_id)) {
    return { method: 'GET', path, status: 200, detail: `wrong row: ${reply.body.slice(0, 200)}` };
  }
  return null;
}

describe.runIf(haproxy && withPostgres && withRedis)('three instances behind HAProxy (deploy/haproxy.cfg)', () => {
  let url: string;
  let cluster: Cluster;
  let client: Client;
  let orders: Order[];

  beforeAll(async () => {
    url = await postgresShop();
    // Rows the writes of the rolling-restart case own; unique (client, n) makes a replayed POST visible.
    await execSql(url, 'create table scale_ledger (id bigserial primary key, client integer not null, n integer not null, note text not null, unique (client, n))');
    orders = (await execSql(url, 'select id::int, customer_id::int, status, total::text from orders where id <= 300 order by id')) as unknown as Order[];
    const dir = mkdtempSync(join(tmpdir(), 'sluice-scale-'));
    const configFile = join(dir, 'sluice.config.json');
    // Roles cannot come from the environment; the response cache makes Redis shared for real.
    writeFileSync(configFile, JSON.stringify({ auth: { anonRole: 'anon', apiKeys: { enabled: false } }, roles: { anon: '*' }, cache: { ttl: '60s' } }));
    cluster = await Cluster.start({
      haproxy: haproxy!,
      configFile,
      env: {
        SLUICE_DATABASE_URL: url,
        SLUICE_DATABASE_POOL_MAX: '4',
        SLUICE_REDIS_URL: REDIS_URL,
        SLUICE_REDIS_PREFIX: uniquePrefix(),
        SLUICE_SERVER_TRUST_PROXY: '127.0.0.1',
        // The drain of the graceful shutdown: after SIGTERM /health/ready answers 503 while
        // requests are still served for this long.
        SLUICE_SERVER_DRAIN_DELAY: '1s',
      },
    });
    client = new Client(cluster.haproxy.origin, 8);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    if (url) await dropPostgres(url);
  });

  it('SIGKILL of one instance during 3,000 keep-alive GETs costs zero failed GETs', async () => {
    const victim = cluster.instances[1]!;
    const total = 3000;
    const killAt = 600;
    const failures: Failure[] = [];
    let next = 0;
    let completed = 0;
    let killed: Promise<unknown> | null = null;
    let completedAtKill = -1;
    let victimSessions = -1;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const f = await readOrder(client, orders, i);
        if (f) failures.push(f);
        completed++;
        if (completed === killAt && !killed) {
          completedAtKill = completed;
          victimSessions = (await cluster.haproxy.stats()).find((s) => s.name === victim.name)!.sessions;
          killed = victim.stop('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const after = await cluster.haproxy.stats();

    expect(killed, 'the instance was killed during the run').not.toBeNull();
    expect(await killed).toEqual({ code: null, signal: 'SIGKILL' });
    expect(completedAtKill).toBeLessThan(total / 2);
    expect(victimSessions, 'the killed instance was serving its share before the kill').toBeGreaterThan(killAt / 6);
    expect(failures).toEqual([]);
    expect(completed).toBe(total);
    const seen = after.find((s) => s.name === victim.name)!;
    expect(seen.state).toBe('DOWN');
    // Requests that met the dead instance were sent elsewhere (not merely lucky timing).
    expect(seen.redispatches + seen.retries, 'requests retried away from the killed instance').toBeGreaterThan(0);

    // Back in the rotation for the next case.
    await victim.start();
    await cluster.haproxy.waitFor(cluster.instances.map((i) => i.name));
  }, 45_000);

  it('a rolling restart under reads and writes costs zero failed requests, and every write is in the table exactly once', async () => {
    const failures: Failure[] = [];
    /** id → the row as the successful writes left it; deleted rows are removed. */
    const expected = new Map<number, { client: number; n: number; note: string }>();
    let completed = 0;
    let restarting = true;
    const started = Date.now();

    const writer = async (w: number) => {
      // Bounded: stops when the restart is done, after 600 rounds, or after 40 s.
      for (let n = 0; restarting && n < 600 && Date.now() - started < 40_000; n++) {
        const post = await client.send('POST', `${API}/scale_ledger`, { client: w, n, note: 'created' });
        completed++;
        if (post.status !== 201) {
          failures.push(failure('POST', 'scale_ledger', post));
          continue;
        }
        const id = (JSON.parse(post.body) as { data: { id: number } }).data.id;
        expected.set(Number(id), { client: w, n, note: 'created' });
        const path = `${API}/scale_ledger/${id}`;
        const patch = await client.send('PATCH', path, { note: `patched ${n}` });
        completed++;
        if (patch.status !== 200 || (JSON.parse(patch.body) as { data: { note: string } }).data.note !== `patched ${n}`) failures.push(failure('PATCH', path, patch));
        else expected.set(Number(id), { client: w, n, note: `patched ${n}` });
        if (n % 3 === 0) {
          const del = await client.send('DELETE', path);
          completed++;
          if (del.status !== 204) failures.push(failure('DELETE', path, del));
          else expected.delete(Number(id));
        }
        const f = await readOrder(client, orders, w * 1000 + n);
        completed++;
        if (f) failures.push(f);
        // Leaves the two cores some room, so a restarted instance starts in seconds.
        await sleep(5);
      }
    };

    const load = Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    const exits: Array<{ code: number | null; signal: NodeJS.Signals | null }> = [];
    const served: number[] = [];
    try {
      await sleep(300);
      for (const instance of cluster.instances) {
        const before = completed;
        exits.push(await instance.stop('SIGTERM'));
        await instance.start();
        await cluster.haproxy.waitFor(cluster.instances.map((i) => i.name));
        served.push(completed - before);
      }
    } finally {
      restarting = false;
      await load;
    }

    expect(exits, 'every instance drains and exits 0 on SIGTERM').toEqual([
      { code: 0, signal: null }, { code: 0, signal: null }, { code: 0, signal: null },
    ]);
    for (const [i, n] of served.entries()) expect(n, `requests served while sluice-${i + 1} restarted`).toBeGreaterThan(20);
    expect(failures).toEqual([]);
    const rows = await execSql(url, 'select id::int, client, n, note from scale_ledger order by id');
    const want = [...expected].sort(([a], [b]) => a - b).map(([id, r]) => ({ id, ...r }));
    expect(rows).toEqual(want);
  }, 60_000);
});

/**
 * Rate limits across the instances (SPEC §7): the instances count in one Redis, so a limit holds
 * for the cluster, not per instance; HAProxy sets X-Forwarded-For, trusted from 127.0.0.1, so the
 * per-IP key is the client's address. With Redis gone each instance enforces limit ÷ 3 alone
 * (rateLimitFallback.instances), says so in /metrics, and shares the count again once it is back.
 */
describe.runIf(haproxy && withPostgres && withRedis && redisServerAvailable())('rate limits across three instances behind HAProxy', () => {
  let url: string;
  const clusters: Cluster[] = [];
  const clients: Client[] = [];
  let privateRedis: PrivateRedis | undefined;

  beforeAll(async () => {
    url = await postgresShop();
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const c of clusters) await c.stop();
    await privateRedis?.stop();
    if (url) await dropPostgres(url);
  });

  const startCluster = async (redisUrl: string, rateLimits: unknown[], fallbackInstances = 3) => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-limits-'));
    const configFile = join(dir, 'sluice.config.json');
    writeFileSync(configFile, JSON.stringify({ auth: { anonRole: 'anon', apiKeys: { enabled: false } }, roles: { anon: '*' }, rateLimits, rateLimitFallback: { instances: fallbackInstances, probeInterval: '300ms' } }));
    const cluster = await Cluster.start({
      haproxy: haproxy!,
      configFile,
      env: { SLUICE_DATABASE_URL: url, SLUICE_DATABASE_POOL_MAX: '4', SLUICE_REDIS_URL: redisUrl, SLUICE_REDIS_PREFIX: uniquePrefix(), SLUICE_SERVER_TRUST_PROXY: '127.0.0.1', SLUICE_SERVER_DRAIN_DELAY: '0s' },
    });
    clusters.push(cluster);
    const client = new Client(cluster.haproxy.origin, 8);
    clients.push(client);
    return { cluster, client };
  };
  /** `n` GETs through HAProxy, 8 at a time: the statuses, and the Retry-After of every 429. */
  const burst = async (client: Client, n: number) => {
    const statuses: number[] = [];
    const retryAfter: string[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < n) {
        next++;
        const reply = await client.send('GET', `${API}/orders/${1 + (next % 50)}`);
        statuses.push(reply.status);
        if (reply.status === 429) retryAfter.push(String(reply.headers['retry-after']));
      }
    }));
    return { statuses, retryAfter, count: (status: number) => statuses.filter((s) => s === status).length };
  };
  const fallbackGauges = async (cluster: Cluster) => Promise.all(cluster.instances.map(async (i) => {
    const c = new Client(`http://${i.address}`, 1);
    try {
      return Number(/^sluice_rate_limit_fallback (\d+)/m.exec((await c.send('GET', '/metrics')).body)?.[1]);
    } finally {
      c.close();
    }
  }));

  it('a limit of 100 per window admits exactly 100 of 150 concurrent requests across the three instances', async () => {
    const { cluster, client } = await startCluster(REDIS_URL, [{ name: 'per-ip', key: 'ip', limit: 100, window: '1h' }]);
    const before = await cluster.haproxy.stats();
    const run = await burst(client, 150);
    expect(run.statuses).toHaveLength(150);
    expect(run.count(200)).toBe(100);
    expect(run.count(429)).toBe(50);
    expect(run.retryAfter.every((r) => /^[1-9]\d*$/.test(r))).toBe(true);
    // Every instance served part of it: the count was shared, not per instance.
    const after = await cluster.haproxy.stats();
    for (const instance of cluster.instances) {
      const served = after.find((x) => x.name === instance.name)!.sessions - before.find((x) => x.name === instance.name)!.sessions;
      expect(served, `${instance.name} took part`).toBeGreaterThan(0);
    }
  }, 60_000);

  it('Redis stopped mid-run: no request fails, each instance limits alone at limit ÷ 3 and says so; the shared count is back once Redis is', async () => {
    privateRedis = await PrivateRedis.start();
    const { cluster, client } = await startCluster(privateRedis.url, [{ name: 'per-ip', key: 'ip', limit: 60, window: '1h' }]);
    // Shared: 30 admitted of the cluster's 60.
    expect((await burst(client, 30)).count(200)).toBe(30);
    expect(await fallbackGauges(cluster)).toEqual([0, 0, 0]);

    await privateRedis.stop();
    const down = await burst(client, 120);
    expect(down.statuses.filter((s) => s >= 500)).toEqual([]);
    // Each instance admits at most 60 ÷ 3 = 20 on its own count: at most 60 in all, and some refused.
    expect(down.count(200)).toBeGreaterThan(0);
    expect(down.count(200)).toBeLessThanOrEqual(60);
    expect(down.count(200) + down.count(429)).toBe(120);
    expect(await fallbackGauges(cluster)).toEqual([1, 1, 1]);

    await privateRedis.start();
    const deadline = Date.now() + 10_000;
    while ((await fallbackGauges(cluster)).some((g) => g !== 0) && Date.now() < deadline) await sleep(200);
    expect(await fallbackGauges(cluster)).toEqual([0, 0, 0]);
    // The restarted Redis kept nothing: the cluster's 60 are counted in it again, exactly.
    const back = await burst(client, 90);
    expect(back.count(200)).toBe(60);
    expect(back.count(429)).toBe(30);
  }, 90_000);
});
