/**
 * Response bodies assembled from the JSON text the database built: rows are joined, never parsed
 * and re-serialised. The list envelope carries `pagination` (limit, hasMore, nextCursor, total).
 */
import type { Row } from '../db/database.ts';
import type { ReadPlan } from '../plan/nodes.ts';
import type { ReadStatement } from '../sql/statement.ts';
import { encodeCursor } from '../plan/cursor.ts';

export interface ListPage {
  readonly body: string;
  readonly hasMore: boolean;
  readonly nextCursor: string | null;
  /** Offset of the next page, for resources without a primary key (no cursor). */
  readonly nextOffset: number | null;
}

/** @example listPage(rows, statement, plan, null).body → '{"data":[…],"pagination":{…}}' */
export function listPage(rows: readonly Row[], statement: Pick<ReadStatement, 'keyCount' | 'withTotal'>, plan: ReadPlan, total: number | null): ListPage {
  const limit = plan.root.limit ?? 0;
  const page = statement.withTotal && rows.length === 1 && rows[0]![0] === null ? [] : rows;
  // A page of zero rows cannot advance: no next page (it would point at itself).
  const hasMore = limit > 0 && page.length > limit;
  const shown = page.length > limit ? page.slice(0, limit) : page;
  let nextCursor: string | null = null;
  let nextOffset: number | null = null;
  if (hasMore && plan.root.resource.primaryKey.length > 0) {
    nextCursor = encodeCursor(plan.sortTag, plan.root.sort, shown.at(-1)!.slice(1, 1 + statement.keyCount));
  } else if (hasMore) {
    nextOffset = (plan.root.offset ?? 0) + limit;
  }
  const pagination: Record<string, unknown> = { limit, hasMore, nextCursor };
  if (plan.root.offset !== null) pagination.offset = plan.root.offset;
  if (total !== null) pagination.total = total;
  let data = '';
  for (let i = 0; i < shown.length; i++) data += (i ? ',' : '') + (shown[i]![0] as string);
  return { body: `{"data":[${data}],"pagination":${JSON.stringify(pagination)}}`, hasMore, nextCursor, nextOffset };
}

/** `{"data":<row>}` */
export function oneBody(json: string): string {
  return `{"data":${json}}`;
}

/** `{"data":[<rows>]}` from the first column of each row. */
export function manyBody(rows: readonly Row[]): string {
  let data = '';
  for (let i = 0; i < rows.length; i++) data += (i ? ',' : '') + (rows[i]![0] as string);
  return `{"data":[${data}]}`;
}

/**
 * The URL of the next page: the request's own query with `cursor` (or `offset`) replaced, so
 * every other parameter keeps its original encoding.
 */
export function nextLink(path: string, rawQuery: string, page: ListPage): string | null {
  if (!page.hasMore) return null;
  const kept = rawQuery.split('&').filter((p) => p !== '' && !/^(cursor|offset)(=|$)/.test(p));
  if (page.nextCursor) kept.push(`cursor=${page.nextCursor}`);
  else if (page.nextOffset !== null) kept.push(`offset=${page.nextOffset}`);
  else return null;
  return `<${path}?${kept.join('&')}>; rel="next"`;
}
