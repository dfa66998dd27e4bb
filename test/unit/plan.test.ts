/**
 * planRead on the shop (RawTable fixtures): where each filter of SPEC §3 lands, total sorts,
 * limits, embed depth, keyset cursors, and the 400s for values and operators that do not fit.
 */
import { tmpdir } from 'node:os';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { parseQuery } from '../../src/request/query-params.ts';
import { planRead, type ReadLimits } from '../../src/plan/read-plan.ts';
import { encodeCursor } from '../../src/plan/cursor.ts';
import type { PlanFilter, ReadMode, ReadPlan, SelectPlan } from '../../src/plan/nodes.ts';
import { SluiceError, type ProblemCode } from '../../src/errors/registry.ts';
import type { DialectName } from '../../src/schema/model.ts';
import { LIMITS, resource, shopSnapshot } from './fixtures.ts';

const SHOP = { postgres: shopSnapshot('postgres'), sqlite: shopSnapshot('sqlite') } as const;

interface Options {
  readonly resource?: string;
  readonly dialect?: DialectName;
  readonly mode?: ReadMode;
  readonly limits?: Partial<ReadLimits>;
  readonly key?: readonly unknown[];
}

function plan(query: string, options: Options = {}): ReadPlan {
  const snapshot = SHOP[options.dialect ?? 'postgres'];
  return planRead({
    snapshot, resource: resource(snapshot, options.resource ?? 'orders'), ast: parseQuery(query),
    limits: { ...LIMITS, ...options.limits }, mode: options.mode ?? 'list', ...(options.key ? { key: options.key } : {}),
  });
}

function rejection(query: string, options: Options = {}): SluiceError {
  try {
    plan(query, options);
  } catch (err) {
    if (err instanceof SluiceError) return err;
    throw err;
  }
  throw new Error(`${query}: expected a SluiceError`);
}

/** A filter with columns and relations reduced to their names, for readable expectations. */
function shape(f: PlanFilter | null): unknown {
  if (f === null) return null;
  switch (f.kind) {
    case 'cond': return { [f.column.name]: [f.negate ? `not.${f.op}` : f.op, f.value] };
    case 'exists': return { exists: f.relation.name, where: shape(f.filter) };
    default: return { [f.negate ? `not.${f.kind}` : f.kind]: f.items.map(shape) };
  }
}

function embed(select: SelectPlan, key: string): SelectPlan {
  const found = select.embeds.find((e) => e.key === key);
  if (!found) throw new Error(`no embed '${key}'; embeds: ${select.embeds.map((e) => e.key).join(', ')}`);
  return found.plan;
}

const sortOf = (select: SelectPlan) => select.sort.map((s) => `${s.descending ? '-' : ''}${s.column.name}`);
const columnsOf = (select: SelectPlan) => select.columns.map((c) => c.name);

