/**
 * Keyset pages served from a compiled statement that an earlier cursor of the same shape left in
 * the statement cache: each page still starts right after its own cursor (the values are bound
 * per request), on uniform and mixed sort directions and across a nullable sort column's switch
 * from values to nulls (a new statement shape). Checked page by page against offset pages.
 */
import { describe, expect, it } from 'vitest';
import { dialects, execSql } from '../support/databases.ts';
import { useShop } from '../support/sluice.ts';

interface Page { data: Array<{ id: number }>; pagination: { nextCursor: string | null } }

describe.each(await dialects())('keyset pages from cached statements (%s)', (dialect) => {
  const s = useShop(dialect, {
    setup: async (url) => {
      await execSql(url, 'alter table orders add column note text');
      // Every third order has no note; the rest share five values (many ties).
      await execSql(url, "update orders set note = case when id % 3 = 0 then null else 'n' || (id % 5) end");
    },
  });

  /** Ids of every page of `query` (limit 7) reached by cursors, at most `pages` of them. */
  const walk = async (query: string, pages: number) => {
    const out: number[][] = [];
    let cursor: string | null = null;
    for (let i = 0; i < pages; i++) {
      const res = await s().get(`/api/v1/orders?${query}&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      const page = JSON.parse(res.body) as Page;
      out.push(page.data.map((r) => r.id));
      cursor = page.pagination.nextCursor;
      if (!cursor) break;
    }
    return out;
  };
  const offsetPages = async (query: string, count: number) => {
    const out: number[][] = [];
    for (let i = 0; i < count; i++) {
      const res = await s().get(`/api/v1/orders?${query}&limit=7&offset=${i * 7}`);
      out.push((JSON.parse(res.body) as Page).data.map((r) => r.id));
    }
    return out;
  };

  it.each(['sort=id', 'sort=-created_at', 'sort=status,-id', 'status=paid&sort=-total'])('%s: every cursor page equals the offset page', async (query) => {
    const pages = await walk(query, 12);
    expect(pages).toHaveLength(12);
    expect(new Set(pages.flat()).size).toBe(84);
    expect(pages).toEqual(await offsetPages(query, 12));
  });

  it('a nullable sort column: pages across the switch from values to nulls', async () => {
    // Filtered to ~45 rows so the walk reaches the null rows at the end of ascending order.
    const query = 'customer_id[lte]=20&sort=note';
    const rows = (await execSql(s().url, 'select count(*) as n from orders where customer_id <= 20'))[0]!;
    const pages = await walk(query, 100);
    const total = Number(rows.n);
    expect(pages.flat()).toHaveLength(total);
    expect(new Set(pages.flat()).size).toBe(total);
    expect(pages).toEqual(await offsetPages(query, pages.length));
    // Then descending, where the nulls come first.
    const desc = await walk('customer_id[lte]=20&sort=-note', 100);
    expect(desc).toEqual(await offsetPages('customer_id[lte]=20&sort=-note', desc.length));
  });

  it('after a cursor of one shape is cached, a forged cursor of the same shape is still refused', async () => {
    const [first] = await walk('sort=-total', 1);
    expect(first).toHaveLength(7);
    const page = JSON.parse((await s().get('/api/v1/orders?sort=-total&limit=7')).body) as Page;
    await s().get(`/api/v1/orders?sort=-total&limit=7&cursor=${page.pagination.nextCursor}`);
    const data = JSON.parse(Buffer.from(page.pagination.nextCursor!, 'base64url').toString()) as { t: string; v: string[] };
    const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const cursor of [forged({ t: 'x', v: data.v }), forged({ t: data.t, v: ['abc', '1'] }), forged({ t: data.t, v: ['1', 'x'] })]) {
      const res = await s().get(`/api/v1/orders?sort=-total&limit=7&cursor=${cursor}`);
      expect(res.statusCode, res.body).toBe(400);
      expect(JSON.parse(res.body).code).toBe('SLUICE_INVALID_CURSOR');
    }
  });
});
