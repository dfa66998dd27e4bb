/**
 * SPEC §5 as a client sees it, on SQLite and PostgreSQL: ETags and 304s on every GET, If-Match
 * on single-row writes (412, nothing written), Cache-Control and Vary, the response cache
 * (MISS → HIT without SQL, invalidation by writes including embeds and cascades, coalescing,
 * per-resource TTL and opt-out, never shared across row policies) and content coding. The
 * response-cache suites run twice: through `inject`, and over a real socket, where hits are
 * answered in the HTTP server's listener before Fastify (src/http/edge-hits.ts).
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, execSql } from '../support/databases.ts';
import { useShop, type Transport } from '../support/sluice.ts';
import { edgeServed } from '../../src/http/edge-hits.ts';
import { API, secureFlags, secureShop, type SecureShop } from '../support/security-shop.ts';

const sha1Tag = (body: Buffer | string) => `"${createHash('sha1').update(body).digest('base64url')}"`;
const one = async (url: string, sql: string) => (await execSql(url, sql))[0]!;
const TRANSPORTS: Transport[] = ['inject', 'http'];
const cacheMatrix = (await dialects()).flatMap((dialect) => TRANSPORTS.map((transport) => [dialect, transport] as const));
/** Asserts that `run` had `n` responses answered at the edge over HTTP (none through inject). */
async function edgeAnswers<T>(transport: Transport, n: number, run: () => Promise<T>): Promise<T> {
  const before = edgeServed();
  const result = await run();
  expect(edgeServed() - before).toBe(transport === 'http' ? n : 0);
  return result;
}

describe.each(await dialects())('HTTP validation without the response cache (%s)', (dialect) => {
  const s = useShop(dialect, { flags: { 'server.compression.threshold': 0 } });

  it('every GET has a strong ETag of its body; If-None-Match with it (or its weak form) is a 304 without a body', async () => {
    for (const url of [`${API}/orders/5`, `${API}/orders?limit=3&include=customer`]) {
      const res = await s().get(url);
      expect(res.statusCode).toBe(200);
      expect(res.headers.etag).toBe(sha1Tag(res.rawPayload));
      expect(res.headers['x-cache']).toBe('BYPASS');
      const etag = String(res.headers.etag);
      for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const again = await s().get(url, { 'if-none-match': header });
        expect(again.statusCode, header).toBe(304);
        expect(again.body).toBe('');
        expect(again.headers.etag).toBe(etag);
      }
      expect((await s().get(url, { 'if-none-match': '"stale"' })).statusCode).toBe(200);
    }
  });

  it('anonymous reads: Cache-Control no-cache; Vary names what the response depends on', async () => {
    const res = await s().get(`${API}/orders/5`);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(String(res.headers.vary).split(/, */)).toEqual(expect.arrayContaining(['Accept', 'Accept-Encoding', 'Authorization', 'X-API-Key']));
  });

  it('after a write the old ETag no longer matches', async () => {
    const before = await s().get(`${API}/orders/6`);
    const next = before.json().data.status === 'shipped' ? 'pending' : 'shipped';
    expect((await s().request('PATCH', `${API}/orders/6`, { status: next })).statusCode).toBe(200);
    const after = await s().get(`${API}/orders/6`, { 'if-none-match': String(before.headers.etag) });
    expect(after.statusCode).toBe(200);
    expect(after.json().data.status).toBe(next);
    expect(after.headers.etag).not.toBe(before.headers.etag);
  });

  it('If-Match: the current ETag lets PATCH through; a stale one is a 412 and nothing is written', async () => {
    const etag = String((await s().get(`${API}/orders/7`)).headers.etag);
    const ok = await s().request('PATCH', `${API}/orders/7`, { status: 'pending' }, { 'if-match': etag });
    expect(ok.statusCode, ok.body).toBe(200);
    const stale = await s().request('PATCH', `${API}/orders/7`, { status: 'cancelled' }, { 'if-match': etag });
    expect(stale.statusCode).toBe(412);
    expect(stale.headers['content-type']).toBe('application/problem+json');
    expect(stale.json().code).toBe('SLUICE_PRECONDITION_FAILED');
    expect((await one(s().url, 'select status from orders where id = 7')).status).toBe('pending');
  });

  it('If-Match on DELETE and PUT; `*`; a coded ETag of the same row; a missing row fails the precondition', async () => {
    const current = String((await s().get(`${API}/orders/8`)).headers.etag);
    const coded = String((await s().get(`${API}/orders/8`, { 'accept-encoding': 'gzip' })).headers.etag);
    expect(coded).toBe(`${current.slice(0, -1)}-gzip"`);
    expect((await s().request('DELETE', `${API}/orders/8`, undefined, { 'if-match': '"nope"' })).statusCode).toBe(412);
    expect(Number((await one(s().url, 'select count(*) as n from orders where id = 8')).n)).toBe(1);
    const row = (await s().get(`${API}/orders/8`)).json().data;
    const put = await s().request('PUT', `${API}/orders/8`, { ...row, status: 'shipped' }, { 'if-match': coded });
    expect(put.statusCode, put.body).toBe(200);
    expect((await s().request('PATCH', `${API}/orders/8`, { status: 'paid' }, { 'if-match': '*' })).statusCode).toBe(200);
    expect((await s().request('DELETE', `${API}/orders/8`, undefined, { 'if-match': String((await s().get(`${API}/orders/8`)).headers.etag) })).statusCode).toBe(204);
    const gone = await s().request('PUT', `${API}/orders/8`, { ...row }, { 'if-match': '*' });
    expect(gone.statusCode).toBe(412);
    expect(Number((await one(s().url, 'select count(*) as n from orders where id = 8')).n)).toBe(0);
  });

  it('brotli or gzip as negotiated; the decoded body is the identity body; identity when asked', async () => {
    const url = `${API}/orders?limit=40`;
    const plain = await s().get(url);
    const br = await s().get(url, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.rawPayload).equals(plain.rawPayload)).toBe(true);
    const gz = await s().get(url, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).equals(plain.rawPayload)).toBe(true);
    expect((await s().get(url, { 'accept-encoding': 'identity' })).headers['content-encoding']).toBeUndefined();
    expect((await s().get(url, { 'accept-encoding': 'br;q=0, gzip;q=0' })).headers['content-encoding']).toBeUndefined();
  });

  it('NDJSON streams are compressed too, and never cached', async () => {
    const res = await s().get(`${API}/orders?limit=500`, { accept: 'application/x-ndjson', 'accept-encoding': 'gzip' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['x-cache']).toBe('BYPASS');
    expect(gunzipSync(res.rawPayload).toString().trim().split('\n')).toHaveLength(500);
  });
});

