/**
 * Rate limits over HTTP (SPEC §7), in-process store, SQLite, through inject(): the RateLimit-* and
 * X-RateLimit-* headers, the 429 problem with Retry-After (and no SQL behind it), admission again
 * once Retry-After has passed, the client address with and without trusted proxies, limits
 * restricted to methods and resources, the paths that are never limited, limits keyed by API key,
 * user and role, several limits at once, and the order against credentials: invalid credentials
 * count against the address limits, and a never-seen key is not looked up once its address is
 * over its limit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { shop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';
import { API, secureShop, shopToken, type SecureShop } from '../support/security-shop.ts';

type Limit = { name: string; key: string; limit: number; window: string; methods?: string[]; resources?: string[] };
const HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

/** The six limit headers of a response, as numbers (undefined when absent). */
function limits(res: LightMyRequestResponse): Record<string, number | undefined> {
  return Object.fromEntries(HEADERS.map((h) => [h, res.headers[h] === undefined ? undefined : Number(res.headers[h])]));
}
function expectNoLimitHeaders(res: LightMyRequestResponse): void {
  for (const h of HEADERS) expect(res.headers[h], h).toBeUndefined();
}
function expectRateLimited(res: LightMyRequestResponse, name: string): number {
  expect(res.statusCode, res.body).toBe(429);
  expect(res.headers['content-type']).toBe('application/problem+json');
  const body = res.json() as Record<string, unknown>;
  expect(body).toMatchObject({ type: '/problems/rate-limited', status: 429, code: 'SLUICE_RATE_LIMITED', title: 'Too many requests' });
  expect(String(body.detail)).toContain(`'${name}'`);
  expect(body.data).toBeUndefined();
  const retry = String(res.headers['retry-after']);
  expect(retry).toMatch(/^[1-9]\d*$/);
  expect(res.headers['ratelimit-remaining']).toBe('0');
  expect(res.headers['x-ratelimit-remaining']).toBe('0');
  expect(res.headers['ratelimit-reset']).toBe(retry);
  return Number(retry);
}

