/**
 * Regressions from the review of issue 2 (core engine), each a behaviour a user saw go wrong.
 */
import { describe, expect, test } from 'vitest';
import { dialects, execSql } from '../support/databases.ts';
import { useShop } from '../support/sluice.ts';

const API = '/api/v1';

describe.each(await dialects())('issue 2 review on %s', (dialect) => {
  const pg = dialect === 'postgres';
  const s = useShop(dialect, {
    flags: { 'limits.maxLimit': 50 },
    setup: async (url) => void (await execSql(url, pg
      ? `create table shapes (id integer primary key, p point, big int8[], f double precision);
         insert into shapes values (1, '(1,2)', '{1, 9007199254740993}', 'Infinity'), (2, '(3,4)', '{5}', 1), (3, null, null, '-Infinity');`
      : `create table shapes (id integer primary key, f real);
         insert into shapes values (1, 9e999), (2, 1), (3, -9e999);`)),
  });

  test('an upsert batch that repeats its conflict key is a 422, and nothing is written', async () => {
    const res = await s().request('POST', `${API}/products?onConflict=sku`, [
      { sku: 'DUP-1', name: 'a', price: 1 }, { sku: 'DUP-1', name: 'b', price: 2 },
    ]);
    expect(res.statusCode).toBe(422);
    expect(res.json().errors[0].field).toBe('[1].sku');
    expect((await s().get(`${API}/products?sku=DUP-1`)).json().data).toEqual([]);
  });

  test('NUL characters in text and decimals that round beyond numeric(p,s) are 422 on every dialect', async () => {
    const nul = await s().request('POST', `${API}/customers`, { email: 'n\u0000l@example.com', name: 'x', country: 'DE', created_at: '2024-01-01T00:00:00Z' });
    expect(nul.statusCode).toBe(422);
    expect(nul.json().errors[0].field).toBe('email');
    const rounds = await s().request('POST', `${API}/products`, { sku: 'ROUND-1', name: 'x', price: '99999999.995' });
    expect(rounds.statusCode).toBe(422);
    expect(rounds.json().errors[0].field).toBe('price');
    expect((await s().request('POST', `${API}/products`, { sku: 'ROUND-2', name: 'x', price: '99999999.994' })).statusCode).toBe(201);
  });

  test('a to-many embed holds at most limits.maxLimit rows unless rel.limit asks for fewer', async () => {
    const body = (await s().get(`${API}/products/1?include=order_items&fields=id,order_items.order_id`)).json();
    expect(body.data.order_items).toHaveLength(50);
    const fewer = (await s().get(`${API}/products/1?include=order_items&order_items.limit=3&fields=id,order_items.order_id`)).json();
    expect(fewer.data.order_items).toHaveLength(3);
    expect((await s().get(`${API}/products/1?include=order_items&order_items.limit=51`)).statusCode).toBe(400);
  });

  test('count=estimated with a filter is exact where the database has no planner estimate', async () => {
    const total = (await s().get(`${API}/order_items?quantity[gte]=1&count=estimated&limit=1`)).json().pagination.total;
    if (pg) expect(total).toBeGreaterThan(10_000);
    else expect(total).toBe(25_000);
  });

  test('infinite floats sort as numbers and keyset pages visit every row once', async () => {
    for (const sort of ['f', '-f']) {
      const seen: number[] = [];
      let cursor: string | null = null;
      for (let guard = 0; guard < 5; guard++) {
        const res = await s().get(`${API}/shapes?sort=${sort}&limit=1&fields=id${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.statusCode).toBe(200);
        const body: { data: Array<{ id: number }>; pagination: { nextCursor: string | null } } = res.json();
        seen.push(...body.data.map((r) => r.id));
        cursor = body.pagination.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(sort === 'f' ? [3, 2, 1] : [1, 2, 3]);
    }
  });

  test.runIf(pg)('a type without ordering or equality is a 400, never a 500; 64-bit arrays keep their digits', async () => {
    for (const url of [`${API}/shapes?sort=p`, `${API}/shapes?p=(1,2)`]) {
      const res = await s().get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.headers['content-type']).toBe('application/problem+json');
    }
    const rows = (await s().get(`${API}/shapes?sort=id&fields=id,big`)).json().data;
    expect(rows).toEqual([{ id: 1, big: ['1', '9007199254740993'] }, { id: 2, big: [5] }, { id: 3, big: null }]);
  });
});
