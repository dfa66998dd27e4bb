/**
 * The requests of the golden SQL suite, compiled the way the HTTP routes compile them:
 * parseQuery → planRead / validateBody + plan* → compiler. Shared by golden.test.ts (the text
 * against reviewed files) and golden-parses.test.ts (the same statements through EXPLAIN).
 */
import { parseQuery } from '../../src/request/query-params.ts';
import { parseKey } from '../../src/request/key.ts';
import { planRead } from '../../src/plan/read-plan.ts';
import { encodeCursor } from '../../src/plan/cursor.ts';
import { validateBody } from '../../src/plan/row-validator.ts';
import { keyFilter, planDelete, planInsert, planReplace, planUpdate } from '../../src/plan/mutate-plan.ts';
import type { ReadMode } from '../../src/plan/nodes.ts';
import type { SqlCompiler } from '../../src/sql/compiler.ts';
import type { Compiled } from '../../src/sql/statement.ts';
import { PostgresCompiler } from '../../src/sql/dialect/postgres.ts';
import { SqliteCompiler } from '../../src/sql/dialect/sqlite.ts';
import type { DialectName, Resource, Snapshot } from '../../src/schema/model.ts';
import { LIMITS, resource, SHIPMENTS, shopSnapshot } from '../unit/fixtures.ts';

/** `limits.maxAffected` of the bulk cases. */
export const MAX_AFFECTED = 10_000;
export const INJECTION = "x'; drop table orders; --";

export interface Env {
  readonly dialect: DialectName;
  readonly snapshot: Snapshot;
  readonly compiler: SqlCompiler;
}

export function env(dialect: DialectName): Env {
  return {
    dialect, snapshot: shopSnapshot(dialect, [SHIPMENTS]),
    compiler: dialect === 'postgres' ? new PostgresCompiler() : new SqliteCompiler(),
  };
}

export interface GoldenCase {
  readonly name: string;
  /** The HTTP request the statements answer. */
  readonly request: string;
  readonly compile: (env: Env) => Compiled[];
}

function target(e: Env, path: string): { resource: Resource; query: string; id: string | undefined } {
  const [pathPart, query = ''] = path.split('?') as [string, string?];
  const [name, id] = pathPart.split('/') as [string, string?];
  return { resource: resource(e.snapshot, name), query, id };
}

/** The plan of a GET such as `orders?status=paid` or `orders/7`. */
function planOf(e: Env, path: string, mode: ReadMode) {
  const { resource: r, query, id } = target(e, path);
  return planRead({ snapshot: e.snapshot, resource: r, ast: parseQuery(query), limits: LIMITS, mode, ...(id ? { key: parseKey(r, id) } : {}) });
}

const read = (path: string, mode: ReadMode = 'list') => (e: Env): Compiled[] => [e.compiler.read(planOf(e, path, mode))];

/** A GET with `cursor=` the token of the row whose sort values are `values` (as a driver returns them). */
const page = (path: string, values: readonly unknown[]) => (e: Env): Compiled[] => {
  const first = planOf(e, path, 'list');
  return [e.compiler.read(planOf(e, `${path}&cursor=${encodeCursor(first.sortTag, first.root.sort, values)}`, 'list'))];
};

function create(path: string, body: unknown) {
  return (e: Env): Compiled[] => {
    const { resource: r, query } = target(e, path);
    const { rows } = validateBody(r, body, 'insert', LIMITS.maxLimit);
    return [e.compiler.insert(planInsert({ resource: r, rows, returning: r.columns, onConflict: parseQuery(query).onConflict }))];
  };
}

function bulk(path: string, body: Record<string, unknown> | null) {
  return (e: Env): Compiled[] => {
    const { resource: r } = target(e, path);
    const filter = planOf(e, path, 'list').root.filter!;
    const plan = body
      ? planUpdate({ resource: r, row: validateBody(r, body, 'update', 1).rows[0]!, filter, returning: r.columns })
      : planDelete({ resource: r, filter, returning: r.columns });
    const statement = e.compiler.bulk(plan, MAX_AFFECTED);
    return statement.kind === 'guarded' ? [statement.statement] : [statement.count, statement.write];
  };
}