describe('rate limits over HTTP (in-process store, SQLite)', () => {
  let db: { url: string; dispose: () => Promise<void> };
  let s: TestSluice | undefined;
  beforeAll(async () => {
    db = await shop('sqlite');
  });
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });
  afterAll(() => db?.dispose());

  const start = async (rateLimits: Limit[] | undefined, flags: Record<string, unknown> = {}) => {
    s = await startSluice({ url: db.url, flags: { rateLimits, ...flags } });
    return s;
  };
  const from = (address: string, url: string, headers: Record<string, string> = {}, method = 'GET') => s!.sluice.app.inject({ method: method as 'GET', url, headers, remoteAddress: address });

  test('every refusal is counted in /metrics by the name of the limit that refused', async () => {
    await start([{ name: 'counted', key: 'ip', limit: 1, window: '1m' }]);
    const count = async () => Number(/^sluice_rate_limit_rejections_total\{limit="counted"\} (\d+)$/m.exec((await s!.get('/metrics')).body)?.[1] ?? 0);
    const before = await count();
    expect((await s!.get(`${API}/products/1`)).statusCode).toBe(200);
    for (let i = 0; i < 3; i++) expect((await s!.get(`${API}/products/1`)).statusCode).toBe(429);
    expect((await count()) - before).toBe(3);
  });

  test('an ip limit: headers count down on every response, then a 429 problem with Retry-After, no SQL for it, and admission once Retry-After has passed', async () => {
    await start([{ name: 'per-ip', key: 'ip', limit: 3, window: '2s' }]);
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const res = await s!.get(`${API}/products/1`);
      expect(res.statusCode).toBe(200);
      seen.push(limits(res));
    }
    expect(seen.map((h) => [h['ratelimit-limit'], h['ratelimit-remaining'], h['x-ratelimit-limit'], h['x-ratelimit-remaining']])).toEqual([[3, 2, 3, 2], [3, 1, 3, 1], [3, 0, 3, 0]]);
    expect(seen[0]!['ratelimit-reset']).toBe(2);
    expect(seen[0]!['x-ratelimit-reset']).toBe(2);
    s!.statements.length = 0;
    const refused = await s!.get(`${API}/products/1`);
    const retry = expectRateLimited(refused, 'per-ip');
    expect(retry).toBeLessThanOrEqual(2);
    expect(s!.statements).toEqual([]);
    // Refusals are not counted: hammering does not push the retry time out.
    for (let i = 0; i < 5; i++) expect((await s!.get(`${API}/products`)).statusCode).toBe(429);
    await sleep(retry * 1000);
    const again = await s!.get(`${API}/products/1`);
    expect(again.statusCode).toBe(200);
    expect(again.headers['ratelimit-remaining']).toBe('2'); // all three slots of the first burst freed together
  });

  test('every API method counts, a 404 of an unknown resource or row too, and callers at other addresses have their own budget', async () => {
    await start([{ name: 'per-ip', key: 'ip', limit: 2, window: '10s' }]);
    expect((await from('10.0.0.1', `${API}/no_such_table`)).statusCode).toBe(404);
    const missing = await from('10.0.0.1', `${API}/products/999999`);
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['ratelimit-remaining']).toBe('0');
    expectRateLimited(await from('10.0.0.1', `${API}/products`), 'per-ip');
    const head = await from('10.0.0.1', `${API}/products`, {}, 'HEAD');
    expect(head.statusCode).toBe(429);
    expect(head.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    const other = await from('10.0.0.2', `${API}/products`);
    expect(other.statusCode).toBe(200);
    expect(other.headers['ratelimit-remaining']).toBe('1');
    const ipv6 = await from('::1', `${API}/products`);
    expect(ipv6.headers['ratelimit-remaining']).toBe('1');
  });

  test('without trustProxy, X-Forwarded-For is ignored: a client cannot buy a fresh budget by sending one', async () => {
    await start([{ name: 'per-ip', key: 'ip', limit: 2, window: '10s' }], { 'server.trustProxy': false });
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await from('127.0.0.1', `${API}/products`, { 'x-forwarded-for': `203.0.113.${i}` })).statusCode);
    expect(codes).toEqual([200, 200, 429, 429]);
  });

  test('with trustProxy, the address a trusted proxy forwards is the client; an untrusted peer cannot spoof one', async () => {
    await start([{ name: 'per-ip', key: 'ip', limit: 2, window: '10s' }], { 'server.trustProxy': ['127.0.0.1'] });
    const viaProxy = async (client: string) => (await from('127.0.0.1', `${API}/products`, { 'x-forwarded-for': client })).statusCode;
    expect([await viaProxy('203.0.113.1'), await viaProxy('203.0.113.1'), await viaProxy('203.0.113.1')]).toEqual([200, 200, 429]);
    expect(await viaProxy('203.0.113.2')).toBe(200);
    // A client that prepends its own X-Forwarded-For: the proxy appends the real address, which counts.
    expect(await viaProxy('198.51.100.7, 203.0.113.1')).toBe(429);
    const direct = [];
    for (let i = 0; i < 3; i++) direct.push((await from('10.9.9.9', `${API}/products`, { 'x-forwarded-for': `198.51.100.${i}` })).statusCode);
    expect(direct).toEqual([200, 200, 429]);
  });

  test('a limit restricted to methods counts only those (GET covers HEAD); other methods carry no limit headers', async () => {
    await start([{ name: 'writes', key: 'ip', limit: 2, window: '10s', methods: ['post', 'PATCH'] }]);
    for (let i = 0; i < 5; i++) expectNoLimitHeaders(await s!.get(`${API}/orders?limit=1`));
    const order = { customer_id: 1, status: 'pending', total: '1.00', created_at: '2025-01-01T00:00:00Z' };
    const count = async () => (await s!.get(`${API}/orders?limit=0&count=exact`)).json().pagination.total as number;
    const before = await count();
    expect((await s!.request('POST', `${API}/orders`, order)).statusCode).toBe(201);
    const patched = await s!.request('PATCH', `${API}/orders/1`, { status: 'paid' });
    expect(patched.statusCode).toBe(200);
    expect(patched.headers['ratelimit-remaining']).toBe('0');
    expectRateLimited(await s!.request('POST', `${API}/orders`, order), 'writes');
    expect(await count()).toBe(before + 1);
    expectNoLimitHeaders(await s!.request('DELETE', `${API}/orders/999999`));
  });

  test('a limit on GET also limits HEAD', async () => {
    await start([{ name: 'reads', key: 'ip', limit: 1, window: '10s', methods: ['GET'] }]);
    expect((await s!.request('HEAD', `${API}/products`)).statusCode).toBe(200);
    expectRateLimited(await s!.get(`${API}/products`), 'reads');
  });

  test('a limit restricted to resources counts only those, lists and rows alike', async () => {
    await start([{ name: 'orders', key: 'ip', limit: 2, window: '10s', resources: ['orders'] }]);
    expect((await s!.get(`${API}/orders`)).headers['ratelimit-remaining']).toBe('1');
    expect((await s!.get(`${API}/orders/1`)).headers['ratelimit-remaining']).toBe('0');
    expectRateLimited(await s!.get(`${API}/orders/2`), 'orders');
    for (let i = 0; i < 4; i++) {
      const res = await s!.get(`${API}/products/1`);
      expect(res.statusCode).toBe(200);
      expectNoLimitHeaders(res);
    }
  });

  test('health, metrics, docs, the OpenAPI document, problem pages and the admin API are never limited, even with an empty base path', async () => {
    await start([{ name: 'tiny', key: 'ip', limit: 1, window: '10s' }], { 'server.basePath': '' });
    expect((await s!.get('/products/1')).statusCode).toBe(200);
    expectRateLimited(await s!.get('/products/2'), 'tiny');
    for (const path of ['/', '/health/live', '/health/ready', '/openapi.json', '/docs', '/problems/rate-limited']) {
      for (let i = 0; i < 3; i++) {
        const res = await s!.get(path);
        expect(res.statusCode, path).toBe(200);
        expectNoLimitHeaders(res);
      }
    }
    const admin = await s!.get('/admin/keys');
    expect(admin.statusCode).not.toBe(429);
    expectNoLimitHeaders(admin);
    const page = await s!.get('/problems/rate-limited');
    expect(page.body).toContain('SLUICE_RATE_LIMITED');
    expect(page.body).toContain('Retry-After');
  });

  test('several limits at once: all must admit, and the headers describe the one with the least remaining', async () => {
    await start([
      { name: 'hourly', key: 'ip', limit: 10, window: '1h' },
      { name: 'burst', key: 'ip', limit: 3, window: '2s' },
    ]);
    const first = await s!.get(`${API}/products`);
    expect([first.headers['ratelimit-limit'], first.headers['ratelimit-remaining'], first.headers['ratelimit-reset']]).toEqual(['3', '2', '2']);
    await s!.get(`${API}/products`);
    await s!.get(`${API}/products`);
    const retry = expectRateLimited(await s!.get(`${API}/products`), 'burst');
    await sleep(retry * 1000);
    // 3 of the hourly 10 are used (the refusal used none); burst is free again: 2 left of it, 7 of hourly.
    const later = await s!.get(`${API}/products`);
    expect(later.statusCode).toBe(200);
    expect([later.headers['ratelimit-limit'], later.headers['ratelimit-remaining']]).toEqual(['3', '2']);
  });

  test('without rateLimits there is no limiter and no limit header', async () => {
    await start(undefined);
    expect(s!.sluice.engine.rateLimiter ?? null).toBeNull();
    for (let i = 0; i < 3; i++) expectNoLimitHeaders(await s!.get(`${API}/products`));
  });
});

