/**
 * OWASP API3:2023 (Broken Object Property Level Authorization) against the column allow-lists of
 * SPEC §6, on every dialect: a column the role may not read (customers.email and created_at for
 * customers; products.active and stock for anonymous callers) never appears in any response —
 * lists, single rows, embeds, NDJSON, CSV, write responses, the OpenAPI document — and cannot be
 * probed: filtering, sorting or selecting it, directly, inside `or`/`and`/`not` groups, through
 * relations, in embed filters, in bulk-write filters, is answered exactly like a column that does
 * not exist. Writing it is refused exactly like writing a column that does not exist.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { dialects } from '../support/databases.ts';
import { API, csv, ndjson, NOT_EXISTING, problemOf, secureShop, type SecureShop } from '../support/security-shop.ts';

type Row = Record<string, unknown>;
const all = await dialects();
/** A column no table has: hidden columns must be indistinguishable from it. */
const FAKE = 'zz_no_such_column';
const CUSTOMER_KEYS = ['id', 'name', 'country'];
const PRODUCT_KEYS = ['id', 'sku', 'name', 'price'];

/** A problem body without its request id, with `FAKE` renamed to `hidden`. */
function problemAs(res: LightMyRequestResponse, hidden?: string): Row {
  const { requestId: _, ...rest } = problemOf(res) as unknown as Row;
  return hidden ? JSON.parse(JSON.stringify(rest).replaceAll(FAKE, hidden)) as Row : rest;
}

/** Every object in a JSON value, at any depth, that sits under the key `key` (or in an array under it). */
function objectsUnder(value: unknown, key: string, out: Row[] = []): Row[] {
  if (Array.isArray(value)) for (const v of value) objectsUnder(v, key, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === key) for (const o of Array.isArray(v) ? v : [v]) if (typeof o === 'object' && o !== null) out.push(o as Row);
      objectsUnder(v, key, out);
    }
  }
  return out;
}