describe.each(await dialects())('compression threshold (%s)', (dialect) => {
  const s = useShop(dialect);
  it('bodies under server.compression.threshold (1kb by default) go uncoded', async () => {
    const small = await s().get(`${API}/orders/5`, { 'accept-encoding': 'br' });
    expect(small.headers['content-encoding']).toBeUndefined();
    const large = await s().get(`${API}/orders?limit=50`, { 'accept-encoding': 'br' });
    expect(large.headers['content-encoding']).toBe('br');
  });
});

describe.each(cacheMatrix)('response cache (%s, %s)', (dialect, transport) => {
  const s = useShop(dialect, {
    each: true,
    transport,
    flags: { 'cache.enabled': true, 'cache.ttl': '60s', 'cache.resources': { products: { enabled: false }, customers: { ttl: '150ms' } } },
  });

  it('MISS, then HIT with the same body and ETag and no SQL sent', async () => {
    const first = await s().get(`${API}/orders?status=paid&limit=5&include=customer`);
    expect(first.headers['x-cache']).toBe('MISS');
    s().statements.length = 0;
    const second = await edgeAnswers(transport, 1, () => s().get(`${API}/orders?status=paid&limit=5&include=customer`));
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body).toBe(first.body);
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(s().statements).toEqual([]);
    // The order of the parameters does not matter.
    expect((await s().get(`${API}/orders?include=customer&limit=5&status=paid`)).headers['x-cache']).toBe('HIT');
    expect((await s().get(`${API}/orders?include=customer&limit=5&status=paid`, { 'if-none-match': String(first.headers.etag) })).statusCode).toBe(304);
  });

  it('a write invalidates the rows it changed, and embeds of them', async () => {
    await s().get(`${API}/orders/5`);
    expect((await s().get(`${API}/orders/5`)).headers['x-cache']).toBe('HIT');
    const list = `${API}/orders?id[lte]=3&include=customer`;
    const before = (await s().get(list)).json().data as Array<{ customer: { id: number; name: string } }>;
    expect((await s().get(list)).headers['x-cache']).toBe('HIT');

    expect((await s().request('PATCH', `${API}/orders/5`, { status: 'cancelled' })).statusCode).toBe(200);
    const fresh = await s().get(`${API}/orders/5`);
    expect(fresh.headers['x-cache']).toBe('MISS');
    expect(fresh.json().data.status).toBe('cancelled');

    // A customer renamed: the orders list that embeds it is read again.
    const customer = before[0]!.customer.id;
    expect((await s().request('PATCH', `${API}/customers/${customer}`, { name: 'Renamed Customer' })).statusCode).toBe(200);
    const after = await s().get(list);
    expect(after.headers['x-cache']).toBe('MISS');
    expect((after.json().data as typeof before)[0]!.customer.name).toBe('Renamed Customer');
  });

  it('a delete that cascades invalidates the child table too', async () => {
    const order = Number((await one(s().url, 'select order_id from order_items order by order_id limit 1')).order_id);
    const url = `${API}/order_items?order_id=${order}`;
    expect((await s().get(url)).json().data.length).toBeGreaterThan(0);
    expect((await s().get(url)).headers['x-cache']).toBe('HIT');
    expect((await s().request('DELETE', `${API}/orders/${order}`)).statusCode).toBe(204);
    const after = await s().get(url);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.json().data).toEqual([]);
  });

  it('concurrent identical misses run one statement', async () => {
    s().statements.length = 0;
    const responses = await Promise.all(Array.from({ length: 20 }, () => s().get(`${API}/orders?status=shipped&limit=7&sort=-total`)));
    expect(responses.every((r) => r.statusCode === 200 && r.body === responses[0]!.body)).toBe(true);
    expect(s().statements).toHaveLength(1);
  });

  it('per-resource opt-out (BYPASS) and TTL', async () => {
    expect((await s().get(`${API}/products/1`)).headers['x-cache']).toBe('BYPASS');
    expect((await s().get(`${API}/products/1`)).headers['x-cache']).toBe('BYPASS');
    expect((await s().get(`${API}/customers/1`)).headers['x-cache']).toBe('MISS');
    expect((await s().get(`${API}/customers/1`)).headers['x-cache']).toBe('HIT');
    await sleep(200);
    expect((await s().get(`${API}/customers/1`)).headers['x-cache']).toBe('MISS');
  });

  it('a hit sends the brotli bytes it kept, and the coded ETag answers 304', async () => {
    const url = `${API}/orders?limit=60`;
    const first = await s().get(url, { 'accept-encoding': 'br' });
    await sleep(50); // the first response's coded bytes are kept once compressed
    const second = await edgeAnswers(transport, 1, () => s().get(url, { 'accept-encoding': 'br' }));
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers['content-encoding']).toBe('br');
    expect(second.rawPayload.equals(first.rawPayload)).toBe(true);
    expect(brotliDecompressSync(second.rawPayload).equals((await s().get(url)).rawPayload)).toBe(true);
    expect((await s().get(url, { 'accept-encoding': 'br', 'if-none-match': String(second.headers.etag) })).statusCode).toBe(304);
  });

  it('streams and errors are not cached', async () => {
    const res = await s().get(`${API}/orders?limit=3`, { accept: 'text/csv' });
    expect(res.headers['x-cache']).toBe('BYPASS');
    expect((await s().get(`${API}/orders/999999`)).statusCode).toBe(404);
    await execSql(s().url, "insert into orders (id, customer_id, status, total, created_at) values (999999, 1, 'paid', 1, '2024-01-01T00:00:00Z')");
    expect((await s().get(`${API}/orders/999999`)).statusCode).toBe(200);
  });
});

