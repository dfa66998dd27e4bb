/**
 * "Nothing changed", as a user can check it: row counts of every shop table and chosen rows,
 * read back through the API before and after a failing write.
 *
 * @example await unchanged(s, ['/api/v1/orders/1'], () => expectProblem(s, badCase))
 */
import { expect } from 'vitest';
import type { TestSluice } from './sluice.ts';

export const SHOP_TABLES = ['customers', 'products', 'orders', 'order_items'] as const;

/** Rows a resource holds, by `count=exact` through the API. */
export async function countOf(s: TestSluice, resource: string, filter = ''): Promise<number> {
  const res = await s.get(`/api/v1/${resource}?count=exact&limit=0${filter ? `&${filter}` : ''}`);
  expect(res.statusCode, `count of ${resource}${filter ? ` where ${filter}` : ''}: ${res.body.slice(0, 300)}`).toBe(200);
  return Number((JSON.parse(res.body) as { pagination: { total: number } }).pagination.total);
}

/** Counts of every shop table, the newest rows of each, and the body of each URL in `watch`. */
export async function shopState(s: TestSluice, watch: readonly string[] = []): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {};
  for (const table of SHOP_TABLES) state[`count ${table}`] = await countOf(s, table);
  for (const table of ['customers', 'products', 'orders']) {
    state[`newest ${table}`] = (await s.get(`/api/v1/${table}?sort=-id&limit=3`)).body;
  }
  for (const url of watch) {
    const res = await s.get(url);
    // A problem's requestId differs per request; everything else must not.
    state[url] = `${res.statusCode} ${res.body.replace(/"requestId":"[^"]*"/, '"requestId":"…"')}`;
  }
  return state;
}

/** Runs `act` and asserts that the shop reads back exactly as before it. */
export async function unchanged<T>(s: TestSluice, watch: readonly string[], act: () => Promise<T>): Promise<T> {
  const before = await shopState(s, watch);
  const out = await act();
  expect(await shopState(s, watch), 'the database changed although the request failed').toEqual(before);
  return out;
}
