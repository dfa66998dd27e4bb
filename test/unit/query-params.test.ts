/**
 * The URL grammar of SPEC §3, table-driven: each raw query string and the part of the query AST
 * it must produce, then each malformed one and the 400 it must give (code and parameter named).
 */
import { describe, expect, test } from 'vitest';
import { parseList, parseQuery, splitQuery } from '../../src/request/query-params.ts';
import type { Condition, FilterNode, Operator, QueryAst } from '../../src/ast/nodes.ts';
import { SluiceError, type ProblemCode } from '../../src/errors/registry.ts';

/** A condition as the parser builds it; `column` may be dotted (`customer.country`). */
function cond(column: string, op: Operator, value: string | string[], param: string, negate = false): Condition {
  const path = column.split('.');
  return { kind: 'cond', path: path.slice(0, -1), column: path.at(-1)!, op, negate, value, param };
}

function group(kind: 'or' | 'and', items: FilterNode[], param: string, options: { negate?: boolean; path?: string[] } = {}): FilterNode {
  return { kind, negate: options.negate ?? false, path: options.path ?? [], items, param };
}

/** The AST as plain data (embeds as an object) so that a fragment can be matched against it. */
function plain(ast: QueryAst): Record<string, unknown> {
  return { ...ast, embeds: Object.fromEntries(ast.embeds) };
}

/** `or=(and(and(…a.eq.1…)))`: a group `depth` levels deep. */
function nested(depth: number): string {
  return `or=(${'and('.repeat(depth - 1)}a.eq.1${')'.repeat(depth - 1)})`;
}

function thrown(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SluiceError) return err;
    throw err;
  }
  throw new Error('expected a SluiceError, nothing was thrown');
}

const COMPARISONS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte'] as const;