describe.each(cacheMatrix)('response cache admission, cache.minUses (%s, %s)', (dialect, transport) => {
  const s = useShop(dialect, { each: true, transport, flags: { 'cache.enabled': true, 'cache.minUses': 2 } });

  it('a request is stored the second time it is seen: MISS (not stored), MISS (stored), HIT with no SQL', async () => {
    const url = `${API}/orders?status=paid&limit=4&sort=-id`;
    s().statements.length = 0;
    const first = await s().get(url);
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.headers.etag).toBe(sha1Tag(first.body));
    const second = await s().get(url);
    expect(second.headers['x-cache']).toBe('MISS');
    expect(s().statements).toHaveLength(2);
    const third = await s().get(url);
    expect(third.headers['x-cache']).toBe('HIT');
    expect(third.body).toBe(first.body);
    expect(s().statements).toHaveLength(2);
    // A one-off request in between does not disturb the admitted one.
    expect((await s().get(`${API}/orders/3`)).headers['x-cache']).toBe('MISS');
    expect((await s().get(url)).headers['x-cache']).toBe('HIT');
  });

  it('a write still invalidates an admitted entry; the request is then stored again at once', async () => {
    const url = `${API}/orders/6`;
    await s().get(url);
    await s().get(url);
    expect((await s().get(url)).headers['x-cache']).toBe('HIT');
    expect((await s().request('PATCH', url, { status: 'cancelled' })).statusCode).toBe(200);
    const fresh = await s().get(url);
    expect(fresh.headers['x-cache']).toBe('MISS');
    expect(fresh.json().data.status).toBe('cancelled');
    expect((await s().get(url)).headers['x-cache']).toBe('HIT');
  });

  it('cache.minUses outside 1..100 stops start-up naming the key', async () => {
    const { loadConfig } = await import('../../src/config/load.ts');
    await expect(loadConfig({ flags: { 'cache.minUses': 0 }, env: {}, cwd: '/' })).rejects.toThrow(/cache\.minUses/);
  });
});

