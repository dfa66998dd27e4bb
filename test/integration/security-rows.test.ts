/**
 * OWASP API1:2023 (Broken Object Level Authorization) against the row policies of SPEC §6, on
 * every dialect: customer A must never read, count, page to, embed, change or delete a row of
 * customer B — through lists, single rows, counts, NDJSON and CSV streams, cursor and offset
 * paging (forged cursors included), widening filters, relation filters, embeds at any depth, bulk
 * and single-row writes, upserts and PUT. Expectations come from the database itself (A's and B's
 * rows are counted in SQL), and writes are checked by reading the rows behind the API's back.
 * Also: the audit log of a customer's writes, and refused writes leaving neither row nor record.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { dialects, execSql } from '../support/databases.ts';
import { API, csv, ndjson, NOT_EXISTING, problemOf, secureShop, shopToken, type SecureShop } from '../support/security-shop.ts';

type Row = Record<string, unknown>;
const all = await dialects();
const ORDER = { status: 'pending', total: '12.50', created_at: '2025-03-01T10:00:00Z' };

const data = (res: LightMyRequestResponse): Row[] => {
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { data: Row[] }).data;
};
const idsOf = (rows: Row[]) => rows.map((r) => Number(r.id));
const itemKey = (r: Row) => `${Number(r.order_id)}/${Number(r.product_id)}`;
/** Parses a stored audit image (jsonb on PostgreSQL, text on SQLite). */
const image = (v: unknown): Row | null => (v === null || v === undefined ? null : typeof v === 'string' ? JSON.parse(v) as Row : v as Row);

/** The 404 of a row the caller may not see must read exactly like the 404 of a row that does not exist. */
function expectSameNotFound(res: LightMyRequestResponse, reference: LightMyRequestResponse, id: string): void {
  expect(res.statusCode, res.body).toBe(404);
  expect(reference.statusCode, reference.body).toBe(404);
  const got = problemOf(res);
  const ref = problemOf(reference);
  expect(got.code).toBe(ref.code);
  expect({ type: got.type, title: got.title, detail: got.detail }).toEqual({ type: ref.type, title: ref.title, detail: ref.detail.replaceAll(String(NOT_EXISTING), id) });
}

/** Fills `{A}`, `{B}`, `{A1}` (A's first order), `{B1}`, `{Bs}` (B's orders), `{country}` into a query. */
function fill(query: string, shop: SecureShop, country: string): string {
  return query.replaceAll('{A1}', String(shop.a.orders[0])).replaceAll('{B1}', String(shop.b.orders[0])).replaceAll('{Bs}', shop.b.orders.join(','))
    .replaceAll('{A}', String(shop.a.id)).replaceAll('{B}', String(shop.b.id)).replaceAll('{country}', country);
}