const VALID: ReadonlyArray<[query: string, fragment: Record<string, unknown>]> = [
  // col=value and col[op]=value
  ['status=shipped', { filters: [cond('status', 'eq', 'shipped', 'status')] }],
  ...COMPARISONS.map((op): [string, Record<string, unknown>] => [`total[${op}]=100`, { filters: [cond('total', op, '100', `total[${op}]`)] }]),
  ...COMPARISONS.map((op): [string, Record<string, unknown>] => [`total[not.${op}]=100`, { filters: [cond('total', op, '100', `total[not.${op}]`, true)] }]),
  ['total%5Bgte%5D=5', { filters: [cond('total', 'gte', '5', 'total[gte]')] }],
  ['total[gte]=10&total[lte]=20', { filters: [cond('total', 'gte', '10', 'total[gte]'), cond('total', 'lte', '20', 'total[lte]')] }],
  // in / nin lists, quoting and escapes
  ['status[in]=paid,shipped', { filters: [cond('status', 'in', ['paid', 'shipped'], 'status[in]')] }],
  ['status[nin]=paid,shipped', { filters: [cond('status', 'nin', ['paid', 'shipped'], 'status[nin]')] }],
  ['status[not.in]=paid', { filters: [cond('status', 'in', ['paid'], 'status[not.in]', true)] }],
  ['name[in]="a,b",c', { filters: [cond('name', 'in', ['a,b', 'c'], 'name[in]')] }],
  ['name[in]=%22a%2Cb%22%2Cc', { filters: [cond('name', 'in', ['a,b', 'c'], 'name[in]')] }],
  ['name[in]="say \\"hi\\"",x', { filters: [cond('name', 'in', ['say "hi"', 'x'], 'name[in]')] }],
  ['name[in]="back\\\\slash"', { filters: [cond('name', 'in', ['back\\slash'], 'name[in]')] }],
  ['name[nin]="",x', { filters: [cond('name', 'nin', ['', 'x'], 'name[nin]')] }],
  // like / ilike keep `*` raw (the compiler turns it into the dialect's wildcard)
  ['name[like]=Pro*', { filters: [cond('name', 'like', 'Pro*', 'name[like]')] }],
  ['name[ilike]=*duct%201*', { filters: [cond('name', 'ilike', '*duct 1*', 'name[ilike]')] }],
  ['name[not.like]=*%25*', { filters: [cond('name', 'like', '*%*', 'name[not.like]', true)] }],
  // null and search
  ['email[null]=true', { filters: [cond('email', 'null', 'true', 'email[null]')] }],
  ['email[null]=false', { filters: [cond('email', 'null', 'false', 'email[null]')] }],
  ['email[not.null]=true', { filters: [cond('email', 'null', 'true', 'email[not.null]', true)] }],
  ['name[search]=red+shoes', { filters: [cond('name', 'search', 'red shoes', 'name[search]')] }],
  // boolean groups
  ['or=(status.eq.paid,and(total.gt.100,total.lt.200))', {
    filters: [group('or', [cond('status', 'eq', 'paid', 'or'), group('and', [cond('total', 'gt', '100', 'or'), cond('total', 'lt', '200', 'or')], 'or')], 'or')],
  }],
  ['and=(total.gte.10,total.lte.20)', { filters: [group('and', [cond('total', 'gte', '10', 'and'), cond('total', 'lte', '20', 'and')], 'and')] }],
  ['not.or=(status.eq.paid,status.eq.shipped)', {
    filters: [group('or', [cond('status', 'eq', 'paid', 'not.or'), cond('status', 'eq', 'shipped', 'not.or')], 'not.or', { negate: true })],
  }],
  ['not.and=(total.gt.1)', { filters: [group('and', [cond('total', 'gt', '1', 'not.and')], 'not.and', { negate: true })] }],
  ['or=(not.and(a.eq.1,b.eq.2),c.eq.3)', {
    filters: [group('or', [group('and', [cond('a', 'eq', '1', 'or'), cond('b', 'eq', '2', 'or')], 'or', { negate: true }), cond('c', 'eq', '3', 'or')], 'or')],
  }],
  ['or=(status.not.eq.paid,email.not.null.true)', { filters: [group('or', [cond('status', 'eq', 'paid', 'or', true), cond('email', 'null', 'true', 'or', true)], 'or')] }],
  ['or=(status.in.(paid,shipped),name.eq."a,b")', { filters: [group('or', [cond('status', 'in', ['paid', 'shipped'], 'or'), cond('name', 'eq', 'a,b', 'or')], 'or')] }],
  ['or=(status.not.in.(a,b),name.nin.("x,y",z))', { filters: [group('or', [cond('status', 'in', ['a', 'b'], 'or', true), cond('name', 'nin', ['x,y', 'z'], 'or')], 'or')] }],
  ['or=(status.in.())', { filters: [group('or', [cond('status', 'in', [], 'or')], 'or')] }],
  ['or=(name.eq."a)b(")', { filters: [group('or', [cond('name', 'eq', 'a)b(', 'or')], 'or')] }],
  ['or=(name.eq."say \\"hi\\"")', { filters: [group('or', [cond('name', 'eq', 'say "hi"', 'or')], 'or')] }],
  ['or=(name.like.*x*,name.ilike.Y*)', { filters: [group('or', [cond('name', 'like', '*x*', 'or'), cond('name', 'ilike', 'Y*', 'or')], 'or')] }],
  ['or=(created_at.gt.2024-01-01T10:00:00.5Z)', { filters: [group('or', [cond('created_at', 'gt', '2024-01-01T10:00:00.5Z', 'or')], 'or')] }],
  ['or=(status.eq.)', { filters: [group('or', [cond('status', 'eq', '', 'or')], 'or')] }],
  [nested(8), { filters: [{ kind: 'or', items: [{ kind: 'and' }] }] }],
  // relation paths
  ['customer.country=DE', { filters: [cond('customer.country', 'eq', 'DE', 'customer.country')] }],
  ['customer.country[in]=DE,FR', { filters: [cond('customer.country', 'in', ['DE', 'FR'], 'customer.country[in]')] }],
  ['items.product.name[like]=A*', { filters: [cond('items.product.name', 'like', 'A*', 'items.product.name[like]')] }],
  ['or=(customer.country.eq.DE,total.gt.5)', { filters: [group('or', [cond('customer.country', 'eq', 'DE', 'or'), cond('total', 'gt', '5', 'or')], 'or')] }],
  ['items.or=(quantity.gt.2,quantity.lt.1)', {
    filters: [group('or', [cond('quantity', 'gt', '2', 'items.or'), cond('quantity', 'lt', '1', 'items.or')], 'items.or', { path: ['items'] })],
  }],
  ['items.not.and=(quantity.gt.2)', { filters: [group('and', [cond('quantity', 'gt', '2', 'items.not.and')], 'items.not.and', { negate: true, path: ['items'] })] }],
  ['customer.not.or=(country.eq.DE)', { filters: [group('or', [cond('country', 'eq', 'DE', 'customer.not.or')], 'customer.not.or', { negate: true, path: ['customer'] })] }],
  // fields, include, sort
  ['fields=id,total,customer.name', { fields: [['id'], ['total'], ['customer', 'name']] }],
  ['fields=*,customer.*', { fields: [['*'], ['customer', '*']] }],
  ['include=customer,items.product', { include: [['customer'], ['items', 'product']] }],
  ['include=customer&include=items', { include: [['customer'], ['items']] }],
  ['sort=-created_at,id', { sort: [{ column: 'created_at', descending: true }, { column: 'id', descending: false }] }],
  ['sort=%2Btotal', { sort: [{ column: 'total', descending: false }] }],
  // pagination and count
  ['limit=10&offset=50', { limit: 10, offset: 50 }],
  ['limit=0&offset=0', { limit: 0, offset: 0 }],
  ['cursor=eyJ0IjoiYSJ9', { cursor: 'eyJ0IjoiYSJ9' }],
  ['count=exact', { count: 'exact' }],
  ['count=estimated', { count: 'estimated' }],
  // embed options
  ['items.limit=5&items.sort=-quantity&items.offset=2', { embeds: { items: { limit: 5, sort: [{ column: 'quantity', descending: true }], offset: 2 } } }],
  ['items.product.limit=1', { embeds: { 'items.product': { limit: 1 } } }],
  ['items.limit=5&products.limit=3', { embeds: { items: { limit: 5 }, products: { limit: 3 } } }],
  // onConflict
  ['onConflict=sku', { onConflict: ['sku'] }],
  ['onConflict=order_id,product_id', { onConflict: ['order_id', 'product_id'] }],
  // decoding and empty values
  ['name=a+b', { filters: [cond('name', 'eq', 'a b', 'name')] }],
  ['name=a%2Bb', { filters: [cond('name', 'eq', 'a+b', 'name')] }],
  ['name=a%26b%3Dc', { filters: [cond('name', 'eq', 'a&b=c', 'name')] }],
  ['name=caf%C3%A9', { filters: [cond('name', 'eq', 'café', 'name')] }],
  ['name=a=b', { filters: [cond('name', 'eq', 'a=b', 'name')] }],
  ['status=', { filters: [cond('status', 'eq', '', 'status')] }],
  ['status', { filters: [cond('status', 'eq', '', 'status')] }],
  ['', { filters: [], fields: null, include: [], sort: null, limit: null, offset: null, cursor: null, count: null, embeds: {}, onConflict: null }],
  ['&&status=paid&', { filters: [cond('status', 'eq', 'paid', 'status')] }],
];