describe('rate limits keyed by the caller (API keys, JWTs, roles)', () => {
  let shop: SecureShop | undefined;
  afterEach(async () => {
    await shop?.close();
    shop = undefined;
  });
  const open = async (rateLimits: Limit[], flags: Record<string, unknown> = {}) => {
    shop = await secureShop('sqlite', { flags: { rateLimits, ...flags } });
    return shop;
  };
  const get = (headers: Record<string, string>, address = '127.0.0.1', path = '/products') => shop!.s.sluice.app.inject({ method: 'GET', url: `${API}${path}`, headers, remoteAddress: address });

  test('apiKey: each key has its own budget, whatever address it comes from', async () => {
    const { a, b } = await open([{ name: 'per-key', key: 'apiKey', limit: 2, window: '10s' }]);
    expect((await get(a.key, '10.0.0.1')).statusCode).toBe(200);
    expect((await get(a.key, '10.0.0.2')).headers['ratelimit-remaining']).toBe('0');
    expectRateLimited(await get(a.key, '10.0.0.3'), 'per-key');
    expect((await get(b.key, '10.0.0.1')).headers['ratelimit-remaining']).toBe('1');
    // A JWT caller has no API key: the limit does not apply to it.
    expectNoLimitHeaders(await get(a.jwt));
  });

  test("user: the JWT's sub is the key — two tokens of one subject share a budget, another subject has its own, and a key made for the subject shares it too", async () => {
    const { a, b } = await open([{ name: 'per-user', key: 'user', limit: 3, window: '10s' }]);
    const second = { authorization: `Bearer ${await shopToken({ sub: String(a.id), role: 'customer', jti: 'another-token' })}` };
    expect(second.authorization).not.toBe(a.jwt.authorization);
    expect((await get(a.jwt)).headers['ratelimit-remaining']).toBe('2');
    expect((await get(second)).headers['ratelimit-remaining']).toBe('1');
    expect((await get(a.key)).headers['ratelimit-remaining']).toBe('0'); // the key was created with subject A
    expectRateLimited(await get(a.jwt), 'per-user');
    expect((await get(b.jwt)).statusCode).toBe(200);
  });

  test('role: every caller of a role shares one budget; other roles have their own', async () => {
    const s = await open([{ name: 'per-role', key: 'role', limit: 3, window: '10s' }]);
    await get(s.a.key);
    await get(s.b.key);
    expect((await get(s.a.jwt)).headers['ratelimit-remaining']).toBe('0');
    expectRateLimited(await get(s.b.jwt), 'per-role');
    const admin = await get(s.admin);
    expect(admin.statusCode).toBe(200);
    expect(admin.headers['ratelimit-remaining']).toBe('2');
  });

  test('missing and invalid credentials count against the address limits, then get their 401; once over, even a valid key is refused', async () => {
    const s = await open([{ name: 'per-ip', key: 'ip', limit: 3, window: '10s' }, { name: 'per-key', key: 'apiKey', limit: 100, window: '10s' }]);
    const none = await get({});
    expect(none.statusCode).toBe(401);
    expect(none.headers['ratelimit-remaining']).toBe('2');
    expect((await get({ 'x-api-key': 'sk_not_a_real_key_0123456789abcdefghijklmnop' })).statusCode).toBe(401);
    expect((await get({ authorization: 'Bearer not.a.jwt' })).statusCode).toBe(401);
    expectRateLimited(await get({ 'x-api-key': 'sk_not_a_real_key_0123456789abcdefghijklmnop' }), 'per-ip');
    expectRateLimited(await get(s.a.key), 'per-ip');
    expect((await get(s.a.key, '10.0.0.9')).statusCode).toBe(200);
  });

  test('a key seen for the first time is not looked up in the database when its address is over its limit (nor by the request log)', async () => {
    const s = await open([{ name: 'per-ip', key: 'ip', limit: 1, window: '10s' }, { name: 'per-key', key: 'apiKey', limit: 100, window: '10s' }]);
    const fresh = await s.keyFor('customer', s.a.id);
    expect((await get(s.a.key, '10.0.0.5')).statusCode).toBe(200);
    s.s.statements.length = 0;
    expectRateLimited(await get(fresh, '10.0.0.5'), 'per-ip');
    // The request's log line is written after the response: it names no caller rather than look the key up.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(s.s.statements).toEqual([]);
    // From an address with budget left it is looked up, admitted and counted against both limits.
    const ok = await get(fresh, '10.0.0.6');
    expect(ok.statusCode).toBe(200);
    expect(s.s.statements.length).toBeGreaterThan(0);
    expect(ok.headers['ratelimit-limit']).toBe('1');
  });
});