describe.each(all)('row-level security (BOLA) on %s', (dialect) => {
  describe('reads', () => {
    let shop: SecureShop;
    let country: string;
    /** A's order items as `order/product`, sorted. */
    let aItems: string[];
    let bItems: string[];
    beforeAll(async () => {
      shop = await secureShop(dialect);
      country = String((await shop.sql(`select country from customers where id = ${shop.a.id}`))[0]!.country);
      const items = async (c: number) => (await shop.sql(`select order_id, product_id from order_items where order_id in (select id from orders where customer_id = ${c}) order by order_id, product_id`)).map(itemKey);
      aItems = await items(shop.a.id);
      bItems = await items(shop.b.id);
    });
    afterAll(() => shop.close());
    const get = (path: string, headers: Record<string, string>) => shop.s.get(`${API}${path}`, headers);

    test('the two customers share a country and both have orders and items (so the tests below can fail)', async () => {
      expect(shop.a.id).not.toBe(shop.b.id);
      expect(shop.a.orders.length).toBeGreaterThan(1);
      expect(shop.b.orders.length).toBeGreaterThan(1);
      expect(bItems.length).toBeGreaterThan(0);
      expect(String((await shop.sql(`select country from customers where id = ${shop.b.id}`))[0]!.country)).toBe(country);
      // The admin sees B's rows where A sees none: the rows exist, the policy hides them.
      expect(idsOf(data(await get(`/orders?customer_id=${shop.b.id}`, shop.admin)))).toEqual(shop.b.orders);
    });

    describe.each(['key', 'jwt'] as const)('customer A with its %s', (via) => {
      const A = () => shop.a[via];

      test('a list holds exactly A\'s orders; count=exact counts only them', async () => {
        const rows = data(await get('/orders?limit=1000', A()));
        expect(idsOf(rows)).toEqual(shop.a.orders);
        expect(new Set(rows.map((r) => r.customer_id))).toEqual(new Set([shop.a.id]));
        for (const count of ['exact', 'estimated']) {
          const res = await get(`/orders?count=${count}&limit=1`, A());
          expect((res.json() as { pagination: { total: number } }).pagination.total).toBe(shop.a.orders.length);
          const none = await get(`/orders?count=${count}&customer_id=${shop.b.id}`, A());
          expect((none.json() as { pagination: { total: number }; data: Row[] })).toMatchObject({ data: [], pagination: { total: 0 } });
        }
        expect((await get('/order_items?count=exact&limit=1', A())).json()).toMatchObject({ pagination: { total: aItems.length } });
        expect((await get('/customers?count=exact', A())).json()).toMatchObject({ data: [{ id: shop.a.id }], pagination: { total: 1 } });
      });

      test('each of B\'s rows by key is a 404 exactly like a row that does not exist (never 403)', async () => {
        const missing = await get(`/orders/${NOT_EXISTING}`, A());
        for (const id of shop.b.orders) {
          expectSameNotFound(await get(`/orders/${id}`, A()), missing, String(id));
          expectSameNotFound(await get(`/orders/${id}?include=customer,items`, A()), await get(`/orders/${NOT_EXISTING}?include=customer,items`, A()), String(id));
          expect((await shop.s.request('HEAD', `${API}/orders/${id}`, undefined, A())).statusCode).toBe(404);
        }
        expectSameNotFound(await get(`/customers/${shop.b.id}`, A()), await get(`/customers/${NOT_EXISTING}`, A()), String(shop.b.id));
        const [order, product] = bItems[0]!.split('/');
        const res = await get(`/order_items/${order},${product}`, A());
        expect(res.statusCode).toBe(404);
        expect(problemOf(res).code).toBe('SLUICE_NOT_FOUND');
        // A's own rows are there.
        expect((await get(`/orders/${shop.a.orders[0]}`, A())).json()).toMatchObject({ data: { id: shop.a.orders[0], customer_id: shop.a.id } });
        const [ao, ap] = aItems[0]!.split('/');
        expect((await get(`/order_items/${ao},${ap}`, A())).statusCode).toBe(200);
        expect((await get(`/customers/${shop.a.id}`, A())).statusCode).toBe(200);
      });

      test('NDJSON streams carry exactly A\'s rows', async () => {
        const nd = await get('/orders', { ...A(), accept: 'application/x-ndjson' });
        expect(nd.statusCode).toBe(200);
        expect(String(nd.headers['content-type'])).toContain('application/x-ndjson');
        expect(idsOf(ndjson(nd.body))).toEqual(shop.a.orders);
        const widened = await get(`/orders?or=(customer_id.eq.${shop.b.id},id.gt.0)`, { ...A(), accept: 'application/x-ndjson' });
        expect(idsOf(ndjson(widened.body))).toEqual(shop.a.orders);
        expect(ndjson((await get(`/orders?customer_id=${shop.b.id}`, { ...A(), accept: 'application/x-ndjson' })).body)).toEqual([]);
        expect(ndjson((await get('/order_items', { ...A(), accept: 'application/x-ndjson' })).body).map(itemKey).sort()).toEqual([...aItems].sort());
        // Embeds in streams pass through the policy too.
        const nested = ndjson((await get('/customers?include=orders', { ...A(), accept: 'application/x-ndjson' })).body);
        expect(nested.map((c) => c.id)).toEqual([shop.a.id]);
        expect(idsOf(nested[0]!.orders as Row[])).toEqual(shop.a.orders);
      });

      test('CSV streams carry exactly A\'s rows (not none, not B\'s)', async () => {
        const text = await get('/orders', { ...A(), accept: 'text/csv' });
        expect(text.statusCode).toBe(200);
        const table = csv(text.body);
        expect(table.header).toEqual(['id', 'customer_id', 'status', 'total', 'created_at']);
        expect(table.rows.map((r) => Number(r[0]))).toEqual(shop.a.orders);
        expect(new Set(table.rows.map((r) => r[1]))).toEqual(new Set([String(shop.a.id)]));
        const widened = csv((await get(`/orders?or=(customer_id.eq.${shop.b.id},id.gt.0)`, { ...A(), accept: 'text/csv' })).body);
        expect(widened.rows.map((r) => Number(r[0]))).toEqual(shop.a.orders);
        expect(csv((await get(`/orders?customer_id=${shop.b.id}`, { ...A(), accept: 'text/csv' })).body).rows).toEqual([]);
        const items = csv((await get('/order_items', { ...A(), accept: 'text/csv' })).body);
        expect(items.rows.map((r) => `${r[0]}/${r[1]}`).sort()).toEqual([...aItems].sort());
        const embedded = csv((await get('/orders?include=customer', { ...A(), accept: 'text/csv' })).body);
        expect(embedded.header.at(-1)).toBe('customer');
        expect(embedded.rows.map((r) => (JSON.parse(r.at(-1)!) as Row).id)).toEqual(shop.a.orders.map(() => shop.a.id));
      });

      test('cursor paging walks exactly A\'s rows, in every sort order', async () => {
        for (const sort of ['', '&sort=-total', '&sort=status,-created_at']) {
          const seen: number[] = [];
          let url = `/orders?limit=3${sort}`;
          for (let page = 0; page < 50; page++) {
            const body = (await get(url, A())).json() as { data: Row[]; pagination: { hasMore: boolean; nextCursor?: string } };
            seen.push(...idsOf(body.data));
            if (!body.pagination.hasMore) break;
            url = `/orders?limit=3${sort}&cursor=${body.pagination.nextCursor}`;
          }
          expect([...seen].sort((x, y) => x - y)).toEqual(shop.a.orders);
          expect(new Set(seen).size).toBe(seen.length);
        }
      });

      test('forged cursors pointing at B\'s ids and sort values still return only A\'s rows, or 400', async () => {
        const tagOf = async (query: string) => {
          const cursor = ((await get(`/orders?limit=1${query}`, A())).json() as { pagination: { nextCursor: string } }).pagination.nextCursor;
          return (JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { t: string }).t;
        };
        const forge = (t: string, v: unknown[]) => Buffer.from(JSON.stringify({ t, v })).toString('base64url');
        const byId = await tagOf('');
        for (const id of shop.b.orders) {
          const rows = data(await get(`/orders?limit=1000&cursor=${forge(byId, [String(id - 1)])}`, A()));
          expect(idsOf(rows)).toEqual(shop.a.orders.filter((x) => x >= id));
        }
        expect(idsOf(data(await get(`/orders?limit=1000&cursor=${forge(byId, ['-1'])}`, A())))).toEqual(shop.a.orders);

        // Descending total: start right after each of B's rows.
        const byTotal = await tagOf('&sort=-total');
        const cents = (v: unknown) => Math.round(Number(v) * 100);
        const aRows = (await shop.sql(`select id, total from orders where customer_id = ${shop.a.id}`)).map((r) => ({ id: Number(r.id), total: cents(r.total) }));
        const bRows = (await shop.sql(`select id, total from orders where customer_id = ${shop.b.id}`)).map((r) => ({ id: Number(r.id), total: cents(r.total) }));
        aRows.sort((x, y) => y.total - x.total || x.id - y.id);
        for (const b of bRows) {
          const cursor = forge(byTotal, [(b.total / 100).toFixed(2), String(b.id)]);
          const rows = data(await get(`/orders?limit=1000&sort=-total&cursor=${cursor}`, A()));
          expect(idsOf(rows)).toEqual(aRows.filter((a) => a.total < b.total || (a.total === b.total && a.id > b.id)).map((a) => a.id));
        }

        // A cursor of another listing, or with values that are no sort values: 400, never rows.
        const customersTag = ((await get('/customers?limit=1', shop.admin)).json() as { pagination: { nextCursor: string } }).pagination.nextCursor;
        for (const cursor of [customersTag, forge(byId, ['1 or 1=1']), forge(byId, [String(shop.b.orders[0]), 'extra']), forge('forged', [String(shop.b.orders[0])]), 'not-a-cursor!']) {
          const res = await get(`/orders?cursor=${cursor}`, A());
          expect(res.statusCode, cursor).toBe(400);
          expect(problemOf(res).code).toBe('SLUICE_INVALID_CURSOR');
        }
      });

      test('offset paging reaches only A\'s rows', async () => {
        const seen: number[] = [];
        for (let offset = 0; offset < 100; offset += 3) {
          const rows = data(await get(`/orders?limit=3&offset=${offset}`, A()));
          if (rows.length === 0) break;
          seen.push(...idsOf(rows));
        }
        expect(seen).toEqual(shop.a.orders);
        expect(data(await get(`/orders?offset=${shop.a.orders.length}`, A()))).toEqual([]);
      });

      // Every filter that could widen the policy's rows: the expectation is all of A's rows, none, or A's first.
      test.each([
        ['customer_id={B}', 'none'], ['customer_id[eq]={B}', 'none'], ['customer_id[ne]={A}', 'none'], ['customer_id[not.eq]={A}', 'none'],
        ['customer_id[in]={A},{B}', 'all'], ['customer_id[nin]={A}', 'none'], ['customer_id[gte]=0', 'all'], ['customer_id[null]=false', 'all'],
        ['or=(customer_id.eq.{B},customer_id.eq.{A})', 'all'], ['or=(customer_id.eq.{B},id.gt.0)', 'all'],
        ['or=(customer_id.eq.{B},and(id.gt.0,customer_id.ne.{A}))', 'none'], ['and=(or(customer_id.eq.{B},id.gt.0))', 'all'],
        ['not.and=(customer_id.eq.{A})', 'none'], ['not.or=(customer_id.eq.{A},id.lt.0)', 'none'],
        ['id={B1}', 'none'], ['id[in]={Bs}', 'none'], ['id[in]={Bs},{A1}', 'first'], ['or=(id.eq.{B1},id.eq.{A1})', 'first'],
        ['customer.id={B}', 'none'], ['customer.id[ne]={A}', 'none'], ['customer.id[in]={A},{B}', 'all'], ['customer.country={country}', 'all'],
        ['or=(customer.id.eq.{B},id.eq.{B1})', 'none'], ['not.and=(customer.id.eq.{A})', 'none'],
        ['customer_id={B}&customer_id={A}', 'none'], ['or=(customer_id.eq.{B})&or=(customer_id.eq.{A})', 'none'],
      ])('/orders?%s never widens to B\'s rows', async (query, expected) => {
        const rows = data(await get(`/orders?limit=1000&${fill(query, shop, country)}`, A()));
        const want = expected === 'all' ? shop.a.orders : expected === 'none' ? [] : [shop.a.orders[0]!];
        expect(idsOf(rows)).toEqual(want);
      });

      test.each([
        ['order.customer_id={B}', 'none'], ['order_id[in]={Bs}', 'none'], ['order.customer.id={B}', 'none'],
        ['or=(order.customer_id.eq.{B},quantity.gt.0)', 'all'], ['order.customer.country={country}', 'all'],
        ['not.and=(order.customer_id.eq.{A})', 'none'], ['order.customer_id[in]={A},{B}', 'all'],
      ])('/order_items?%s never widens to B\'s items', async (query, expected) => {
        const rows = data(await get(`/order_items?limit=1000&${fill(query, shop, country)}`, A()));
        expect(rows.map(itemKey).sort()).toEqual(expected === 'all' ? [...aItems].sort() : []);
      });

      test.each([
        ['id={B}', 'none'], ['id[in]={A},{B}', 'all'], ['or=(id.eq.{B},id.gt.0)', 'all'], ['country={country}', 'all'],
        ['id[ne]={A}', 'none'], ['not.and=(id.eq.{A})', 'none'], ['name=Customer%20{B}', 'none'],
      ])('/customers?%s never widens to B', async (query, expected) => {
        const rows = data(await get(`/customers?${fill(query, shop, country)}`, A()));
        expect(idsOf(rows)).toEqual(expected === 'all' ? [shop.a.id] : []);
      });

      test('embeds at every depth hold only A\'s rows', async () => {
        // customers → orders → items (to-many, two levels).
        const [me, ...others] = data(await get('/customers?include=orders.items&limit=1000', A()));
        expect(others).toEqual([]);
        expect(me!.id).toBe(shop.a.id);
        const orders = me!.orders as Row[];
        expect(idsOf(orders)).toEqual(shop.a.orders);
        expect(orders.flatMap((o) => (o.items as Row[]).map(itemKey)).sort()).toEqual([...aItems].sort());
        const one = data(await get(`/customers?id=${shop.a.id}&include=orders.items.product`, A()))[0]!;
        expect(idsOf(one.orders as Row[])).toEqual(shop.a.orders);

        // orders → customer (to-one).
        const withCustomer = data(await get('/orders?include=customer&limit=1000', A()));
        expect(withCustomer.map((o) => (o.customer as Row).id)).toEqual(shop.a.orders.map(() => shop.a.id));

        // products → order_items → order → customer (to-many then to-one, depth 3), and products → orders (many-to-many).
        const products = data(await get('/products?include=order_items.order.customer&limit=1000', A()));
        const items = products.flatMap((p) => p.order_items as Row[]);
        expect(items.map(itemKey).sort()).toEqual([...aItems].sort());
        expect(new Set(items.map((i) => ((i.order as Row).customer as Row).id))).toEqual(new Set([shop.a.id]));
        const m2m = data(await get('/products?include=orders.customer&limit=1000', A()));
        const pairs = m2m.flatMap((p) => (p.orders as Row[]).map((o) => `${Number(o.id)}/${Number(p.id)}`));
        expect(pairs.sort()).toEqual([...aItems].sort());
        expect(new Set(m2m.flatMap((p) => (p.orders as Row[]).map((o) => (o.customer as Row).id)))).toEqual(new Set([shop.a.id]));

        // order_items → order → customer (to-one chain).
        const chain = data(await get('/order_items?include=order.customer&limit=1000', A()));
        expect(new Set(chain.map((i) => ((i.order as Row).customer as Row).id))).toEqual(new Set([shop.a.id]));

        // One product B bought: its embedded items are A's of that product only.
        const [bOrder, bProduct] = bItems[0]!.split('/').map(Number);
        const product = (await get(`/products/${bProduct}?include=order_items,orders`, A())).json() as { data: Row };
        expect((product.data.order_items as Row[]).map(itemKey).sort()).toEqual(aItems.filter((k) => k.endsWith(`/${bProduct}`)).sort());
        expect(idsOf(product.data.orders as Row[])).not.toContain(bOrder);
      });

      test('filters on embedded rows cannot reach B\'s rows either', async () => {
        const [me] = data(await get(`/customers?include=orders&orders.customer_id=${shop.b.id}`, A()));
        expect(me!.orders).toEqual([]);
        const products = data(await get(`/products?include=order_items&order_items.order_id[in]=${shop.b.orders.join(',')}&limit=1000`, A()));
        expect(products.flatMap((p) => p.order_items as Row[])).toEqual([]);
        const nested = data(await get(`/products?include=order_items.order&order_items.order.customer_id=${shop.b.id}&limit=1000`, A()));
        expect(nested.flatMap((p) => p.order_items as Row[])).toEqual([]);
      });
    });

    test('B sees its own rows and none of A\'s: the policy follows the caller', async () => {
      expect(idsOf(data(await get('/orders?limit=1000', shop.b.key)))).toEqual(shop.b.orders);
      expect(idsOf(data(await get('/orders?limit=1000', shop.b.jwt)))).toEqual(shop.b.orders);
      expect((await get(`/orders/${shop.a.orders[0]}`, shop.b.key)).statusCode).toBe(404);
      // The same statement, cached for the role, is filled with each caller's own claim.
      for (let i = 0; i < 3; i++) {
        expect(idsOf(data(await get('/orders?limit=1000', i % 2 ? shop.a.key : shop.b.key)))).toEqual(i % 2 ? shop.a.orders : shop.b.orders);
        expect((await get(`/orders/${shop.b.orders[0]}`, i % 2 ? shop.a.key : shop.b.key)).statusCode).toBe(i % 2 ? 404 : 200);
      }
    });

    test('a customer key without a subject sees no row at all', async () => {
      const anonymousCustomer = await shop.keyFor('customer');
      expect(data(await get('/orders?limit=1000', anonymousCustomer))).toEqual([]);
      expect(data(await get('/order_items', anonymousCustomer))).toEqual([]);
      expect(data(await get('/customers', anonymousCustomer))).toEqual([]);
      expect((await get(`/orders/${shop.a.orders[0]}`, anonymousCustomer)).statusCode).toBe(404);
      // A token whose sub does not fit the column (text, or a number of another form) sees nothing either.
      expect(data(await get('/orders?limit=1000', { authorization: `Bearer ${await shopToken({ sub: `${shop.a.id} or 1=1`, role: 'customer' })}` }))).toEqual([]);
    });
  });

  describe.each([true, false])('writes (auth.audit.enabled: %s)', (audit) => {
    let shop: SecureShop;
    beforeEach(async () => {
      shop = await secureShop(dialect, { flags: { 'auth.audit.enabled': audit } });
    });
    afterEach(() => shop.close());
    const send = (method: string, path: string, body: unknown, headers: Record<string, string>) => shop.s.request(method, `${API}${path}`, body, headers);
    const bRows = () => shop.sql(`select * from orders where customer_id = ${shop.b.id} order by id`);
    const bItemRows = () => shop.sql(`select * from order_items where order_id in (select id from orders where customer_id = ${shop.b.id}) order by order_id, product_id`);
    const statusOf = async (id: number) => String((await shop.sql(`select status from orders where id = ${id}`))[0]?.status);
    const count = async () => Number((await shop.sql('select count(*) as n from orders'))[0]!.n);

    test('bulk PATCH by any widening filter changes A\'s rows at most, never B\'s', async () => {
      const before = await bRows();
      const country = String((await shop.sql(`select country from customers where id = ${shop.a.id}`))[0]!.country);
      const cases: Array<[string, number[]]> = [
        ['customer_id={B}', []], ['id[in]={Bs}', []], ['customer.id={B}', []], ['not.and=(customer_id.eq.{A})', []],
        ['or=(customer_id.eq.{B},id.eq.{A1})', [shop.a.orders[0]!]], ['customer_id[in]={A},{B}', shop.a.orders],
      ];
      for (const [query, expected] of cases) {
        const res = await send('PATCH', `/orders?${fill(query, shop, country)}`, { status: 'cancelled' }, shop.a.key);
        expect(idsOf(data(res)).sort((x, y) => x - y), query).toEqual(expected);
        for (const id of expected) expect(await statusOf(id)).toBe('cancelled');
      }
      expect(await bRows()).toEqual(before);
      const viaJwt = await send('PATCH', `/orders?or=(customer_id.eq.${shop.b.id},customer.id.eq.${shop.b.id})`, { status: 'pending' }, shop.a.jwt);
      expect(data(viaJwt)).toEqual([]);
      expect(await bRows()).toEqual(before);
    });

    test('bulk DELETE by a widening filter deletes A\'s rows only', async () => {
      const before = await bRows();
      const items = await bItemRows();
      expect(data(await send('DELETE', `/orders?or=(customer_id.eq.${shop.b.id},id.lt.0)`, undefined, shop.a.key))).toEqual([]);
      expect(data(await send('DELETE', `/orders?customer.id=${shop.b.id}`, undefined, shop.a.jwt))).toEqual([]);
      const deleted = data(await send('DELETE', `/orders?customer_id[in]=${shop.a.id},${shop.b.id}`, undefined, shop.a.key));
      expect(idsOf(deleted).sort((x, y) => x - y)).toEqual(shop.a.orders);
      expect(await shop.ids(`select id from orders where customer_id = ${shop.a.id}`)).toEqual([]);
      expect(await bRows()).toEqual(before);
      expect(await bItemRows()).toEqual(items);
    });

    test('PATCH, PUT and DELETE of B\'s row by key: 404 like a missing row, and the row is unchanged', async () => {
      const before = await bRows();
      const total = await count();
      const clerk = await shop.keyFor('clerk', shop.a.id);
      for (const id of shop.b.orders) {
        expectSameNotFound(await send('PATCH', `/orders/${id}`, { status: 'cancelled' }, shop.a.key), await send('PATCH', `/orders/${NOT_EXISTING}`, { status: 'cancelled' }, shop.a.key), String(id));
        expectSameNotFound(await send('DELETE', `/orders/${id}`, undefined, shop.a.jwt), await send('DELETE', `/orders/${NOT_EXISTING}`, undefined, shop.a.jwt), String(id));
        // A role that may create and update any column: PUT over B's row is a 404 and changes nothing.
        const put = await send('PUT', `/orders/${id}`, { ...ORDER, status: 'cancelled' }, clerk);
        expect(put.statusCode, put.body).toBe(404);
        expect(problemOf(put).code).toBe('SLUICE_NOT_FOUND');
        // The customer role may not replace whole orders at all (it updates only the status): 403 for any key.
        const customerPut = await send('PUT', `/orders/${id}`, ORDER, shop.a.key);
        expect(customerPut.statusCode, customerPut.body).toBe(403);
        const { requestId: _a, ...refused } = problemOf(customerPut) as Record<string, unknown>;
        const { requestId: _b, ...missing } = problemOf(await send('PUT', `/orders/${NOT_EXISTING}`, ORDER, shop.a.key)) as Record<string, unknown>;
        expect(refused).toEqual(missing);
      }
      expectSameNotFound(await send('PATCH', `/customers/${shop.b.id}`, { name: 'Mallory' }, shop.a.key), await send('PATCH', `/customers/${NOT_EXISTING}`, { name: 'Mallory' }, shop.a.key), String(shop.b.id));
      expect(await bRows()).toEqual(before);
      expect(await count()).toBe(total);
      expect(String((await shop.sql(`select name from customers where id = ${shop.b.id}`))[0]!.name)).toBe(`Customer ${shop.b.id}`);
    });

    test('POST with B\'s customer_id is a 403 and inserts nothing; without it the order is A\'s', async () => {
      const total = await count();
      const bCount = shop.b.orders.length;
      for (const body of [{ ...ORDER, customer_id: shop.b.id }, [ORDER, { ...ORDER, customer_id: shop.b.id }]]) {
        const res = await send('POST', '/orders', body, shop.a.key);
        expect(res.statusCode, res.body).toBe(403);
        expect(problemOf(res).errors?.map((e) => e.field.replace(/^\[\d+\]\./, ''))).toEqual(['customer_id']);
      }
      expect(await count()).toBe(total);
      const created = await send('POST', '/orders', ORDER, shop.a.jwt);
      expect(created.statusCode, created.body).toBe(201);
      const id = Number((created.json() as { data: Row }).data.id);
      expect(Number((await shop.sql(`select customer_id from orders where id = ${id}`))[0]!.customer_id)).toBe(shop.a.id);
      // A role without the column allow-list: the preset wins over the body, so the row is still A's.
      const clerk = await shop.keyFor('clerk', shop.a.id);
      const preset = await send('POST', '/orders', { ...ORDER, customer_id: shop.b.id }, clerk);
      expect(preset.statusCode, preset.body).toBe(201);
      expect((preset.json() as { data: Row }).data.customer_id).toBe(shop.a.id);
      expect(await shop.ids(`select id from orders where customer_id = ${shop.b.id}`)).toHaveLength(bCount);
      // No subject: the preset has no value, so nothing is created.
      const nobody = await send('POST', '/orders', ORDER, await shop.keyFor('customer'));
      expect(nobody.statusCode).toBe(403);
      expect(await count()).toBe(total + 2);
    });

    test('an upsert naming B\'s order id is refused and B\'s row is unchanged', async () => {
      const before = await bRows();
      const total = await count();
      const b1 = shop.b.orders[0]!;
      const a1 = shop.a.orders[0]!;
      // customer: may not write id at all.
      const byCustomer = await send('POST', '/orders?onConflict=id', { ...ORDER, id: b1 }, shop.a.key);
      expect(byCustomer.statusCode, byCustomer.body).toBe(403);
      // clerk: may write every column, but not update B's row — alone or in a batch with its own.
      const clerk = await shop.keyFor('clerk', shop.a.id);
      const single = await send('POST', '/orders?onConflict=id', { ...ORDER, id: b1, total: '0.01' }, clerk);
      expect(single.statusCode, single.body).toBe(403);
      const aBefore = await shop.sql(`select * from orders where id = ${a1}`);
      const batch = await send('POST', '/orders?onConflict=id', [{ ...ORDER, id: a1, total: '0.02' }, { ...ORDER, id: b1, total: '0.02' }], clerk);
      expect(batch.statusCode, batch.body).toBe(403);
      expect(await shop.sql(`select * from orders where id = ${a1}`)).toEqual(aBefore);
      expect(await bRows()).toEqual(before);
      expect(await count()).toBe(total);
      // Control: the clerk's upsert of its own order goes through.
      const own = await send('POST', '/orders?onConflict=id', { ...ORDER, id: a1, total: '0.03' }, clerk);
      expect(own.statusCode, own.body).toBe(201);
      expect(Number((await shop.sql(`select total from orders where id = ${a1}`))[0]!.total)).toBe(0.03);
    });

    test('PUT and upsert respect the update column allow-list (API3): columns the role may not update stay as they are', async () => {
      const a1 = shop.a.orders[0]!;
      const before = await shop.sql(`select * from orders where id = ${a1}`);
      // customer: update columns [status] — a PUT would replace total and created_at too.
      const put = await send('PUT', `/orders/${a1}`, { status: 'pending', total: '0.01', created_at: '2020-01-01T00:00:00Z' }, shop.a.key);
      expect(put.statusCode, put.body).toBe(403);
      expect(problemOf(put).code).toBe('SLUICE_FORBIDDEN');
      // editor: may create any column, update only the status — an upsert of its own order may not change the total.
      const editor = await shop.keyFor('editor', shop.a.id);
      const upsert = await send('POST', '/orders?onConflict=id', { id: a1, status: 'pending', total: '0.01', created_at: '2020-01-01T00:00:00Z' }, editor);
      expect(upsert.statusCode, upsert.body).toBe(403);
      const editorPut = await send('PUT', `/orders/${a1}`, { status: 'pending', total: '0.01', created_at: '2020-01-01T00:00:00Z' }, editor);
      expect(editorPut.statusCode, editorPut.body).toBe(403);
      expect(await shop.sql(`select * from orders where id = ${a1}`)).toEqual(before);
      // What the allow-list does permit still works: PATCH of the status.
      expect(data(await send('PATCH', `/orders/${a1}`, { status: 'cancelled' }, shop.a.key))).toMatchObject({ id: a1, status: 'cancelled' });
      expect(await statusOf(a1)).toBe('cancelled');
    });

    test('PUT and upsert cannot skip an update preset', async () => {
      const reviewer = await shop.keyFor('reviewer', shop.a.id);
      const [a1, a2] = shop.a.orders as [number, number];
      // PATCH applies the preset whatever the body says.
      expect(data(await send('PATCH', `/orders/${a1}`, { status: 'shipped', total: '1.00' }, reviewer))).toMatchObject({ id: a1, status: 'pending', total: '1.00' });
      await shop.sql(`update orders set status = 'paid' where id = ${a2}`);
      const before = await shop.sql(`select * from orders where id = ${a2}`);
      const put = await send('PUT', `/orders/${a2}`, { ...ORDER, status: 'shipped' }, reviewer);
      expect(put.statusCode, put.body).toBe(403);
      const upsert = await send('POST', '/orders?onConflict=id', { ...ORDER, id: a2, status: 'shipped' }, reviewer);
      expect(upsert.statusCode, upsert.body).toBe(403);
      expect(await shop.sql(`select * from orders where id = ${a2}`)).toEqual(before);
    });

    test('a write whose check fails is refused and rolled back: the rows are unchanged', async () => {
      const a1 = shop.a.orders[0]!;
      const aBefore = await shop.sql(`select * from orders where customer_id = ${shop.a.id} order by id`);
      const total = await count();
      // update check: status in (pending, cancelled).
      const one = await send('PATCH', `/orders/${a1}`, { status: 'shipped' }, shop.a.key);
      expect(one.statusCode, one.body).toBe(403);
      const bulk = await send('PATCH', `/orders?customer_id=${shop.a.id}`, { status: 'paid' }, shop.a.key);
      expect(bulk.statusCode, bulk.body).toBe(403);
      // create check: total ≤ 10000.
      const big = await send('POST', '/orders', [ORDER, { ...ORDER, total: '20000.00' }], shop.a.key);
      expect(big.statusCode, big.body).toBe(403);
      expect(await shop.sql(`select * from orders where customer_id = ${shop.a.id} order by id`)).toEqual(aBefore);
      expect(await count()).toBe(total);
    });

    test('a row cannot be moved into B\'s account: the update check refuses it and nothing moves', async () => {
      const clerk = await shop.keyFor('clerk', shop.a.id);
      const a1 = shop.a.orders[0]!;
      const aBefore = await shop.sql(`select * from orders where customer_id = ${shop.a.id} order by id`);
      const one = await send('PATCH', `/orders/${a1}`, { customer_id: shop.b.id }, clerk);
      expect(one.statusCode, one.body).toBe(403);
      const bulk = await send('PATCH', `/orders?customer_id=${shop.a.id}`, { customer_id: shop.b.id }, clerk);
      expect(bulk.statusCode, bulk.body).toBe(403);
      // PUT and upsert take the preset, whatever the body says.
      const put = await send('PUT', `/orders/${a1}`, { ...ORDER, customer_id: shop.b.id }, clerk);
      expect(put.statusCode, put.body).toBe(200);
      expect(Number((await shop.sql(`select customer_id from orders where id = ${a1}`))[0]!.customer_id)).toBe(shop.a.id);
      expect(await shop.ids(`select id from orders where customer_id = ${shop.a.id} order by id`)).toEqual(aBefore.map((r) => Number(r.id)));
      expect(await shop.ids(`select id from orders where customer_id = ${shop.b.id} order by id`)).toEqual(shop.b.orders);
    });

    test('an item cannot be added to B\'s order (the create check is the read filter), only to A\'s', async () => {
      const items = await bItemRows();
      const product = Number((await shop.sql(`select id from products where id not in (select product_id from order_items where order_id in (${shop.a.orders[0]}, ${shop.b.orders[0]})) order by id limit 1`))[0]!.id);
      const item = (order: number) => ({ order_id: order, product_id: product, quantity: 1, unit_price: '1.00' });
      const refused = await send('POST', '/order_items', item(shop.b.orders[0]!), shop.a.key);
      expect(refused.statusCode, refused.body).toBe(403);
      const batch = await send('POST', '/order_items', [item(shop.a.orders[0]!), item(shop.b.orders[0]!)], shop.a.jwt);
      expect(batch.statusCode, batch.body).toBe(403);
      expect(await bItemRows()).toEqual(items);
      expect(await shop.sql(`select * from order_items where product_id = ${product} and order_id = ${shop.a.orders[0]}`)).toEqual([]);
      const own = await send('POST', '/order_items', item(shop.a.orders[0]!), shop.a.key);
      expect(own.statusCode, own.body).toBe(201);
    });

    test('the customer may not write resources it may only read', async () => {
      const product = await send('PATCH', '/products/1', { price: '0.01' }, shop.a.key);
      expect(product.statusCode).toBe(403);
      const item = await send('DELETE', `/order_items?order_id=${shop.b.orders[0]}`, undefined, shop.a.key);
      expect(item.statusCode).toBe(403);
      expect(Number((await shop.sql('select price from products where id = 1'))[0]!.price)).not.toBe(0.01);
      expect(await bItemRows()).not.toEqual([]);
    });
  });

  describe('audit log', () => {
    let shop: SecureShop;
    beforeEach(async () => {
      shop = await secureShop(dialect);
    });
    afterEach(() => shop.close());
    const send = (method: string, path: string, body: unknown, headers: Record<string, string>) => shop.s.request(method, `${API}${path}`, body, headers);
    const audit = async () => (await shop.sql(`select actor_kind, actor, role, action, resource, row_key, before, after from ${shop.auditTable} order by id`))
      .map((r) => ({ ...r, before: image(r.before), after: image(r.after) }));

    test('a customer\'s writes are recorded with its key id (or token subject), role, action and both images', async () => {
      const a1 = shop.a.orders[0]!;
      const old = String((await shop.sql(`select status from orders where id = ${a1}`))[0]!.status);
      expect(data(await send('PATCH', `/orders/${a1}`, { status: 'cancelled' }, shop.a.key))).toMatchObject({ id: a1, status: 'cancelled' });
      const created = await send('POST', '/orders', ORDER, shop.a.jwt);
      expect(created.statusCode).toBe(201);
      const newId = Number((created.json() as { data: Row }).data.id);
      expect((await send('DELETE', `/orders/${shop.a.orders[1]}`, undefined, shop.a.key)).statusCode).toBe(204);

      const rows = await audit();
      expect(rows).toHaveLength(3);
      expect(rows[0]).toMatchObject({ actor_kind: 'apiKey', actor: shop.a.keyId, role: 'customer', action: 'update', resource: 'orders', row_key: JSON.stringify([String(a1)]) });
      expect(rows[0]!.before).toMatchObject({ id: a1, customer_id: shop.a.id, status: old });
      expect(rows[0]!.after).toMatchObject({ id: a1, customer_id: shop.a.id, status: 'cancelled' });
      expect(rows[1]).toMatchObject({ actor_kind: 'jwt', actor: String(shop.a.id), role: 'customer', action: 'create', row_key: JSON.stringify([String(newId)]), before: null });
      expect(rows[1]!.after).toMatchObject({ id: newId, customer_id: shop.a.id, status: 'pending' });
      expect(rows[2]).toMatchObject({ actor: shop.a.keyId, action: 'delete', row_key: JSON.stringify([String(shop.a.orders[1])]), after: null });
      expect(rows[2]!.before).toMatchObject({ id: shop.a.orders[1], customer_id: shop.a.id });
    });

    test('refused writes leave neither the row nor an audit record', async () => {
      const a1 = shop.a.orders[0]!;
      const aBefore = await shop.sql(`select * from orders where customer_id = ${shop.a.id} order by id`);
      const bBefore = await shop.sql(`select * from orders where customer_id = ${shop.b.id} order by id`);
      const total = Number((await shop.sql('select count(*) as n from orders'))[0]!.n);
      const refused = [
        await send('PATCH', `/orders/${a1}`, { status: 'shipped' }, shop.a.key), // check
        await send('PATCH', `/orders?customer_id=${shop.a.id}`, { status: 'paid' }, shop.a.key), // check, bulk
        await send('POST', '/orders', { ...ORDER, total: '20000.00' }, shop.a.key), // create check
        await send('POST', '/orders', { ...ORDER, customer_id: shop.b.id }, shop.a.key), // column
        await send('PATCH', `/orders/${shop.b.orders[0]}`, { status: 'cancelled' }, shop.a.key), // B's row
        await send('DELETE', `/orders/${shop.b.orders[0]}`, undefined, shop.a.key),
      ];
      expect(refused.map((r) => r.statusCode)).toEqual([403, 403, 403, 403, 404, 404]);
      expect(await audit()).toEqual([]);
      expect(await shop.sql(`select * from orders where customer_id = ${shop.a.id} order by id`)).toEqual(aBefore);
      expect(await shop.sql(`select * from orders where customer_id = ${shop.b.id} order by id`)).toEqual(bBefore);
      expect(Number((await shop.sql('select count(*) as n from orders'))[0]!.n)).toBe(total);
    });
  });

  describe('deny by default', () => {
    let shop: SecureShop;
    // Tables named like members of Object.prototype: no policy names them, so no restricted role sees them.
    beforeAll(async () => {
      shop = await secureShop(dialect, {
        setup: async (url) => {
          for (const name of ['constructor', 'toString', '__proto__']) {
            await execSql(url, `create table "${name}" (id integer primary key, secret text)`);
            await execSql(url, `insert into "${name}" (id, secret) values (1, 'classified')`);
          }
        },
      });
    });
    afterAll(() => shop.close());

    test.each(['constructor', 'toString', '__proto__'])('a table named %s is unknown to a role whose policy does not name it', async (name) => {
      const missing = await shop.s.get(`${API}/no_such_table`, shop.a.key);
      for (const path of [`/${name}`, `/${name}/1`]) {
        const res = await shop.s.get(`${API}${path}`, shop.a.key);
        expect(res.statusCode, res.body).toBe(404);
        expect(problemOf(res).code).toBe(problemOf(missing).code);
        expect(res.body).not.toContain('classified');
      }
      const doc = (await shop.s.get('/openapi.json', shop.a.key)).json() as { paths: Record<string, unknown> };
      expect(Object.keys(doc.paths).filter((p) => p.includes(name))).toEqual([]);
      // The admin sees it: the table is there.
      expect((await shop.s.get(`${API}/${name}/1`, shop.admin)).json()).toMatchObject({ data: { secret: 'classified' } });
    });
  });
});