const MALFORMED: ReadonlyArray<[query: string, code: ProblemCode, field: string]> = [
  // limit / offset: non-negative integers, once
  ['limit=-1', 'SLUICE_BAD_QUERY', 'limit'],
  ['limit=abc', 'SLUICE_BAD_QUERY', 'limit'],
  ['limit=1.5', 'SLUICE_BAD_QUERY', 'limit'],
  ['limit=1e3', 'SLUICE_BAD_QUERY', 'limit'],
  ['limit=', 'SLUICE_BAD_QUERY', 'limit'],
  ['limit=9999999999999999', 'SLUICE_BAD_QUERY', 'limit'],
  ['offset=-5', 'SLUICE_BAD_QUERY', 'offset'],
  ['offset=x', 'SLUICE_BAD_QUERY', 'offset'],
  ['limit=5&limit=5', 'SLUICE_BAD_QUERY', 'limit'],
  ['offset=1&offset=2', 'SLUICE_BAD_QUERY', 'offset'],
  ['sort=id&sort=total', 'SLUICE_BAD_QUERY', 'sort'],
  ['fields=id&fields=total', 'SLUICE_BAD_QUERY', 'fields'],
  ['count=exact&count=exact', 'SLUICE_BAD_QUERY', 'count'],
  ['cursor=a&cursor=b', 'SLUICE_BAD_QUERY', 'cursor'],
  ['onConflict=sku&onConflict=sku', 'SLUICE_BAD_QUERY', 'onConflict'],
  ['items.limit=1&items.limit=2', 'SLUICE_BAD_QUERY', 'items.limit'],
  ['items.limit=abc', 'SLUICE_BAD_QUERY', 'items.limit'],
  ['items.offset=-1', 'SLUICE_BAD_QUERY', 'items.offset'],
  ['items.sort=', 'SLUICE_BAD_QUERY', 'items.sort'],
  // count, cursor
  ['count=all', 'SLUICE_BAD_QUERY', 'count'],
  ['count=', 'SLUICE_BAD_QUERY', 'count'],
  ['cursor=', 'SLUICE_INVALID_CURSOR', 'cursor'],
  // operators and values
  ['total[between]=1', 'SLUICE_UNKNOWN_OPERATOR', 'total[between]'],
  ['total[not.between]=1', 'SLUICE_UNKNOWN_OPERATOR', 'total[not.between]'],
  ['total[]=1', 'SLUICE_UNKNOWN_OPERATOR', 'total[]'],
  ['total[not]=1', 'SLUICE_UNKNOWN_OPERATOR', 'total[not]'],
  ['email[null]=yes', 'SLUICE_INVALID_VALUE', 'email[null]'],
  ['email[null]=', 'SLUICE_INVALID_VALUE', 'email[null]'],
  ['or=(email.null.maybe)', 'SLUICE_INVALID_VALUE', 'or'],
  ['name[in]="abc', 'SLUICE_BAD_QUERY', 'name[in]'],
  ['name[in]="a"b', 'SLUICE_BAD_QUERY', 'name[in]'],
  // percent-encoding
  ['name=%E0%A4%A', 'SLUICE_BAD_QUERY', 'name'],
  ['name=100%', 'SLUICE_BAD_QUERY', 'name'],
  ['name=%G0', 'SLUICE_BAD_QUERY', 'name'],
  // groups: parentheses, quotes, empty items, depth
  ['or=(status.eq.paid', 'SLUICE_BAD_QUERY', 'or'],
  ['or=(status.eq.paid))', 'SLUICE_BAD_QUERY', 'or'],
  ['or=(and(a.eq.1,b.eq.2)', 'SLUICE_BAD_QUERY', 'or'],
  ['or=(a.eq.1),b.eq.2)', 'SLUICE_BAD_QUERY', 'or'],
  ['or=status.eq.paid', 'SLUICE_BAD_QUERY', 'or'],
  ['or=', 'SLUICE_BAD_QUERY', 'or'],
  ['or=()', 'SLUICE_BAD_QUERY', 'or'],
  ['or=(a.eq.1,,b.eq.2)', 'SLUICE_BAD_QUERY', 'or'],
  ['or=(status)', 'SLUICE_BAD_QUERY', 'or'],
  ['or=(status.eq)', 'SLUICE_BAD_QUERY', 'or'],
  ['or=(status.bogus.x)', 'SLUICE_BAD_QUERY', 'or'],
  ['or=(name.eq."abc)', 'SLUICE_BAD_QUERY', 'or'],
  ['or=(a.eq.1,b.in.1,2)', 'SLUICE_BAD_QUERY', 'or'],
  ['and=(a.eq.1', 'SLUICE_BAD_QUERY', 'and'],
  ['not.or=(a.eq.1', 'SLUICE_BAD_QUERY', 'not.or'],
  ['items.or=(quantity.gt.1', 'SLUICE_BAD_QUERY', 'items.or'],
  [nested(9), 'SLUICE_BAD_QUERY', 'or'],
  // names and paths
  ['include=', 'SLUICE_BAD_QUERY', 'include'],
  ['include=customer,,items', 'SLUICE_BAD_QUERY', 'include'],
  ['include=items..product', 'SLUICE_BAD_QUERY', 'include'],
  ['fields=', 'SLUICE_BAD_QUERY', 'fields'],
  ['fields=id,', 'SLUICE_BAD_QUERY', 'fields'],
  ['sort=', 'SLUICE_BAD_QUERY', 'sort'],
  ['sort=-', 'SLUICE_BAD_QUERY', 'sort'],
  ['sort=id,', 'SLUICE_BAD_QUERY', 'sort'],
  ['sort=customer.name', 'SLUICE_BAD_QUERY', 'sort'],
  ['onConflict=', 'SLUICE_BAD_QUERY', 'onConflict'],
  ['onConflict=customer.id', 'SLUICE_BAD_QUERY', 'onConflict'],
  ['a..b=1', 'SLUICE_BAD_QUERY', 'a..b'],
  ['bad+name=1', 'SLUICE_BAD_QUERY', 'bad name'],
  ['x(y)=1', 'SLUICE_BAD_QUERY', 'x(y)'],
];