describe.each(cacheMatrix)('response cache and row policies (%s, %s)', (dialect, transport) => {
  let shop: SecureShop;
  beforeAll(async () => {
    shop = await secureShop(dialect, { transport, flags: secureFlags({ 'cache.enabled': true }) });
  });
  afterAll(() => shop.close());

  it('two customers asking the same URL never share an entry; each then hits their own', async () => {
    const url = `${API}/orders?sort=id&limit=5`;
    const a1 = await shop.s.get(url, shop.a.jwt);
    const b1 = await shop.s.get(url, shop.b.jwt);
    expect(a1.headers['x-cache']).toBe('MISS');
    expect(b1.headers['x-cache']).toBe('MISS');
    const ids = (r: typeof a1) => (r.json().data as Array<{ id: number }>).map((o) => o.id);
    expect(ids(a1)).toEqual(shop.a.orders.slice(0, 5));
    expect(ids(b1)).toEqual(shop.b.orders.slice(0, 5));
    const [a2, b2] = await edgeAnswers(transport, 2, async () => [await shop.s.get(url, shop.a.jwt), await shop.s.get(url, shop.b.jwt)]);
    expect([a2.headers['x-cache'], b2.headers['x-cache']]).toEqual(['HIT', 'HIT']);
    expect(ids(a2)).toEqual(shop.a.orders.slice(0, 5));
    expect(ids(b2)).toEqual(shop.b.orders.slice(0, 5));
    // The same customer through its API key shares its JWT's entry: same role, same claim value.
    expect(ids(await shop.s.get(url, shop.a.key))).toEqual(shop.a.orders.slice(0, 5));
    expect(a2.headers['cache-control']).toBe('private, no-cache');
  });

  it('a key revoked after its requests were cached is refused, not served from the cache', async () => {
    const headers = await shop.keyFor('customer', shop.a.id);
    const url = `${API}/orders?sort=id&limit=2`;
    await shop.s.get(url, headers);
    expect((await shop.s.get(url, headers)).headers['x-cache']).toBe('HIT');
    const keys = (await shop.s.get('/admin/keys', shop.admin)).json() as { data: Array<{ id: string; prefix: string }> };
    const id = keys.data.find((k) => headers['x-api-key']!.startsWith(k.prefix))!.id;
    expect((await shop.s.request('DELETE', `/admin/keys/${id}`, undefined, shop.admin)).statusCode).toBeLessThan(300);
    const refused = await shop.s.get(url, headers);
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['x-cache']).toBeUndefined();
  });

  it('a single row of B is a 404 for A even after B cached it', async () => {
    const url = `${API}/orders/${shop.b.orders[0]}`;
    expect((await shop.s.get(url, shop.b.jwt)).statusCode).toBe(200);
    expect((await shop.s.get(url, shop.b.jwt)).headers['x-cache']).toBe('HIT');
    expect((await shop.s.get(url, shop.a.jwt)).statusCode).toBe(404);
  });
});