describe('where filters land', () => {
  test.each<[string, unknown]>([
    ['status=paid', { status: ['eq', 'paid'] }],
    ['total[not.gte]=100', { total: ['not.gte', '100'] }],
    ['id[in]=1,2', { id: ['in', [1n, 2n]] }],
    ['status[null]=true', { status: ['null', true] }],
    ['status=paid&total[gt]=5', { and: [{ status: ['eq', 'paid'] }, { total: ['gt', '5'] }] }],
    // a to-one relation filters the parents: EXISTS at the root, and no embed is added
    ['customer.country=DE', { exists: 'customer', where: { country: ['eq', 'DE'] } }],
    ['customer.or=(country.eq.DE,country.eq.FR)', { exists: 'customer', where: { or: [{ country: ['eq', 'DE'] }, { country: ['eq', 'FR'] }] } }],
    ['customer.not.and=(country.eq.DE)', { exists: 'customer', where: { 'not.and': [{ country: ['eq', 'DE'] }] } }],
    ['or=(status.eq.paid,customer.country.eq.DE)', { or: [{ status: ['eq', 'paid'] }, { exists: 'customer', where: { country: ['eq', 'DE'] } }] }],
    ['not.or=(status.eq.paid,status.eq.shipped)', { 'not.or': [{ status: ['eq', 'paid'] }, { status: ['eq', 'shipped'] }] }],
  ])('%s filters the root', (query, expected) => {
    const p = plan(query);
    expect(shape(p.root.filter)).toEqual(expected);
    expect(p.root.embeds).toEqual([]);
  });

  test('include=customer&customer.country=DE still filters the parents, not the embedded customer', () => {
    const p = plan('include=customer&customer.country=DE');
    expect(shape(p.root.filter)).toEqual({ exists: 'customer', where: { country: ['eq', 'DE'] } });
    expect(embed(p.root, 'customer').filter).toBeNull();
  });

  test.each<[string, string, unknown]>([
    ['include=items&items.quantity[gt]=2', 'items', { quantity: ['gt', 2] }],
    ['include=items&items.or=(quantity.gt.3,quantity.lt.2)', 'items', { or: [{ quantity: ['gt', 3] }, { quantity: ['lt', 2] }] }],
    ['include=items&items.product.name[like]=A*', 'items', { exists: 'product', where: { name: ['like', 'A*'] } }],
    ['include=items.product&items.product.active=false', 'items', { exists: 'product', where: { active: ['eq', false] } }],
    ['include=products&products.active=true', 'products', { active: ['eq', true] }],
  ])('%s filters the embedded %s, not the parents', (query, key, expected) => {
    const p = plan(query);
    expect(p.root.filter).toBeNull();
    expect(shape(embed(p.root, key).filter)).toEqual(expected);
  });

  test('a filter through a to-many relation needs that relation included', () => {
    for (const query of ['items.quantity[gt]=2', 'items.or=(quantity.gt.2)', 'products.active=true']) {
      const err = rejection(query);
      expect(err.code).toBe('SLUICE_BAD_QUERY');
      expect(err.errors?.[0]?.field).toBe(query.split('=')[0]);
      expect(err.detail).toContain('include=');
    }
  });

  test('inside a group a to-many relation is refused (it would change which parents match)', () => {
    expect(rejection('or=(items.quantity.gt.1,status.eq.paid)').errors?.[0]?.field).toBe('or');
  });

  test('a single-row read filters on its primary key, the key first (its values become $1…)', () => {
    const p = plan('status=paid', { mode: 'one', key: [7n] });
    expect(shape(p.root.filter)).toEqual({ and: [{ id: ['eq', 7n] }, { status: ['eq', 'paid'] }] });
  });
});

describe('sort is made total with the primary key', () => {
  test.each<[string, string, string[]]>([
    ['orders', '', ['id']],
    ['orders', 'sort=-created_at', ['-created_at', 'id']],
    ['orders', 'sort=status,-total', ['status', '-total', 'id']],
    ['orders', 'sort=-id,total', ['-id', 'total']],
    ['order_items', '', ['order_id', 'product_id']],
    ['order_items', 'sort=-quantity', ['-quantity', 'order_id', 'product_id']],
    ['order_items', 'sort=product_id', ['product_id', 'order_id']],
  ])('%s?%s', (name, query, expected) => {
    expect(sortOf(plan(query, { resource: name }).root)).toEqual(expected);
  });

  test('embedded to-many rows are ordered too; items.sort shapes them; to-one embeds need no order', () => {
    expect(sortOf(embed(plan('include=items').root, 'items'))).toEqual(['order_id', 'product_id']);
    expect(sortOf(embed(plan('include=items&items.sort=-quantity').root, 'items'))).toEqual(['-quantity', 'order_id', 'product_id']);
    expect(sortOf(embed(plan('include=products').root, 'products'))).toEqual(['id']);
    expect(embed(plan('include=customer').root, 'customer').sort).toEqual([]);
  });

  test('an unknown sort column is named', () => {
    const err = rejection('sort=-totl');
    expect([err.code, err.errors?.[0]?.field]).toEqual(['SLUICE_UNKNOWN_COLUMN', 'sort']);
  });
});

