/**
 * Reads as SPEC §3 describes them, on every dialect: filters, groups, relation filters, fields,
 * embeds, sorting, pagination (offset and keyset), counts, single rows, streams. Both dialects
 * hold the same shop, so the same request must give the same body everywhere.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dialects, shop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';

type Row = Record<string, unknown>;
const API = '/api/v1';
const all = await dialects();
const servers = new Map<string, TestSluice>();
const disposers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  for (const d of all) {
    const db = await shop(d);
    disposers.push(db.dispose);
    servers.set(d, await startSluice({ url: db.url }));
  }
});
afterAll(async () => {
  for (const s of servers.values()) await s.close();
  for (const dispose of disposers) await dispose();
});

// Deterministic shop data (src/demo/seed.ts): order n belongs to customer 1 + (n*7919) % 1000,
// has status ['pending','paid','shipped','cancelled'][(n*13) % 4] and total ((n*104729) % 100000)/100.
const orderCustomer = (n: number) => 1 + ((n * 7919) % 1000);
const orderStatus = (n: number) => ['pending', 'paid', 'shipped', 'cancelled'][(n * 13) % 4]!;
const orderTotal = (n: number) => (((n * 104729) % 100000) / 100).toFixed(2);
const orders = Array.from({ length: 10000 }, (_, i) => ({ id: i + 1, customer_id: orderCustomer(i + 1), status: orderStatus(i + 1), total: orderTotal(i + 1) }));
const countries = ['DE', 'US', 'FR', 'GB', 'ES', 'IT', 'NL', 'PL', 'SE', 'JP'];
const customerCountry = (c: number) => countries[c % 10]!;

describe.each(all)('reads on %s', (dialect) => {
  const s = () => servers.get(dialect)!;
  const get = async (url: string, headers?: Record<string, string>) => {
    const res = await s().get(`${API}${url}`, headers);
    return { res, body: res.headers['content-type']?.toString().includes('json') ? res.json() : undefined };
  };

  test('a list answers the envelope with 25 rows by default, ordered by primary key', async () => {
    const { res, body } = await get('/orders');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(body.data.map((r: Row) => r.id)).toEqual(orders.slice(0, 25).map((o) => o.id));
    expect(body.pagination).toMatchObject({ limit: 25, hasMore: true });
    expect(typeof body.pagination.nextCursor).toBe('string');
    expect(body.data[0]).toEqual({ id: 1, customer_id: 920, status: 'paid', total: '47.29', created_at: '2024-01-01T00:00:29+00:00' });
  });

  test('exact numerics are strings, integers numbers, booleans booleans, timestamps ISO 8601', async () => {
    const { body } = await get('/products/17');
    expect(body.data).toEqual({ id: 17, sku: 'SKU-0000017', name: 'Product 17', price: expect.any(String), active: false, stock: (17 * 31) % 500 });
    expect(body.data.price).toMatch(/^\d+\.\d{2}$/);
    const { body: c } = await get('/customers/1');
    expect(c.data.created_at).toBe('2024-01-01T00:00:37+00:00');
  });

  test.each([
    ['status=paid', (o: Row) => o.status === 'paid'],
    ['status[eq]=paid', (o: Row) => o.status === 'paid'],
    ['status[ne]=paid', (o: Row) => o.status !== 'paid'],
    ['total[gt]=990', (o: Row) => Number(o.total) > 990],
    ['total[gte]=999.13', (o: Row) => Number(o.total) >= 999.13],
    ['total[lt]=1', (o: Row) => Number(o.total) < 1],
    ['total[lte]=0.5', (o: Row) => Number(o.total) <= 0.5],
    ['status[in]=paid,shipped&total[lt]=5', (o: Row) => ['paid', 'shipped'].includes(o.status as string) && Number(o.total) < 5],
    ['status[nin]=paid,shipped&total[lt]=5', (o: Row) => !['paid', 'shipped'].includes(o.status as string) && Number(o.total) < 5],
    ['status[not.eq]=paid&total[lt]=3', (o: Row) => o.status !== 'paid' && Number(o.total) < 3],
    ['id[in]=1,2,3', (o: Row) => [1, 2, 3].includes(o.id as number)],
    ['or=(total.lt.1,total.gt.999.5)', (o: Row) => Number(o.total) < 1 || Number(o.total) > 999.5],
    ['or=(status.eq.paid,and(total.gt.100,total.lt.101))&total[lt]=200', (o: Row) => (o.status === 'paid' || (Number(o.total) > 100 && Number(o.total) < 101)) && Number(o.total) < 200],
    ['not.or=(status.eq.paid,status.eq.shipped)&total[lt]=5', (o: Row) => !['paid', 'shipped'].includes(o.status as string) && Number(o.total) < 5],
    ['or=(status.not.eq.paid,total.lt.2)&total[lt]=4', (o: Row) => (o.status !== 'paid' || Number(o.total) < 2) && Number(o.total) < 4],
    ['status.in.x&or=(status.in.(paid,shipped))&total[lt]=3'.replace('status.in.x&', ''), (o: Row) => ['paid', 'shipped'].includes(o.status as string) && Number(o.total) < 3],
  ])('filter %s returns exactly the matching rows', async (query, predicate) => {
    const { res, body } = await get(`/orders?${query}&limit=1000&fields=id,status,total`);
    expect(res.statusCode).toBe(200);
    const expected = orders.filter((o) => predicate(o as unknown as Row)).slice(0, 1000).map((o) => o.id);
    expect(expected.length).toBeGreaterThan(0);
    expect(body.data.map((r: Row) => r.id)).toEqual(expected);
  });

  test('like is case-sensitive with * as wildcard; ilike is not; null checks', async () => {
    const like = await get('/customers?email[like]=customer99*&fields=id&limit=100');
    expect(like.body.data.map((r: Row) => r.id)).toEqual([99, 990, 991, 992, 993, 994, 995, 996, 997, 998, 999]);
    expect((await get('/customers?name[like]=customer 1&fields=id')).body.data).toEqual([]);
    expect((await get('/customers?name[ilike]=CUSTOMER 1&fields=id')).body.data).toEqual([{ id: 1 }]);
    expect((await get('/customers?name[like]=*er 5_0*&fields=id')).body.data).toEqual([]); // _ is literal
    expect((await get('/customers?email[null]=true')).body.data).toEqual([]);
    expect((await get('/customers?email[null]=false&limit=1&fields=id')).body.data).toEqual([{ id: 1 }]);
    const search = await get('/customers?name[search]=customer 7&fields=id&limit=5');
    expect(search.body.data).toEqual([{ id: 7 }]);
  });

  test('a to-one relation filter filters the parent rows', async () => {
    const { body } = await get('/orders?customer.country=DE&fields=id,customer_id&limit=200');
    const expected = orders.filter((o) => customerCountry(o.customer_id) === 'DE').slice(0, 200);
    expect(body.data.map((r: Row) => r.id)).toEqual(expected.map((o) => o.id));
    const grouped = await get('/orders?or=(customer.country.eq.JP,total.gt.999.5)&fields=id&limit=1000');
    expect(grouped.body.data.map((r: Row) => r.id)).toEqual(orders.filter((o) => customerCountry(o.customer_id) === 'JP' || Number(o.total) > 999.5).slice(0, 1000).map((o) => o.id));
  });

  test('a to-many relation filter filters the embedded rows, not the parents', async () => {
    const { body } = await get('/orders?id[in]=1,2,3&include=items&items.quantity[gte]=4&fields=id,items.product_id,items.quantity');
    expect(body.data.map((r: Row) => r.id)).toEqual([1, 2, 3]);
    for (const o of body.data) for (const i of o.items) expect(i.quantity).toBeGreaterThanOrEqual(4);
    const unfiltered = await get('/orders?id[in]=1,2,3&include=items&fields=id,items.quantity');
    const kept = unfiltered.body.data.map((o: { items: Row[] }) => o.items.filter((i) => (i.quantity as number) >= 4).length);
    expect(body.data.map((o: { items: Row[] }) => o.items.length)).toEqual(kept);
  });

  test('fields selects columns and embedded columns in the order given', async () => {
    const { body } = await get('/orders/1?fields=total,id,customer.name');
    expect(Object.keys(body.data)).toEqual(['total', 'id', 'customer']);
    expect(body.data).toEqual({ total: '47.29', id: 1, customer: { name: 'Customer 920' } });
  });

  test('include embeds to-one, to-many, many-to-many and nested relations', async () => {
    const { body } = await get('/orders/1?include=customer,items.product,products');
    expect(body.data.customer).toMatchObject({ id: 920, email: 'customer920@example.com', country: 'DE' });
    expect(body.data.items.map((i: Row) => [i.order_id, i.product_id])).toEqual([[1, 46], [1, 139]]);
    expect(body.data.items[0].product).toMatchObject({ id: 46, sku: 'SKU-0000046' });
    expect(body.data.products.map((p: Row) => p.id)).toEqual([46, 139]);
    const c = await get('/customers/10?include=orders&orders.sort=-total&orders.limit=2&fields=id,orders.id,orders.total');
    const mine = orders.filter((o) => o.customer_id === 10).sort((a, b) => Number(b.total) - Number(a.total)).slice(0, 2);
    expect(c.body.data).toEqual({ id: 10, orders: mine.map((o) => ({ id: o.id, total: o.total })) });
    const reverse = await get('/order_items/1,46?include=order.customer');
    expect(reverse.body.data.order.customer.id).toBe(920);
    const offsetEmbed = await get('/customers/10?include=orders&orders.offset=1&orders.limit=1&fields=id,orders.id');
    expect(offsetEmbed.body.data.orders).toEqual([{ id: orders.filter((o) => o.customer_id === 10)[1]!.id }]);
  });

  test('an empty to-many embed is [], a missing to-one is null', async () => {
    const created = await s().request('POST', `${API}/customers`, { email: 'lonely@example.com', name: 'Lonely', country: 'SE', created_at: '2024-02-01T00:00:00Z' });
    expect(created.statusCode).toBe(201);
    const id = created.json().data.id;
    const { body } = await get(`/customers/${id}?include=orders`);
    expect(body.data.orders).toEqual([]);
  });

  test('sort orders rows, with the primary key appended for a total order', async () => {
    const { body } = await get('/orders?sort=-total,id&limit=5&fields=id,total');
    const expected = [...orders].sort((a, b) => Number(b.total) - Number(a.total) || a.id - b.id).slice(0, 5);
    expect(body.data).toEqual(expected.map((o) => ({ id: o.id, total: o.total })));
    const byStatus = await get('/orders?sort=status&limit=3&fields=id,status');
    expect(byStatus.body.data).toEqual(orders.filter((o) => o.status === 'cancelled').slice(0, 3).map((o) => ({ id: o.id, status: o.status })));
  });

  test('limit and offset page through rows; limit=0 (a count-only request) has no next page', async () => {
    const { body } = await get('/orders?limit=3&offset=10&fields=id');
    expect(body.data).toEqual([{ id: 11 }, { id: 12 }, { id: 13 }]);
    expect(body.pagination).toMatchObject({ limit: 3, offset: 10, hasMore: true });
    const zero = await get('/orders?limit=0&count=exact');
    expect(zero.body).toMatchObject({ data: [], pagination: { limit: 0, hasMore: false, nextCursor: null, total: 10000 } });
    expect(zero.res.headers.link).toBeUndefined();
  });

  test('keyset cursors walk a whole filtered listing exactly once, in order, under a mixed sort', async () => {
    const seen: number[] = [];
    let url: string | null = '/orders?customer_id[lte]=40&sort=-status,total&limit=7&fields=id';
    let pages = 0;
    while (url) {
      const { res, body } = await get(url);
      expect(res.statusCode).toBe(200);
      seen.push(...body.data.map((r: Row) => r.id as number));
      const link = res.headers.link as string | undefined;
      if (body.pagination.hasMore) {
        expect(link).toMatch(/^<\/api\/v1\/orders\?.*cursor=[A-Za-z0-9_-]+>; rel="next"$/);
        url = link!.slice(`<${API}`.length, link!.indexOf('>'));
        expect(url).toContain(`cursor=${body.pagination.nextCursor}`);
      } else {
        expect(link).toBeUndefined();
        expect(body.pagination.nextCursor).toBeNull();
        url = null;
      }
      pages++;
    }
    const expected = orders.filter((o) => o.customer_id <= 40)
      .sort((a, b) => b.status.localeCompare(a.status) || Number(a.total) - Number(b.total) || a.id - b.id).map((o) => o.id);
    expect(seen).toEqual(expected);
    expect(pages).toBe(Math.ceil(expected.length / 7));
  });

  test('a cursor is bound to its sort, not to its filters', async () => {
    const { body } = await get('/orders?sort=id&limit=1&id[gte]=9000');
    const next = await get(`/orders?sort=id&limit=2&fields=id&cursor=${body.pagination.nextCursor}`);
    expect(next.body.data).toEqual([{ id: 9001 }, { id: 9002 }]);
    const other = await get(`/orders?sort=-id&limit=2&cursor=${body.pagination.nextCursor}`);
    expect(other.res.statusCode).toBe(400);
    expect(other.body.code).toBe('SLUICE_INVALID_CURSOR');
  });

  test('count=exact adds the total of the filter, also on an empty page', async () => {
    const paid = orders.filter((o) => o.status === 'paid').length;
    expect((await get('/orders?status=paid&count=exact&limit=1')).body.pagination.total).toBe(paid);
    const empty = await get('/orders?status=paid&count=exact&offset=100000');
    expect(empty.body).toMatchObject({ data: [], pagination: { total: paid, hasMore: false } });
    const est = await get('/orders?count=estimated&limit=1');
    expect(est.body.pagination.total).toBeGreaterThan(9000);
  });

  test('single rows by primary key and composite key; unknown rows are 404 problems', async () => {
    expect((await get('/orders/42')).body.data.id).toBe(42);
    const item = await get('/order_items/1,139');
    expect(item.body.data).toMatchObject({ order_id: 1, product_id: 139 });
    const missing = await get('/orders/999999');
    expect(missing.res.statusCode).toBe(404);
    expect(missing.res.headers['content-type']).toBe('application/problem+json');
    expect(missing.body).toMatchObject({ status: 404, code: 'SLUICE_NOT_FOUND', type: '/problems/not-found' });
    expect((await get('/nope')).res.statusCode).toBe(404);
    expect((await get('/nope')).body.code).toBe('SLUICE_UNKNOWN_RESOURCE');
  });

  test('NDJSON streams one JSON row per line', async () => {
    const res = await s().get(`${API}/orders?status=paid&sort=id&fields=id,total&limit=300`, { accept: 'application/x-ndjson' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual(orders.filter((o) => o.status === 'paid').slice(0, 300).map((o) => ({ id: o.id, total: o.total })));
    const everything = await s().get(`${API}/orders?fields=id`, { accept: 'application/x-ndjson' });
    expect(everything.body.trimEnd().split('\n')).toHaveLength(10000);
  });

  test('CSV streams a header and RFC 4180 rows, embeds as JSON cells', async () => {
    const res = await s().get(`${API}/orders?id[lte]=2&include=customer&fields=id,total,created_at,customer.name`, { accept: 'text/csv' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.body).toBe([
      'id,total,created_at,customer',
      '1,47.29,2024-01-01T00:00:29+00:00,"{""name"":""Customer 920""}"',
      '2,94.58,2024-01-01T00:00:58+00:00,"{""name"":""Customer 839""}"',
      '',
    ].join('\r\n'));
    const products = await s().get(`${API}/products?id=17&fields=id,active`, { accept: 'text/csv' });
    expect(products.body).toBe('id,active\r\n17,false\r\n');
  });

  test('GET /api/v1/orders?include=customer,items costs exactly one SQL statement', async () => {
    s().statements.length = 0;
    const { res } = await get('/orders?include=customer,items');
    expect(res.statusCode).toBe(200);
    expect(s().statements).toHaveLength(1);
    s().statements.length = 0;
    await get('/customers?include=orders.items.product,orders.customer&count=exact&limit=50');
    expect(s().statements).toHaveLength(1);
  });
});

describe.runIf(all.length > 1)('dialects agree', () => {
  test.each([
    '/orders?include=customer,items&limit=5',
    '/orders?status=shipped&sort=-total&limit=10&count=exact',
    '/customers?country=DE&include=orders&orders.limit=2&orders.sort=-total&limit=5&fields=id,name,orders.id,orders.total',
    '/orders/77?include=customer,products,items.product',
    '/products?active=false&sort=-price&limit=5',
    '/order_items?quantity[gte]=5&include=order.customer&limit=5&offset=3',
    '/orders?or=(status.eq.paid,and(total.gt.500,status.eq.pending))&customer.country[in]=DE,FR&limit=20',
  ])('%s gives the same body on SQLite and PostgreSQL', async (url) => {
    const bodies = await Promise.all(all.map(async (d) => (await servers.get(d)!.get(`${API}${url}`)).json()));
    expect(bodies[1]).toEqual(bodies[0]);
    expect(Array.isArray(bodies[0].data) ? bodies[0].data.length : 1).toBeGreaterThan(0);
  });
});

describe.each(all)('compiled reads are reused on %s', (dialect) => {
  test('the same single-row request with another key reads the other row (key parameters swapped)', async () => {
    const s = servers.get(dialect)!;
    s.statements.length = 0;
    const bodies = [];
    for (const id of [7, 8, 7, 999999]) {
      const res = await s.get(`${API}/orders/${id}?include=customer&fields=id,customer.id`);
      bodies.push(res.statusCode === 200 ? res.json().data : res.statusCode);
    }
    expect(bodies).toEqual([
      { id: 7, customer: { id: orderCustomer(7) } }, { id: 8, customer: { id: orderCustomer(8) } },
      { id: 7, customer: { id: orderCustomer(7) } }, 404,
    ]);
    expect(new Set(s.statements).size).toBe(1); // one compiled statement served all four
  });

  test('a cached list answers exactly like a fresh one, and a different query is compiled anew', async () => {
    const s = servers.get(dialect)!;
    const url = `${API}/orders?status=shipped&sort=-total&limit=3&fields=id,total`;
    const first = (await s.get(url)).body;
    expect((await s.get(url)).body).toBe(first);
    const other = await s.get(`${API}/orders?status=paid&sort=-total&limit=3&fields=id,total`);
    expect(other.body).not.toBe(first);
    expect(other.json().data.map((r: { id: number }) => r.id)).toEqual(
      [...orders].filter((o) => o.status === 'paid').sort((a, b) => Number(b.total) - Number(a.total) || a.id - b.id).slice(0, 3).map((o) => o.id));
  });
});