describe.each(all)('column-level security (property level) on %s', (dialect) => {
  let shop: SecureShop;
  let email: string;
  beforeAll(async () => {
    shop = await secureShop(dialect, { flags: { 'auth.anonRole': 'anon' } });
    email = String((await shop.sql(`select email from customers where id = ${shop.a.id}`))[0]!.email);
  });
  afterAll(() => shop.close());
  const get = (path: string, headers: Record<string, string> = {}) => shop.s.get(`${API}${path}`, headers);
  const send = (method: string, path: string, body: unknown, headers: Record<string, string>) => shop.s.request(method, `${API}${path}`, body, headers);
  /** Customer objects carry exactly the allowed columns (plus embeds), and no text of a hidden column. */
  const expectNoHidden = (res: LightMyRequestResponse) => {
    expect(res.body).not.toContain(email);
    expect(res.body).not.toContain('@example.com');
    expect(res.body).not.toContain('"email"');
  };

  test('the admin sees the hidden columns, so their absence below is the policy\'s doing', async () => {
    const res = await get(`/customers/${shop.a.id}`, shop.admin);
    expect((res.json() as { data: Row }).data).toMatchObject({ id: shop.a.id, email, created_at: expect.any(String) });
    expect((await get('/products?active=false', shop.admin)).statusCode).toBe(200);
    expect((await get('/customers?email[like]=customer*&sort=-created_at', shop.admin)).statusCode).toBe(200);
  });

  describe.each(['key', 'jwt'] as const)('customer A with its %s', (via) => {
    const A = () => shop.a[via];

    test.each([
      ['/customers', 'data'], ['/customers/{A}', 'data'], ['/customers?fields=*', 'data'], ['/customers?include=orders', 'data'],
      ['/customers/{A}?include=orders.items', 'data'], ['/orders?include=customer&limit=1000', 'customer'], ['/orders?include=customer&fields=id,customer.*', 'customer'],
      ['/orders/{A1}?include=customer', 'customer'], ['/order_items?include=order.customer&limit=1000', 'customer'],
      ['/products?include=orders.customer&limit=1000', 'customer'], ['/products?include=order_items.order.customer&limit=1000', 'customer'],
    ])('GET %s shows customers without email or created_at', async (path, key) => {
      const res = await get(path.replace('{A}', String(shop.a.id)).replace('{A1}', String(shop.a.orders[0])), A());
      expect(res.statusCode, res.body).toBe(200);
      expectNoHidden(res);
      const body = res.json() as Row;
      const customers = key === 'data' ? (Array.isArray(body.data) ? body.data as Row[] : [body.data as Row]) : objectsUnder(body, 'customer');
      expect(customers.length).toBeGreaterThan(0);
      for (const c of customers) expect(Object.keys(c).filter((k) => k !== 'orders')).toEqual(CUSTOMER_KEYS);
    });

    test('NDJSON and CSV streams show customers without the hidden columns', async () => {
      const nd = await get('/customers', { ...A(), accept: 'application/x-ndjson' });
      expect(nd.statusCode).toBe(200);
      expectNoHidden(nd);
      expect(ndjson(nd.body).map((c) => Object.keys(c))).toEqual([CUSTOMER_KEYS]);
      const embedded = await get('/orders?include=customer', { ...A(), accept: 'application/x-ndjson' });
      expectNoHidden(embedded);
      expect(ndjson(embedded.body).map((o) => Object.keys(o.customer as Row))).toEqual(shop.a.orders.map(() => CUSTOMER_KEYS));
      const text = await get('/customers', { ...A(), accept: 'text/csv' });
      expect(text.statusCode).toBe(200);
      expectNoHidden(text);
      expect(csv(text.body).header).toEqual(CUSTOMER_KEYS);
      const cells = await get('/orders?include=customer', { ...A(), accept: 'text/csv' });
      expectNoHidden(cells);
      expect(csv(cells.body).header).toEqual(['id', 'customer_id', 'status', 'total', 'created_at', 'customer']);
    });

    test('write responses show only the allowed columns', async () => {
      const one = await send('PATCH', `/customers/${shop.a.id}`, { name: `Customer ${shop.a.id}` }, A());
      expect(one.statusCode, one.body).toBe(200);
      expectNoHidden(one);
      expect(Object.keys((one.json() as { data: Row }).data)).toEqual(CUSTOMER_KEYS);
      const bulk = await send('PATCH', `/customers?id=${shop.a.id}`, { name: `Customer ${shop.a.id}` }, A());
      expectNoHidden(bulk);
      expect((bulk.json() as { data: Row[] }).data.map((c) => Object.keys(c))).toEqual([CUSTOMER_KEYS]);
      const star = await send('PATCH', `/customers/${shop.a.id}?fields=*`, { name: `Customer ${shop.a.id}` }, A());
      expect(Object.keys((star.json() as { data: Row }).data)).toEqual(CUSTOMER_KEYS);
    });

    test('the OpenAPI document of the role does not name the hidden columns', async () => {
      const doc = await shop.s.get('/openapi.json', A());
      expect(doc.statusCode).toBe(200);
      expect(doc.body).not.toContain('"email"');
      const schemas = (doc.json() as { components: { schemas: Record<string, { properties?: Row }> } }).components.schemas;
      const customers = Object.values(schemas).filter((s) => s.properties && 'country' in s.properties && 'name' in s.properties);
      expect(customers.length).toBeGreaterThan(0);
      for (const s of customers) expect(Object.keys(s.properties!).filter((k) => ['email', 'created_at'].includes(k))).toEqual([]);
      expect((await shop.s.get('/openapi.json', shop.admin)).body).toContain('"email"');
    });

    // Each probe names the hidden column as {c}; the same request naming a column that does not
    // exist must get the same answer, word for word (the names swapped).
    test.each([
      ['/customers', '{c}=x'], ['/customers', '{c}[eq]=customer1@example.com'], ['/customers', '{c}[ne]=x'], ['/customers', '{c}[like]=a*'],
      ['/customers', '{c}[ilike]=*EXAMPLE*'], ['/customers', '{c}[null]=false'], ['/customers', '{c}[in]=a,b'], ['/customers', '{c}[search]=customer'],
      ['/customers', '{c}[not.like]=*'], ['/customers', '{c}[gt]=2020-01-01'], ['/customers', 'or=({c}.eq.x,id.gt.0)'], ['/customers', 'or=(id.eq.1,{c}.like.a*)'],
      ['/customers', 'and=({c}.eq.x)'], ['/customers', 'not.or=({c}.like.*)'], ['/customers', 'or=(and({c}.eq.x,id.gt.0))'],
      ['/customers', 'sort={c}'], ['/customers', 'sort=-{c}'], ['/customers', 'sort=id,{c}'], ['/customers', 'fields={c}'], ['/customers', 'fields=id,{c}'],
      ['/customers/{A}', 'fields=id,{c}'], ['/customers', 'id={A}&{c}[like]=c*'],
      ['/orders', 'customer.{c}=x'], ['/orders', 'customer.{c}[like]=c*'], ['/orders', 'or=(customer.{c}.eq.x)'], ['/orders', 'not.and=(customer.{c}.eq.x)'],
      ['/orders', 'include=customer&fields=id,customer.{c}'], ['/orders', 'or=(id.gt.0,customer.{c}.like.*)'],
      ['/order_items', 'order.customer.{c}=x'], ['/order_items', 'include=order.customer&fields=order_id,order.customer.{c}'],
      ['/customers', 'include=orders&orders.customer.{c}=x'], ['/products', 'include=orders&orders.customer.{c}[like]=*'],
    ])('GET %s?%s is answered as for a column that does not exist', async (path, query) => {
      const url = (c: string) => `${path.replace('{A}', String(shop.a.id))}?${query.replaceAll('{c}', c).replace('{A}', String(shop.a.id))}`;
      const reference = await get(url(FAKE), A());
      expect(reference.statusCode, reference.body).toBe(400);
      for (const hidden of ['email', 'created_at']) {
        const res = await get(url(hidden), A());
        expect(res.statusCode, res.body).toBe(400);
        expect(problemAs(res)).toEqual(problemAs(reference, hidden));
        expect(res.body).not.toMatch(/customer\d+@example\.com/);
      }
      // Streams parse the same query.
      const streamed = await get(url('email'), { ...A(), accept: 'application/x-ndjson' });
      expect(problemAs(streamed)).toEqual(problemAs(await get(url(FAKE), { ...A(), accept: 'application/x-ndjson' }), 'email'));
    });

    test.each([
      ['PATCH', '/customers?{c}=customer1@example.com', { name: 'x' }], ['PATCH', '/customers?or=({c}.like.*,id.gt.0)', { name: 'x' }],
      ['PATCH', '/orders?customer.{c}[like]=c*', { status: 'cancelled' }], ['PATCH', '/customers/{A}?fields={c}', { name: 'x' }],
      ['PATCH', '/orders?id[gt]=0&customer.{c}=x', { status: 'cancelled' }], ['DELETE', '/orders?customer.{c}[like]=*', undefined],
    ])('%s %s (a write probing a hidden column) is answered as for a column that does not exist', async (method, path, body) => {
      const before = await shop.sql('select id, name, email from customers order by id');
      const url = (c: string) => path.replaceAll('{c}', c).replace('{A}', String(shop.a.id));
      const reference = await send(method, url(FAKE), body, A());
      expect(reference.statusCode, reference.body).toBe(400);
      for (const hidden of ['email', 'created_at']) {
        const res = await send(method, url(hidden), body, A());
        expect(problemAs(res)).toEqual(problemAs(reference, hidden));
      }
      expect(await shop.sql('select id, name, email from customers order by id')).toEqual(before);
      expect(await shop.ids(`select id from orders where customer_id = ${shop.a.id} and status <> 'cancelled' order by id`)).not.toEqual([]);
    });

    test('writing a hidden column is refused exactly like writing one that does not exist, and nothing changes', async () => {
      const before = await shop.sql(`select * from customers where id = ${shop.a.id}`);
      const reference = await send('PATCH', `/customers/${shop.a.id}`, { name: 'Mallory', [FAKE]: 'x' }, A());
      expect(reference.statusCode, reference.body).toBe(403);
      for (const hidden of ['email', 'created_at']) {
        const res = await send('PATCH', `/customers/${shop.a.id}`, { name: 'Mallory', [hidden]: hidden === 'email' ? 'mallory@evil.example' : '2020-01-01T00:00:00Z' }, A());
        expect(problemAs(res)).toEqual(problemAs(reference, hidden));
        const bulk = await send('PATCH', `/customers?id=${shop.a.id}`, { [hidden]: 'x' }, A());
        expect(problemAs(bulk)).toEqual(problemAs(await send('PATCH', `/customers?id=${shop.a.id}`, { [FAKE]: 'x' }, A()), hidden));
      }
      expect(await shop.sql(`select * from customers where id = ${shop.a.id}`)).toEqual(before);
    });
  });

  describe('anonymous callers', () => {
    test('see only active products, without active and stock, in every format', async () => {
      const active = await shop.ids('select id from products where active = true order by id');
      const inactive = await shop.ids('select id from products where active = false order by id');
      expect(inactive.length).toBeGreaterThan(0);
      const list = await get('/products?limit=1000&count=exact');
      expect(list.statusCode).toBe(200);
      const body = list.json() as { data: Row[]; pagination: { total: number } };
      expect(body.data.map((p) => Number(p.id))).toEqual(active);
      expect(body.pagination.total).toBe(active.length);
      for (const p of body.data) expect(Object.keys(p)).toEqual(PRODUCT_KEYS);
      const nd = ndjson((await get('/products', { accept: 'application/x-ndjson' })).body);
      expect(nd.map((p) => Number(p.id))).toEqual(active);
      for (const p of nd) expect(Object.keys(p)).toEqual(PRODUCT_KEYS);
      const table = csv((await get('/products', { accept: 'text/csv' })).body);
      expect(table.header).toEqual(PRODUCT_KEYS);
      expect(table.rows.map((r) => Number(r[0]))).toEqual(active);
      // An inactive product by key is as missing as one that does not exist.
      const missing = await get(`/products/${NOT_EXISTING}`);
      for (const id of inactive) {
        const res = await get(`/products/${id}`);
        expect(res.statusCode).toBe(404);
        expect(problemAs(res).detail).toBe(String(problemAs(missing).detail).replace(String(NOT_EXISTING), String(id)));
      }
    });

    test.each([
      '{c}=true', '{c}[eq]=false', '{c}[ne]=true', '{c}[null]=false', 'or=({c}.eq.false,id.gt.0)', 'not.and=({c}.eq.true)',
      'sort={c}', 'sort=-{c}', 'fields=id,{c}', 'fields={c}',
    ])('/products?%s for a hidden column is answered as for a column that does not exist', async (query) => {
      const reference = await get(`/products?${query.replaceAll('{c}', FAKE)}`);
      expect(reference.statusCode, reference.body).toBe(400);
      for (const hidden of ['active', 'stock']) {
        const res = await get(`/products?${query.replaceAll('{c}', hidden)}`);
        expect(problemAs(res)).toEqual(problemAs(reference, hidden));
      }
    });

    test('relations and resources outside the policy are as unknown as missing ones', async () => {
      const relation = await get('/products?include=order_items');
      expect(relation.statusCode).toBe(400);
      expect(problemAs(relation)).toEqual(problemAs(await get(`/products?include=${FAKE}`), 'order_items'));
      for (const name of ['orders', 'customers', 'order_items']) {
        const res = await get(`/${name}`);
        expect(res.statusCode).toBe(404);
        expect(problemAs(res)).toEqual(problemAs(await get(`/${FAKE}`), name));
      }
      expect((await shop.s.get('/openapi.json')).body).not.toContain('"stock"');
    });
  });
});