describe('fields', () => {
  test.each<[string, string[], Record<string, string[]>]>([
    ['fields=id,total', ['id', 'total'], {}],
    ['fields=id,customer.name', ['id'], { customer: ['name'] }],
    ['fields=id,customer', ['id'], { customer: ['id', 'email', 'name', 'country', 'created_at'] }],
    ['fields=*,customer.*', ['id', 'customer_id', 'status', 'total', 'created_at'], { customer: ['id', 'email', 'name', 'country', 'created_at'] }],
    ['include=items&fields=id,items.quantity', ['id'], { items: ['quantity'] }],
  ])('%s', (query, root, embeds) => {
    const p = plan(query);
    expect(columnsOf(p.root)).toEqual(root);
    expect(Object.fromEntries(p.root.embeds.map((e) => [e.key, columnsOf(e.plan)]))).toEqual(embeds);
  });
});

describe('limits', () => {
  test('limit defaults to 25; a to-many embed holds at most maxLimit rows unless asked for fewer', () => {
    const p = plan('include=items');
    expect(p.root.limit).toBe(25);
    expect(embed(p.root, 'items').limit).toBe(LIMITS.maxLimit);
    expect(embed(plan('include=customer').root, 'customer').limit).toBeNull();
    expect(embed(plan('include=items&items.limit=5&items.offset=2').root, 'items')).toMatchObject({ limit: 5, offset: 2 });
  });

  test('limit up to maxLimit is accepted; offset is kept', () => {
    expect(plan('limit=1000&offset=50').root).toMatchObject({ limit: 1000, offset: 50 });
    expect(plan('limit=50', { limits: { maxLimit: 50 } }).root.limit).toBe(50);
  });

  test.each<[string, Partial<ReadLimits>, string]>([
    ['limit=1001', {}, 'limit'],
    ['limit=51', { maxLimit: 50 }, 'limit'],
    ['include=items&items.limit=1001', {}, 'items.limit'],
  ])('%s (%j) → SLUICE_LIMIT_TOO_LARGE on %s', (query, limits, field) => {
    const err = rejection(query, { limits });
    expect(err.code).toBe('SLUICE_LIMIT_TOO_LARGE');
    expect(err.status).toBe(400);
    expect(err.errors?.[0]?.field).toBe(field);
  });

  test('a lower limits.maxLimit caps the default page size too: a request without limit never fails', async () => {
    const { config } = await loadConfig({ env: { SLUICE_LIMITS_MAX_LIMIT: '10' }, cwd: tmpdir() });
    expect(plan('', { limits: config.limits }).root.limit).toBe(10);
  });

  test('streams default to limits.maxStreamRows and may not ask for more', () => {
    expect(plan('', { mode: 'stream', limits: { maxStreamRows: 500 } }).root.limit).toBe(500);
    expect(plan('limit=5000', { mode: 'stream' }).root.limit).toBe(5000);
    expect(rejection('limit=501', { mode: 'stream', limits: { maxStreamRows: 500 } }).code).toBe('SLUICE_LIMIT_TOO_LARGE');
  });

  test.each<[string, string]>([
    ['include=customer&customer.limit=1', 'customer.limit'],
    ['items.limit=5', 'items.limit'],
    ['count=exact', 'count'],
  ])('%s is refused on %s where it does not apply', (query, field) => {
    const err = rejection(query, query.startsWith('count') ? { mode: 'stream' } : {});
    expect([err.code, err.errors?.[0]?.field]).toEqual(['SLUICE_BAD_QUERY', field]);
  });

  test.each(['sort=id', 'limit=5', 'offset=5', 'cursor=abc', 'count=exact'])('a single-row read refuses %s', (query) => {
    const err = rejection(query, { mode: 'one', key: [1n] });
    expect([err.code, err.errors?.[0]?.field]).toEqual(['SLUICE_BAD_QUERY', query.split('=')[0]]);
  });
});