export const CASES: readonly GoldenCase[] = [
  { name: 'pk-read', request: 'GET /orders/7', compile: read('orders/7', 'one') },
  { name: 'pk-read-composite', request: 'GET /order_items/5,17?include=product', compile: read('order_items/5,17?include=product', 'one') },
  { name: 'list-filter-sort-limit', request: 'GET /orders?status=paid&total[gte]=100&sort=-created_at&limit=10', compile: read('orders?status=paid&total[gte]=100&sort=-created_at&limit=10') },
  { name: 'include-to-one-and-to-many', request: 'GET /orders?include=customer,items', compile: read('orders?include=customer,items') },
  { name: 'include-nested', request: 'GET /orders?include=items.product', compile: read('orders?include=items.product') },
  { name: 'include-many-to-many', request: 'GET /orders?include=products', compile: read('orders?include=products') },
  { name: 'embed-limit-sort', request: 'GET /orders?include=items&items.limit=2&items.sort=-quantity&items.offset=1', compile: read('orders?include=items&items.limit=2&items.sort=-quantity&items.offset=1') },
  { name: 'filter-to-one', request: 'GET /orders?customer.country=DE', compile: read('orders?customer.country=DE') },
  { name: 'filter-to-many-embed', request: 'GET /orders?include=items.product&items.quantity[gte]=4&items.product.active=true', compile: read('orders?include=items.product&items.quantity[gte]=4&items.product.active=true') },
  { name: 'groups', request: 'GET /orders?or=(status.eq.paid,and(total.gt.100,total.lt.200))&not.and=(customer_id.eq.1,status.eq.cancelled)', compile: read('orders?or=(status.eq.paid,and(total.gt.100,total.lt.200))&not.and=(customer_id.eq.1,status.eq.cancelled)') },
  { name: 'in-list', request: 'GET /orders?status[in]=paid,shipped&id[nin]=1,2,3&or=(status.in.())', compile: read('orders?status[in]=paid,shipped&id[nin]=1,2,3&or=(status.in.())') },
  { name: 'like-ilike-search', request: 'GET /products?name[like]=Product 1*&sku[ilike]=*00_%*&name[search]=product 7', compile: read('products?name[like]=Product%201*&sku[ilike]=*00_%25*&name[search]=product%207') },
  { name: 'null', request: 'GET /shipments?carrier[null]=true&shipped_at[not.null]=true', compile: read('shipments?carrier[null]=true&shipped_at[not.null]=true') },
  { name: 'keyset-uniform', request: 'GET /orders?sort=-created_at,-id&cursor=…', compile: page('orders?sort=-created_at,-id', ['2024-01-01T01:00:00+00:00', '124']) },
  { name: 'keyset-mixed', request: 'GET /orders?sort=-created_at&cursor=…', compile: page('orders?sort=-created_at', ['2024-01-01T01:00:00+00:00', '124']) },
  { name: 'keyset-nullable', request: 'GET /shipments?sort=shipped_at&cursor=…', compile: page('shipments?sort=shipped_at', ['2024-02-01T00:00:00+00:00', '7']) },
  { name: 'keyset-nullable-null', request: 'GET /shipments?sort=-carrier&cursor=… (after a row whose carrier is null)', compile: page('shipments?sort=-carrier', [null, '7']) },
  { name: 'count-exact', request: 'GET /orders?status=paid&count=exact', compile: read('orders?status=paid&count=exact') },
  { name: 'count-estimated', request: 'GET /orders?count=estimated', compile: read('orders?count=estimated') },
  { name: 'count-estimated-filtered', request: 'GET /orders?status=paid&count=estimated', compile: read('orders?status=paid&count=estimated') },
  {
    name: 'count-estimated-explain', request: 'GET /orders?status=paid&count=estimated, when more than 10000 rows match (PostgreSQL asks the planner; SQLite has no estimate)',
    compile: (e) => {
      const statement = e.compiler.explainCount(planOf(e, 'orders?status=paid&count=estimated', 'list'));
      return statement ? [statement] : [];
    },
  },
  { name: 'offset', request: 'GET /orders?sort=total&limit=10&offset=20', compile: read('orders?sort=total&limit=10&offset=20') },
  { name: 'fields', request: 'GET /orders?fields=id,total,customer.name', compile: read('orders?fields=id,total,customer.name') },
  { name: 'ndjson-stream', request: 'GET /orders?status=paid&include=customer (Accept: application/x-ndjson)', compile: read('orders?status=paid&include=customer', 'stream') },
  { name: 'csv', request: 'GET /orders?include=customer&limit=100 (Accept: text/csv)', compile: (e) => [e.compiler.readCsv(planOf(e, 'orders?include=customer&limit=100', 'stream'))] },
  { name: 'insert-one', request: 'POST /orders {customer_id, status, total, created_at}', compile: create('orders', { customer_id: 7, status: 'pending', total: '12.50', created_at: '2024-05-01T10:00:00Z' }) },
  { name: 'insert-bulk', request: 'POST /products [{sku, name, price}, {sku, name, price, active, stock}]', compile: create('products', [{ sku: 'SKU-A', name: 'A', price: '1.00' }, { sku: 'SKU-B', name: 'B', price: 2.5, active: false, stock: 3 }]) },
  { name: 'upsert', request: 'POST /products?onConflict=sku {sku, name, price}', compile: create('products?onConflict=sku', { sku: 'SKU-0000001', name: 'Renamed', price: '9.99' }) },
  {
    name: 'put', request: 'PUT /products/5 {sku, name, price}',
    compile: (e) => {
      const r = resource(e.snapshot, 'products');
      const row = validateBody(r, { sku: 'SKU-X', name: 'X', price: '3.00' }, 'replace', 1).rows[0]!;
      return [e.compiler.insert(planReplace({ resource: r, key: parseKey(r, '5'), row, returning: r.columns }))];
    },
  },
  {
    name: 'patch', request: 'PATCH /orders/5 {status}',
    compile: (e) => {
      const r = resource(e.snapshot, 'orders');
      return [e.compiler.update(planUpdate({ resource: r, row: { status: 'shipped' }, filter: keyFilter(r, parseKey(r, '5')), returning: r.columns }))];
    },
  },
  {
    name: 'delete', request: 'DELETE /order_items/5,17',
    compile: (e) => {
      const r = resource(e.snapshot, 'order_items');
      return [e.compiler.delete(planDelete({ resource: r, filter: keyFilter(r, parseKey(r, '5,17')), returning: [] }))];
    },
  },
  { name: 'bulk-patch', request: `PATCH /orders?status=pending&customer.country=DE {status} (maxAffected ${MAX_AFFECTED})`, compile: bulk('orders?status=pending&customer.country=DE', { status: 'cancelled' }) },
  { name: 'bulk-delete', request: `DELETE /orders?status=cancelled&total[lt]=1 (maxAffected ${MAX_AFFECTED})`, compile: bulk('orders?status=cancelled&total[lt]=1', null) },
  {
    name: 'injection', request: `GET /orders?status=${INJECTION}&or=(status.eq."${INJECTION}")&status[in]=… &customer.name[ilike]=…`,
    compile: read(`orders?status=${encodeURIComponent(INJECTION)}&or=(status.eq."${encodeURIComponent(INJECTION)}")&status[in]=${encodeURIComponent(`"${INJECTION}",b`)}&customer.name[ilike]=${encodeURIComponent(INJECTION)}`),
  },
];

/** A value as the golden files print it: bigint as `5n`, everything else as JSON. */
export function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  return JSON.stringify(value);
}

/** The golden file of a case: the request, then each statement with its parameters. */
export function render(c: GoldenCase, statements: readonly Compiled[]): string {
  return `-- ${c.request}\n${statements.map((s) => `-- params: ${show(s.params)}\n${s.text};\n`).join('\n')}`;
}