describe('parseQuery: every form of SPEC §3 becomes its AST', () => {
  test.each(VALID)('%s', (query, fragment) => {
    expect(plain(parseQuery(query))).toMatchObject(fragment);
  });

  test('the AST is frozen, so later stages cannot change what the request asked for', () => {
    const ast = parseQuery('status=paid&or=(a.eq.1)');
    expect(Object.isFrozen(ast)).toBe(true);
    expect(Object.isFrozen(ast.filters)).toBe(true);
    expect(Object.isFrozen(ast.filters[0])).toBe(true);
  });
});

describe('parseQuery: malformed input is a 400 naming its parameter', () => {
  test.each(MALFORMED)('%s → %s on %s', (query, code, field) => {
    const err = thrown(() => parseQuery(query));
    expect(err.code).toBe(code);
    expect(err.status).toBe(400);
    expect(err.errors?.[0]?.field).toBe(field);
    expect(err.detail.startsWith(`${field}: `)).toBe(true);
  });

  test('an undecodable parameter name is named as it was sent', () => {
    const err = thrown(() => parseQuery('%ZZ=1'));
    expect(err.code).toBe('SLUICE_BAD_QUERY');
    expect(err.errors?.[0]?.field).toContain('%ZZ');
  });
});

describe('parseList', () => {
  test.each<[string, string[]]>([
    ['a', ['a']],
    ['a,b', ['a', 'b']],
    ['', ['']],
    ['a,,b', ['a', '', 'b']],
    ['"a,b",c', ['a,b', 'c']],
    ['c,"a,b"', ['c', 'a,b']],
    ['"",x', ['', 'x']],
    ['"a\\"b"', ['a"b']],
    ['"a\\\\b"', ['a\\b']],
    ['"a\\b"', ['ab']],
  ])('%s → %j', (input, items) => {
    expect(parseList(input, 'p')).toEqual(items);
  });

  test.each(['"abc', '"a"b', '"a\\"'])('%s is refused', (input) => {
    const err = thrown(() => parseList(input, 'name[in]'));
    expect(err.code).toBe('SLUICE_BAD_QUERY');
    expect(err.errors?.[0]?.field).toBe('name[in]');
  });
});

describe('splitQuery', () => {
  test.each<[string, Array<[string, string]>]>([
    ['a=1&b=2', [['a', '1'], ['b', '2']]],
    ['a', [['a', '']]],
    ['a=', [['a', '']]],
    ['a=b=c', [['a', 'b=c']]],
    ['&&a=1&', [['a', '1']]],
    ['x+y=a+b', [['x y', 'a b']]],
    ['k%3D=v%26w', [['k=', 'v&w']]],
    ['a=1&a=2', [['a', '1'], ['a', '2']]],
  ])('%s', (raw, pairs) => {
    expect(splitQuery(raw)).toEqual(pairs);
  });

  test('malformed percent-encoding in a value names its key', () => {
    const err = thrown(() => splitQuery('a=1&status=%E0%A4%A'));
    expect(err.code).toBe('SLUICE_BAD_QUERY');
    expect(err.errors?.[0]?.field).toBe('status');
  });
});