describe('embed depth is capped by limits.maxDepth', () => {
  test('three levels are allowed by default', () => {
    const p = plan('include=items.product.order_items');
    expect(embed(embed(embed(p.root, 'items'), 'product'), 'order_items').resource.name).toBe('order_items');
  });

  test.each<[string, string, Partial<ReadLimits>, string]>([
    ['orders', 'include=items.product.order_items.order', {}, 'include'],
    ['orders', 'fields=id,items.product.order_items.order.id', {}, 'fields'],
    ['orders', 'include=items.product', { maxDepth: 1 }, 'include'],
    ['orders', 'include=customer', { maxDepth: 0 }, 'include'],
    ['order_items', 'order.customer.country=DE', { maxDepth: 1 }, 'order.customer.country'],
    ['order_items', 'or=(order.customer.country.eq.DE)', { maxDepth: 1 }, 'or'],
  ])('%s?%s (%j) → SLUICE_DEPTH_EXCEEDED on %s', (name, query, limits, field) => {
    const err = rejection(query, { resource: name, limits });
    expect(err.code).toBe('SLUICE_DEPTH_EXCEEDED');
    expect(err.errors?.[0]?.field).toBe(field);
  });
});

describe('keyset cursors', () => {
  const cursorFor = (query: string, values: readonly unknown[], name = 'orders') => {
    const first = plan(query, { resource: name });
    return encodeCursor(first.sortTag, first.root.sort, values);
  };

  test.each(['postgres', 'sqlite'] as const)('a cursor continues the listing it came from (%s)', (dialect) => {
    const first = plan('sort=-created_at&status=paid', { dialect });
    const cursor = encodeCursor(first.sortTag, first.root.sort, ['2024-01-01T00:00:29+00:00', 42n]);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const next = plan(`sort=-created_at&status=paid&cursor=${cursor}`, { dialect });
    expect(next.sortTag).toBe(first.sortTag);
    expect(next.after).toEqual(['2024-01-01T00:00:29+00:00', 42n]);
  });

  test('the cursor of a composite key carries every key column', () => {
    const cursor = cursorFor('', ['5', '17'], 'order_items');
    expect(plan(`cursor=${cursor}`, { resource: 'order_items' }).after).toEqual([5n, 17n]);
  });

  test.each<[string, () => string, string]>([
    ['another sort order', () => cursorFor('sort=created_at', ['2024-01-01T00:00:00Z', '1']), 'sort=-created_at'],
    ['another direction of the same column', () => cursorFor('sort=-id', ['1']), 'sort=id'],
    ['another resource with the same sort', () => cursorFor('sort=-created_at', ['2024-01-01T00:00:00Z', '1'], 'customers'), 'sort=-created_at'],
    ['text that is no cursor', () => 'not*a*cursor', ''],
    ['base64 that is no JSON', () => Buffer.from('hello').toString('base64url'), ''],
    ['a cursor combined with offset', () => cursorFor('', ['1']), 'offset=10'],
    ['a forged null for a column that cannot be null', () => cursorFor('', [null]), ''],
    ['a forged value of the wrong type', () => cursorFor('', ['abc']), ''],
  ])('%s → SLUICE_INVALID_CURSOR', (_label, make, query) => {
    const err = rejection(`${query}${query ? '&' : ''}cursor=${make()}`);
    expect(err.code).toBe('SLUICE_INVALID_CURSOR');
    expect(err.errors?.[0]?.field).toBe('cursor');
  });
});

/** Requests the planner refuses: resource, query, the error code, the parameter it names. */
const REFUSED: ReadonlyArray<[string, string, ProblemCode, string]> = [
  // values must fit their column
  ['orders', 'id=abc', 'SLUICE_INVALID_VALUE', 'id'],
  ['orders', 'id=1.5', 'SLUICE_INVALID_VALUE', 'id'],
  ['orders', 'customer_id=99999999999999999999', 'SLUICE_INVALID_VALUE', 'customer_id'],
  ['orders', 'total[gt]=ten', 'SLUICE_INVALID_VALUE', 'total[gt]'],
  ['orders', 'created_at[gte]=2024-13-01', 'SLUICE_INVALID_VALUE', 'created_at[gte]'],
  ['orders', 'created_at[lt]=yesterday', 'SLUICE_INVALID_VALUE', 'created_at[lt]'],
  ['orders', 'id[in]=1,x', 'SLUICE_INVALID_VALUE', 'id[in]'],
  ['orders', 'customer.id=x', 'SLUICE_INVALID_VALUE', 'customer.id'],
  ['orders', 'or=(total.gt.abc)', 'SLUICE_INVALID_VALUE', 'or'],
  ['orders', 'include=items&items.quantity=lots', 'SLUICE_INVALID_VALUE', 'items.quantity'],
  ['orders', 'status=a%00b', 'SLUICE_INVALID_VALUE', 'status'],
  ['products', 'active=yes', 'SLUICE_INVALID_VALUE', 'active'],
  ['products', 'stock=2147483648', 'SLUICE_INVALID_VALUE', 'stock'],
  // operators must apply to the column type
  ['orders', 'total[like]=1*', 'SLUICE_OPERATOR_NOT_APPLICABLE', 'total[like]'],
  ['orders', 'id[ilike]=1*', 'SLUICE_OPERATOR_NOT_APPLICABLE', 'id[ilike]'],
  ['orders', 'created_at[search]=monday', 'SLUICE_OPERATOR_NOT_APPLICABLE', 'created_at[search]'],
  ['orders', 'customer.id[like]=1*', 'SLUICE_OPERATOR_NOT_APPLICABLE', 'customer.id[like]'],
  ['products', 'active[gt]=true', 'SLUICE_OPERATOR_NOT_APPLICABLE', 'active[gt]'],
  ['products', 'active[like]=t*', 'SLUICE_OPERATOR_NOT_APPLICABLE', 'active[like]'],
  // names must exist
  ['orders', 'totl=1', 'SLUICE_UNKNOWN_COLUMN', 'totl'],
  ['orders', 'customer.nme=x', 'SLUICE_UNKNOWN_COLUMN', 'customer.nme'],
  ['orders', 'custmer.name=x', 'SLUICE_UNKNOWN_RELATION', 'custmer.name'],
  ['orders', 'include=custmer', 'SLUICE_UNKNOWN_RELATION', 'include'],
  ['orders', 'fields=nope', 'SLUICE_UNKNOWN_COLUMN', 'fields'],
  ['orders', 'or=(nope.eq.1)', 'SLUICE_UNKNOWN_COLUMN', 'or'],
];

describe('values, operators and names that do not fit the schema are a 400 naming the parameter', () => {
  test.each(REFUSED)('%s?%s → %s on %s', (name, query, code, field) => {
    const err = rejection(query, { resource: name });
    expect([err.code, err.status, err.errors?.[0]?.field]).toEqual([code, 400, field]);
  });

  test('typed values are bound as the column type', () => {
    expect(shape(plan('id=7&total=9.90&created_at[gt]=2024-01-31T12:00:00Z').root.filter)).toEqual({
      and: [{ id: ['eq', 7n] }, { total: ['eq', '9.90'] }, { created_at: ['gt', '2024-01-31T12:00:00Z'] }],
    });
    expect(shape(plan('active=true&stock[lt]=5', { resource: 'products' }).root.filter)).toEqual({ and: [{ active: ['eq', true] }, { stock: ['lt', 5] }] });
  });

  test.each(['status[like]=p*', 'status[ilike]=P*', 'status[search]=paid', 'total[null]=false', 'created_at[null]=true'])('%s applies', (query) => {
    expect(plan(query).root.filter).not.toBeNull();
  });
});
