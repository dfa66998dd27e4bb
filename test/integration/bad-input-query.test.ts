/**
 * Bad input in reads (issue 2, item 11): malformed query strings, unknown names, wrong value types
 * in filters, lists, path keys and cursors, limits, depth, duplicated parameters, content
 * negotiation, methods, URL length and injection attempts. Each must be a clear 4xx
 * problem+json (SPEC §4) — never a 5xx, never SQL text or a stack — on every dialect.
 */
import { describe, expect, it } from 'vitest';
import { dialects } from '../support/databases.ts';
import { useShop } from '../support/sluice.ts';
import { assertProblem, checkProblem, excerpt, expectProblem, send, type BadCase } from '../support/bad-input-problem.ts';
import { countOf } from '../support/bad-input-state.ts';

const O = '/api/v1/orders';
const P = '/api/v1/products';
const C = '/api/v1/customers';
const I = '/api/v1/order_items';

const q = (name: string, query: string, status: number, code?: BadCase['code'], detail?: string[], extra: Partial<BadCase> = {}): BadCase =>
  ({ name, url: `${O}?${query}`, status, code, detail, ...extra });

const nested = (depth: number) => `or=(${'and('.repeat(depth - 1)}status.eq.paid${')'.repeat(depth - 1)})`;

const MALFORMED: BadCase[] = [
  q('malformed percent-encoding in a value (%zz)', 'status=%zz', 400, 'SLUICE_BAD_QUERY', ['status']),
  q('malformed percent-encoding in a key (%zz)', '%zz=paid', 400, 'SLUICE_BAD_QUERY'),
  q('lone % in a value', 'status=%', 400, 'SLUICE_BAD_QUERY', ['status']),
  q('trailing % in a value', 'status=100%', 400, 'SLUICE_BAD_QUERY', ['status']),
  q('truncated UTF-8 sequence', 'status=%E0%A4%A', 400, 'SLUICE_BAD_QUERY', ['status']),
  q('overlong UTF-8 (%C0%AF)', 'status=%C0%AF', 400, 'SLUICE_BAD_QUERY', ['status']),
  q('lone surrogate (%ED%A0%80)', 'status=%ED%A0%80', 400, 'SLUICE_BAD_QUERY', ['status']),
  q('bare [ as key', '[=1', 400, 'SLUICE_BAD_QUERY'),
  q('bare ] as key', ']=1', 400, 'SLUICE_BAD_QUERY'),
  q('bare [] as key', '[]=1', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_OPERATOR']),
  q('unclosed bracket status[', 'status[=paid', 400, 'SLUICE_BAD_QUERY', ['status[']),
  q('stray ] status]', 'status]=paid', 400, 'SLUICE_BAD_QUERY', ['status]']),
  q('empty operator col[]=', 'status[]=paid', 400, ['SLUICE_UNKNOWN_OPERATOR', 'SLUICE_BAD_QUERY'], ['status[]']),
  q('empty operator and value col[]=', 'status[]=', 400, ['SLUICE_UNKNOWN_OPERATOR', 'SLUICE_BAD_QUERY'], ['status[]']),
  q('unclosed operator col[eq', 'status[eq=paid', 400, 'SLUICE_BAD_QUERY', ['status[eq']),
  q('double close col[eq]]', 'status[eq]]=paid', 400, 'SLUICE_BAD_QUERY'),
  q('two operators col[eq][eq]', 'status[eq][eq]=paid', 400, 'SLUICE_BAD_QUERY'),
  q('nested brackets col[[eq]]', 'status[[eq]]=paid', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_OPERATOR']),
  q('empty key', '=paid', 400, 'SLUICE_BAD_QUERY'),
  q('or without parentheses', 'or=status.eq.paid', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('not.or without parentheses', 'not.or=status.eq.paid', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('empty or', 'or=', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('unbalanced ( in or', 'or=(status.eq.paid', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('unbalanced ) in or', 'or=status.eq.paid)', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('extra ( in or', 'or=((status.eq.paid)', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('extra ) in or', 'or=(status.eq.paid))', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('unclosed nested and', 'or=(and(status.eq.paid,total.gt.1)', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('empty group ()', 'or=()', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('group of empty items (,)', 'or=(,)', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('trailing empty item', 'or=(status.eq.paid,)', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('leading empty item', 'and=(,status.eq.paid)', 400, 'SLUICE_BAD_QUERY', ['and']),
  q('empty nested group', 'and=(status.eq.paid,or())', 400, 'SLUICE_BAD_QUERY', ['and']),
  q('50-deep nested groups', nested(50), 400, 'SLUICE_BAD_QUERY', ['or']),
  q('group item without operator', 'or=(status)', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('group item without value', 'or=(status.eq)', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('group item without column', 'or=(.eq.paid)', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('unterminated quote in a group', 'or=(status.eq."paid)', 400, 'SLUICE_BAD_QUERY', ['or']),
  q('unterminated quote in an in list', 'status[in]="paid', 400, 'SLUICE_BAD_QUERY', ['status[in]']),
  q('text after a quoted in item', 'status[in]="pa"id', 400, 'SLUICE_BAD_QUERY', ['status[in]']),
  q('empty fields', 'fields=', 400, 'SLUICE_BAD_QUERY', ['fields']),
  q('empty item in fields', 'fields=id,,total', 400, 'SLUICE_BAD_QUERY', ['fields']),
  q('fields of a bare dot', 'fields=.', 400, 'SLUICE_BAD_QUERY', ['fields']),
  q('empty include', 'include=', 400, 'SLUICE_BAD_QUERY', ['include']),
  q('trailing comma in include', 'include=customer,', 400, 'SLUICE_BAD_QUERY', ['include']),
  q('leading dot in include', 'include=.customer', 400, 'SLUICE_BAD_QUERY', ['include']),
  q('empty sort', 'sort=', 400, 'SLUICE_BAD_QUERY', ['sort']),
  q('sort of a lone -', 'sort=-', 400, 'SLUICE_BAD_QUERY', ['sort']),
  q('trailing comma in sort', 'sort=id,', 400, 'SLUICE_BAD_QUERY', ['sort']),
];

const UNKNOWN_NAMES: BadCase[] = [
  { name: 'unknown resource', url: '/api/v1/nope', status: 404, code: 'SLUICE_UNKNOWN_RESOURCE', detail: ['nope'] },
  { name: 'malformed percent-encoding in the resource name', url: '/api/v1/%zz', status: 400, code: ['SLUICE_BAD_REQUEST', 'SLUICE_BAD_QUERY'] },
  { name: 'resource names are case-sensitive', url: '/api/v1/Orders', status: 404, code: 'SLUICE_UNKNOWN_RESOURCE', detail: ['Orders'] },
  { name: 'unknown resource, one row', url: '/api/v1/nope/1', status: 404, code: 'SLUICE_UNKNOWN_RESOURCE', detail: ['nope'] },
  { name: 'unknown resource, POST', method: 'POST', url: '/api/v1/nope', json: { a: 1 }, status: 404, code: 'SLUICE_UNKNOWN_RESOURCE' },
  { name: 'unknown resource, bulk DELETE', method: 'DELETE', url: '/api/v1/nope?id=1', status: 404, code: 'SLUICE_UNKNOWN_RESOURCE' },
  { name: 'path below a row', url: `${O}/1/items`, status: 404, code: 'SLUICE_NOT_FOUND' },
  { name: 'row that does not exist', url: `${O}/0`, status: 404, code: 'SLUICE_NOT_FOUND' },
  { name: 'negative key that does not exist', url: `${O}/-1`, status: 404, code: 'SLUICE_NOT_FOUND' },
  q('unknown column in a filter', 'totl=1', 400, 'SLUICE_UNKNOWN_COLUMN', ['totl'], { field: 'totl' }),
  q('unknown column in an operator filter', 'totl[gte]=1', 400, 'SLUICE_UNKNOWN_COLUMN', ['totl']),
  q('unknown column in sort', 'sort=totl', 400, 'SLUICE_UNKNOWN_COLUMN', ['sort', 'totl']),
  q('unknown column in descending sort', 'sort=-totl', 400, 'SLUICE_UNKNOWN_COLUMN', ['sort', 'totl']),
  q('unknown column in fields', 'fields=id,totl', 400, 'SLUICE_UNKNOWN_COLUMN', ['fields', 'totl']),
  q('unknown column in a group', 'or=(totl.eq.1,status.eq.paid)', 400, 'SLUICE_UNKNOWN_COLUMN', ['totl']),
  q('unknown column through a relation', 'customer.nme=x', 400, 'SLUICE_UNKNOWN_COLUMN', ['nme']),
  q('unknown column of an embed in fields', 'include=customer&fields=customer.nme', 400, 'SLUICE_UNKNOWN_COLUMN', ['nme']),
  q('unknown column in an embed sort', 'include=items&items.sort=bogus', 400, 'SLUICE_UNKNOWN_COLUMN', ['bogus']),
  q('unknown relation in include', 'include=nope', 400, 'SLUICE_UNKNOWN_RELATION', ['include', 'nope']),
  q('unknown nested relation in include', 'include=customer.nope', 400, 'SLUICE_UNKNOWN_RELATION', ['nope']),
  q('unknown relation in fields', 'fields=nope.name', 400, 'SLUICE_UNKNOWN_RELATION', ['fields', 'nope']),
  q('unknown relation in a filter', 'nope.name=x', 400, 'SLUICE_UNKNOWN_RELATION', ['nope']),
  q('unknown relation in a group item', 'or=(nope.name.eq.x)', 400, 'SLUICE_UNKNOWN_RELATION', ['nope']),
  q('unknown relation scoping a group', 'nope.or=(name.eq.x)', 400, 'SLUICE_UNKNOWN_RELATION', ['nope']),
  q('unknown relation in an embed option', 'nope.limit=5', 400, 'SLUICE_UNKNOWN_RELATION', ['nope']),
  q('column used as a relation', 'status.name=x', 400, ['SLUICE_UNKNOWN_RELATION', 'SLUICE_BAD_QUERY'], ['status']),
];

const OPERATORS: BadCase[] = [
  q('unknown operator', 'total[foo]=1', 400, 'SLUICE_UNKNOWN_OPERATOR', ['foo']),
  q('operators are lower case', 'total[EQ]=1', 400, 'SLUICE_UNKNOWN_OPERATOR', ['EQ']),
  q('negated unknown operator', 'total[not.foo]=1', 400, 'SLUICE_UNKNOWN_OPERATOR', ['foo']),
  q('not. without an operator', 'total[not.]=1', 400, 'SLUICE_UNKNOWN_OPERATOR', ['total[not.]']),
  q('not without a dot', 'total[not]=1', 400, 'SLUICE_UNKNOWN_OPERATOR', ['total[not]']),
  q('double not.', 'total[not.not.eq]=1', 400, 'SLUICE_UNKNOWN_OPERATOR', ['total[not.not.eq]']),
  q('not. before the column', 'not.status=paid', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_RELATION', 'SLUICE_UNKNOWN_OPERATOR']),
  q('unknown operator in a group', 'or=(total.foo.1)', 400, ['SLUICE_UNKNOWN_OPERATOR', 'SLUICE_BAD_QUERY'], ['or']),
  q('not. without an operator in a group', 'or=(status.not.paid)', 400, ['SLUICE_UNKNOWN_OPERATOR', 'SLUICE_BAD_QUERY'], ['or']),
  q('double not. in a group', 'or=(status.not.not.eq.paid)', 400, ['SLUICE_UNKNOWN_OPERATOR', 'SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_RELATION'], ['or']),
  q('like on a decimal', 'total[like]=1*', 400, 'SLUICE_OPERATOR_NOT_APPLICABLE', ['total']),
  q('ilike on a timestamp', 'created_at[ilike]=2024*', 400, 'SLUICE_OPERATOR_NOT_APPLICABLE', ['created_at']),
  q('search on a number', 'id[search]=1', 400, 'SLUICE_OPERATOR_NOT_APPLICABLE', ['id']),
  { name: 'gt on a boolean', url: `${P}?active[gt]=true`, status: 400, code: 'SLUICE_OPERATOR_NOT_APPLICABLE', detail: ['active'] },
  q('null with a value other than true/false', 'status[null]=maybe', 400, 'SLUICE_INVALID_VALUE', ['status']),
  q('not.null without a value', 'status[not.null]=', 400, 'SLUICE_INVALID_VALUE', ['status']),
  q('null in a group with a bad value', 'or=(status.null.1)', 400, 'SLUICE_INVALID_VALUE', ['or']),
];

const iv = (name: string, url: string, param: string, extra: Partial<BadCase> = {}): BadCase =>
  ({ name, url, status: 400, code: 'SLUICE_INVALID_VALUE', detail: [param], ...extra });

const VALUES: BadCase[] = [
  iv('bigint key: letters', `${O}?id=abc`, 'id', { field: 'id' }),
  iv('bigint key: fraction', `${O}?id=1.5`, 'id'),
  iv('bigint key: exponent', `${O}?id=1e3`, 'id'),
  iv('bigint key: hexadecimal', `${O}?id=0x10`, 'id'),
  iv('bigint key: leading space', `${O}?id=%201`, 'id'),
  iv('bigint key: empty', `${O}?id=`, 'id'),
  iv('bigint key: beyond 64 bits', `${O}?id=99999999999999999999`, 'id'),
  iv('bigint key: below 64 bits', `${O}?id=-99999999999999999999`, 'id'),
  iv('bigint: letters in gt', `${O}?customer_id[gt]=abc`, 'customer_id[gt]'),
  iv('bigint: 2^63', `${O}?customer_id=9223372036854775808`, 'customer_id'),
  iv('decimal: letters', `${O}?total=abc`, 'total'),
  iv('decimal: comma', `${O}?total=1,5`, 'total'),
  iv('decimal: NaN', `${O}?total=NaN`, 'total'),
  iv('decimal: Infinity', `${O}?total=Infinity`, 'total'),
  iv('decimal: dangling exponent', `${O}?total=1e`, 'total'),
  iv('decimal: double sign', `${O}?total=--1`, 'total'),
  iv('decimal: hexadecimal', `${O}?total[gte]=0x1F`, 'total[gte]'),
  iv('decimal: price letters', `${P}?price=abc`, 'price'),
  iv('timestamp: words', `${O}?created_at=yesterday`, 'created_at'),
  iv('timestamp: month 13', `${O}?created_at=2024-13-01`, 'created_at'),
  iv('timestamp: 30 February', `${O}?created_at=2024-02-30`, 'created_at'),
  iv('timestamp: hour 25', `${O}?created_at=2024-01-01T25:00:00Z`, 'created_at'),
  iv('timestamp: year 0', `${O}?created_at=0000-01-01`, 'created_at'),
  iv('timestamp: offset +99:99', `${O}?created_at[gt]=2024-01-01T00:00:00%2B99:99`, 'created_at'),
  iv('boolean: yes', `${P}?active=yes`, 'active'),
  iv('boolean: 1', `${P}?active=1`, 'active'),
  iv('integer: letters', `${P}?stock=abc`, 'stock'),
  iv('integer: fraction', `${P}?stock=1.5`, 'stock'),
  iv('integer: beyond 64 bits', `${P}?stock=99999999999999999999`, 'stock'),
  iv('text: NUL in eq', `${O}?status=pa%00id`, 'status'),
  iv('text: NUL in like', `${O}?status[like]=*%00*`, 'status'),
  iv('text: NUL in ilike', `${C}?name[ilike]=a%00`, 'name'),
  iv('text: NUL in search', `${C}?name[search]=%00`, 'name'),
  iv('text: NUL in a group', `${O}?or=(status.eq.pa%00id)`, 'or'),
  iv('in list: letters among bigints', `${O}?id[in]=1,abc`, 'id[in]'),
  iv('nin list: fraction among bigints', `${O}?id[nin]=1,2.5`, 'id[nin]'),
  iv('in list: bigint beyond 64 bits', `${O}?customer_id[in]=1,99999999999999999999`, 'customer_id[in]'),
  iv('in list: bad decimal', `${O}?total[in]=1.00,x`, 'total[in]'),
  iv('in list: bad timestamp', `${O}?created_at[in]=2024-01-01,nope`, 'created_at[in]'),
  iv('in list: bad boolean', `${P}?active[in]=true,maybe`, 'active[in]'),
  iv('in list: NUL in text', `${O}?status[in]=paid,%00`, 'status[in]'),
  iv('in list in a group: letters', `${O}?or=(id.in.(1,abc))`, 'or'),
];

/** Only on PostgreSQL: `integer` is 32-bit there (SQLite integers are 64-bit). */
const PG_VALUES: BadCase[] = [iv('integer: beyond 32 bits', `${P}?stock=3000000000`, 'stock')];

const KEYS: BadCase[] = [
  iv('path key: letters', `${O}/abc`, 'id'),
  iv('path key: fraction', `${O}/1.5`, 'id'),
  iv('path key: exponent', `${O}/1e3`, 'id'),
  iv('path key: beyond 64 bits', `${O}/99999999999999999999`, 'id'),
  iv('path key: below 64 bits', `${O}/-99999999999999999999`, 'id'),
  { name: 'path key: malformed percent-encoding', url: `${O}/%zz`, status: 400, code: ['SLUICE_INVALID_VALUE', 'SLUICE_BAD_REQUEST'] },
  { name: 'path key: malformed percent-encoding in a DELETE', method: 'DELETE', url: `${O}/1%`, status: 400, code: ['SLUICE_INVALID_VALUE', 'SLUICE_BAD_REQUEST'] },
  iv('path key: NUL', `${O}/1%00`, 'id'),
  iv('path key: space', `${O}/%20`, 'id'),
  iv('path key: two parts for a one-column key', `${O}/1,2`, 'id'),
  iv('composite key: one part', `${I}/1`, 'order_id'),
  iv('composite key: three parts', `${I}/1,2,3`, 'order_id'),
  iv('composite key: letters in a part', `${I}/1,abc`, 'product_id'),
  iv('composite key: empty parts', `${I}/,`, 'order_id'),
  iv('path key of a PATCH', `${O}/1.5`, 'id', { method: 'PATCH', json: { status: 'paid' } }),
  iv('path key of a PUT', `${O}/99999999999999999999`, 'id', { method: 'PUT', json: { customer_id: 1, status: 'paid', total: '1.00', created_at: '2024-01-01T00:00:00Z' } }),
  iv('path key of a DELETE', `${O}/abc`, 'id', { method: 'DELETE' }),
];

const LIMITS: BadCase[] = [
  q('limit above maxLimit (1001)', 'limit=1001', 400, 'SLUICE_LIMIT_TOO_LARGE', ['limit'], { field: 'limit' }),
  q('limit of 21 digits', 'limit=999999999999999999999', 400, ['SLUICE_LIMIT_TOO_LARGE', 'SLUICE_BAD_QUERY'], ['limit']),
  q('negative limit', 'limit=-1', 400, 'SLUICE_BAD_QUERY', ['limit']),
  q('limit with an exponent', 'limit=1e3', 400, 'SLUICE_BAD_QUERY', ['limit']),
  q('fractional limit', 'limit=1.5', 400, 'SLUICE_BAD_QUERY', ['limit']),
  q('limit of letters', 'limit=abc', 400, 'SLUICE_BAD_QUERY', ['limit']),
  q('empty limit', 'limit=', 400, 'SLUICE_BAD_QUERY', ['limit']),
  q('limit with a plus sign', 'limit=%2B5', 400, 'SLUICE_BAD_QUERY', ['limit']),
  q('hexadecimal limit', 'limit=0x10', 400, 'SLUICE_BAD_QUERY', ['limit']),
  q('negative offset', 'offset=-1', 400, 'SLUICE_BAD_QUERY', ['offset']),
  q('offset with an exponent', 'offset=1e3', 400, 'SLUICE_BAD_QUERY', ['offset']),
  q('offset of 20 digits', 'offset=99999999999999999999', 400, 'SLUICE_BAD_QUERY', ['offset']),
  q('offset of letters', 'offset=abc', 400, 'SLUICE_BAD_QUERY', ['offset']),
  q('embed limit above maxLimit', 'include=items&items.limit=1001', 400, 'SLUICE_LIMIT_TOO_LARGE', ['items.limit']),
  q('negative embed limit', 'include=items&items.limit=-1', 400, 'SLUICE_BAD_QUERY', ['items.limit']),
  q('embed offset of letters', 'include=items&items.offset=x', 400, 'SLUICE_BAD_QUERY', ['items.offset']),
  q('include deeper than maxDepth (4)', 'include=customer.orders.items.product', 400, 'SLUICE_DEPTH_EXCEEDED', ['include']),
  q('include deeper than maxDepth (5)', 'include=items.order.items.order.customer', 400, 'SLUICE_DEPTH_EXCEEDED', ['include']),
  q('fields deeper than maxDepth', 'fields=id,customer.orders.items.product.name', 400, 'SLUICE_DEPTH_EXCEEDED', ['fields']),
  q('relation filter deeper than maxDepth', 'include=items.order.customer&items.order.customer.orders.status=paid', 400, 'SLUICE_DEPTH_EXCEEDED', ['items.order.customer.orders.status']),
  q('limit on a to-one embed', 'include=customer&customer.limit=5', 400, 'SLUICE_BAD_QUERY', ['customer.limit']),
  q('sort on a to-one embed', 'include=customer&customer.sort=name', 400, 'SLUICE_BAD_QUERY', ['customer.sort']),
  q('embed limit without include', 'items.limit=5', 400, 'SLUICE_BAD_QUERY', ['items.limit']),
  { name: 'limit on a to-one embed of order_items', url: `${I}?include=order&order.limit=1`, status: 400, code: 'SLUICE_BAD_QUERY', detail: ['order.limit'] },
  q('count=yes', 'count=yes', 400, 'SLUICE_BAD_QUERY', ['count']),
  q('empty count', 'count=', 400, 'SLUICE_BAD_QUERY', ['count']),
  q('count is lower case', 'count=EXACT', 400, 'SLUICE_BAD_QUERY', ['count']),
  q('count of two modes', 'count=exact,estimated', 400, 'SLUICE_BAD_QUERY', ['count']),
  { name: 'count on one row', url: `${O}/1?count=exact`, status: 400, code: 'SLUICE_BAD_QUERY', detail: ['count'] },
  { name: 'sort on one row', url: `${O}/1?sort=id`, status: 400, code: 'SLUICE_BAD_QUERY', detail: ['sort'] },
  q('limit given twice', 'limit=1&limit=2', 400, 'SLUICE_BAD_QUERY', ['limit']),
  q('limit given twice with the same value', 'limit=1&limit=1', 400, 'SLUICE_BAD_QUERY', ['limit']),
  q('offset given twice', 'offset=1&offset=2', 400, 'SLUICE_BAD_QUERY', ['offset']),
  q('sort given twice', 'sort=id&sort=total', 400, 'SLUICE_BAD_QUERY', ['sort']),
  q('fields given twice', 'fields=id&fields=total', 400, 'SLUICE_BAD_QUERY', ['fields']),
  q('count given twice', 'count=exact&count=exact', 400, 'SLUICE_BAD_QUERY', ['count']),
  q('cursor given twice', 'cursor=abc&cursor=abc', 400, ['SLUICE_BAD_QUERY', 'SLUICE_INVALID_CURSOR'], ['cursor']),
  q('embed limit given twice', 'include=items&items.limit=1&items.limit=2', 400, 'SLUICE_BAD_QUERY', ['items.limit']),
];

const NEGOTIATION: BadCase[] = [
  { name: 'Accept: application/xml', url: O, headers: { accept: 'application/xml' }, status: 406, code: 'SLUICE_NOT_ACCEPTABLE' },
  { name: 'Accept: text/html', url: O, headers: { accept: 'text/html' }, status: 406, code: 'SLUICE_NOT_ACCEPTABLE' },
  { name: 'Accept: application/json;q=0', url: O, headers: { accept: 'application/json;q=0' }, status: 406, code: 'SLUICE_NOT_ACCEPTABLE' },
  { name: 'Accept: text/csv on one row', url: `${O}/1`, headers: { accept: 'text/csv' }, status: 406, code: 'SLUICE_NOT_ACCEPTABLE' },
  { name: 'Accept: image/png on a write', method: 'PATCH', url: `${O}/1`, json: { status: 'paid' }, headers: { accept: 'image/png' }, status: 406, code: 'SLUICE_NOT_ACCEPTABLE' },
  { name: 'PUT on a collection', method: 'PUT', url: O, json: { status: 'paid' }, status: 405, code: 'SLUICE_METHOD_NOT_ALLOWED' },
  { name: 'POST on an item', method: 'POST', url: `${O}/1`, json: { status: 'paid' }, status: 405, code: 'SLUICE_METHOD_NOT_ALLOWED' },
  { name: 'PUT on a collection of a composite key', method: 'PUT', url: I, json: {}, status: 405, code: 'SLUICE_METHOD_NOT_ALLOWED' },
];

/** Identifiers that try to be SQL: each is a malformed or unknown name, never SQL. */
const INJECTED_NAMES: BadCase[] = [
  q('column name with ;drop table', 'id%3Bdrop%20table%20orders=1', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_COLUMN']),
  q('quoted column name', '%22id%22=1', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_COLUMN']),
  q('column name with a comment', 'id--=1', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_COLUMN'], ['id--']),
  q('column name closing a quote', 'id%22%20or%201=1', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_COLUMN']),
  q('sort with ;drop table', 'sort=id%3Bdrop%20table%20orders', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_COLUMN'], ['sort']),
  q('sort with a direction keyword', 'sort=id%20desc', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_COLUMN'], ['sort']),
  q('sort by a quoted name', 'sort=%22id%22', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_COLUMN'], ['sort']),
  q('fields with a quoted name', 'fields=id,%22total%22', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_COLUMN'], ['fields']),
  q('fields with a function call', 'fields=id,sleep(1)', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_COLUMN'], ['fields']),
  q('fields with a comment', 'fields=id--', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_COLUMN'], ['fields']),
  q('include with ;drop', 'include=customer%3Bdrop%20table%20orders', 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_RELATION'], ['include']),
  q('operator with SQL', 'total[gt);drop%20table%20orders;--]=1', 400, ['SLUICE_UNKNOWN_OPERATOR', 'SLUICE_BAD_QUERY']),
  q('group followed by SQL', 'or=(id.eq.1);drop%20table%20orders;--', 400, 'SLUICE_BAD_QUERY', ['or']),
  { name: 'resource name in quotes', url: '/api/v1/%22orders%22', status: 404, code: 'SLUICE_UNKNOWN_RESOURCE' },
  { name: 'resource name with a quote and ;drop', url: '/api/v1/orders%22%3Bdrop%20table%20orders%3B--', status: 404, code: 'SLUICE_UNKNOWN_RESOURCE' },
  { name: 'resource name with a schema', url: '/api/v1/main.orders', status: 404, code: 'SLUICE_UNKNOWN_RESOURCE' },
  iv('value closing a paren and deleting', `${O}?id=1)%3B%20delete%20from%20orders%3B%20--`, 'id'),
  iv('key closing a paren and deleting', `${O}/1)%3B%20delete%20from%20orders%3B%20--`, 'id'),
];

/** Values that try to be SQL, where a text column takes them as data: no row matches. */
const INJECTED_VALUES: string[] = [
  `${O}?status=%27%20or%201=1%20--`,
  `${O}?status=paid%27%20or%20%271%27=%271`,
  `${O}?status[in]=paid%27),(%27x`,
  `${O}?status[like]=*%27%20or%201=1%20--`,
  `${O}?or=(status.eq.%22paid%27%20or%201=1%20--%22)`,
  `${C}?name=Robert%27)%3B%20DROP%20TABLE%20customers%3B--`,
  `${C}?email[ilike]=%25%27%20or%20%27%25%27=%27`,
];

/** Edge inputs where SPEC leaves the answer open: any 2xx or a proper 4xx problem, never a 5xx. */
const EDGES: ReadonlyArray<readonly [string, string]> = [
  ['offset of 15 digits', `${O}?offset=999999999999999`],
  ['offset past the end', `${O}?offset=100000&limit=1000`],
  ['decimal beyond any range (gt)', `${O}?total[gt]=1e999999`],
  ['decimal beyond any range (lt, negative)', `${O}?total[lt]=-1e999999`],
  ['emoji in a text filter', `${O}?status=%F0%9F%92%A9`],
  ['500 wildcards in like', `${O}?status[like]=${'*'.repeat(500)}`],
  ['largest timestamp', `${O}?created_at=9999-12-31T23:59:59Z`],
  ['infinite timestamp', `${O}?created_at[lt]=infinity`],
  ['text longer than char(2)', `${C}?country=DEU`],
  ['empty in list on a bigint', `${O}?id[in]=`],
  ['empty in list on text', `${O}?status[in]=`],
  ['in list of 900 values', `${O}?id[in]=${Array.from({ length: 900 }, (_, i) => i).join(',')}`],
  ['embed offset of 15 digits', `${O}?include=items&items.offset=999999999999999`],
];

describe.each(await dialects())('bad input in reads (%s)', (dialect) => {
  const s = useShop(dialect);

  describe('malformed query strings', () => {
    it.each(MALFORMED)('$name', (c) => expectProblem(s(), c));
  });
  describe('unknown resources, rows, columns and relations', () => {
    it.each(UNKNOWN_NAMES)('$name', (c) => expectProblem(s(), c));
  });
  describe('operators', () => {
    it.each(OPERATORS)('$name', (c) => expectProblem(s(), c));
  });
  describe('values of the wrong type in filters and lists', () => {
    it.each(dialect === 'postgres' ? [...VALUES, ...PG_VALUES] : VALUES)('$name', (c) => expectProblem(s(), c));
  });
  describe('keys in the path', () => {
    it.each(KEYS)('$name', (c) => expectProblem(s(), c));
  });
  describe('limits, offsets, depth, count and duplicated parameters', () => {
    it.each(LIMITS)('$name', (c) => expectProblem(s(), c));
  });
  describe('content negotiation and methods', () => {
    it.each(NEGOTIATION)('$name', (c) => expectProblem(s(), c));

    it('405 names the methods a collection takes in Allow', async () => {
      const res = await send(s(), { method: 'PUT', url: O, json: {} });
      const allow = String(res.headers.allow ?? '').split(/,\s*/);
      expect(allow, `Allow: ${res.headers.allow}`).toEqual(expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']));
      expect(allow).not.toContain('PUT');
    });

    it('405 names the methods an item takes in Allow', async () => {
      const res = await send(s(), { method: 'POST', url: `${O}/1`, json: {} });
      const allow = String(res.headers.allow ?? '').split(/,\s*/);
      expect(allow, `Allow: ${res.headers.allow}`).toEqual(expect.arrayContaining(['GET', 'PATCH', 'PUT', 'DELETE']));
      expect(allow).not.toContain('POST');
    });
  });

  describe('URL length', () => {
    it('a URL longer than limits.maxUrlLength (8192) is a 414', () =>
      expectProblem(s(), { name: 'long URL', url: `${O}?status=${'a'.repeat(9000)}`, status: 414, code: 'SLUICE_URL_TOO_LONG' }));
    it('a long path is a 414 too', () =>
      expectProblem(s(), { name: 'long path', url: `/api/v1/${'a'.repeat(9000)}`, status: 414, code: 'SLUICE_URL_TOO_LONG' }));
  });

  describe('cursors', () => {
    const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
    /** The nextCursor of the first page of `query`, and its decoded JSON. */
    const cursorOf = async (query: string) => {
      const res = await s().get(`${O}?limit=2${query ? `&${query}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      const cursor = (JSON.parse(res.body) as { pagination: { nextCursor: string } }).pagination.nextCursor;
      expect(cursor).toBeTypeOf('string');
      return { cursor, data: JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { t: string; v: unknown[] } };
    };
    const bad = (name: string, cursor: string, query = ''): BadCase =>
      ({ name, url: `${O}?limit=2${query ? `&${query}` : ''}&cursor=${cursor}`, status: 400, code: ['SLUICE_INVALID_CURSOR', 'SLUICE_INVALID_VALUE'], detail: ['cursor'] });

    it('a real cursor works (control)', async () => {
      const { cursor } = await cursorOf('');
      expect((await s().get(`${O}?limit=2&cursor=${cursor}`)).statusCode).toBe(200);
    });

    it('forged and mismatched cursors are 400 naming cursor', async () => {
      const byId = await cursorOf('');
      const byTotal = await cursorOf('sort=-total');
      const byCreated = await cursorOf('sort=created_at');
      const byStatus = await cursorOf('sort=status');
      const tag = byId.data.t;
      const cases: BadCase[] = [
        bad('punctuation', '!!!'),
        bad('percent-encoded emoji', '%F0%9F%92%A9'),
        bad('base64 of bytes that are not JSON', 'abc'),
        bad('base64 of binary', Buffer.from([0xff, 0xfe, 0x00, 0x01]).toString('base64url')),
        bad('base64 of a JSON array', b64([1, 2])),
        bad('base64 of JSON null', b64('null')),
        bad('base64 of a JSON string', b64('"x"')),
        bad('base64 of an object without fields', b64({})),
        bad('wrong tag', b64({ t: 'x', v: ['1'] })),
        bad('values not a list', b64({ t: tag, v: '1' })),
        bad('too few values', b64({ t: tag, v: [] })),
        bad('too many values', b64({ t: tag, v: ['1', '2'] })),
        bad('value of letters for a bigint', b64({ t: tag, v: ['abc'] })),
        bad('value as a JSON number', b64({ t: tag, v: [1] })),
        bad('value as an object', b64({ t: tag, v: [{ a: 1 }] })),
        bad('null for a non-null key', b64({ t: tag, v: [null] })),
        bad('bigint beyond 64 bits', b64({ t: tag, v: ['99999999999999999999'] })),
        bad('not a timestamp', b64({ t: byCreated.data.t, v: ['not a date', '1'] }), 'sort=created_at'),
        bad('NUL in a text value', b64({ t: byStatus.data.t, v: ['pa\u0000id', '1'] }), 'sort=status'),
        bad('decimal of letters', b64({ t: byTotal.data.t, v: ['abc', '1'] }), 'sort=-total'),
        bad('cursor of another sort order', byTotal.cursor),
        bad('cursor of the default sort used with sort=-total', byId.cursor, 'sort=-total'),
        bad('cursor of the ascending sort used descending', byCreated.cursor, 'sort=-created_at'),
        bad('cursor longer than 4096 characters', 'A'.repeat(5000)),
        bad('empty cursor', ''),
        bad('cursor with offset', byId.cursor, 'offset=2'),
        { ...bad('cursor of orders used on customers', byId.cursor), url: `${C}?limit=2&cursor=${byId.cursor}` },
      ];
      const failures: string[] = [];
      for (const c of cases) {
        const res = await send(s(), c);
        const issues = checkProblem(res, c);
        if (issues.length) failures.push(`${c.name}: GET ${excerpt(c.url, 160)} → ${res.statusCode} ${excerpt(res.body, 240)}\n    ${issues.join('; ')}`);
      }
      expect(failures, failures.join('\n')).toEqual([]);
    });

    it('a forged cursor of a huge decimal is never a 5xx', async () => {
      const byTotal = await cursorOf('sort=-total');
      const res = await s().get(`${O}?limit=2&sort=-total&cursor=${b64({ t: byTotal.data.t, v: ['1e999999', '1'] })}`);
      if (res.statusCode >= 300) assertProblem({ name: 'huge decimal cursor', url: '', status: res.statusCode < 500 ? res.statusCode : 400 }, res);
    });
  });

  describe('injection attempts', () => {
    it.each(INJECTED_NAMES)('$name', (c) => expectProblem(s(), c));

    it.each(INJECTED_VALUES)('%s is data: 200 with no rows', async (url) => {
      const res = await s().get(url);
      expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
      expect((JSON.parse(res.body) as { data: unknown[] }).data).toEqual([]);
    });

    it('afterwards every order and customer is still there', async () => {
      expect(await countOf(s(), 'orders')).toBe(10_000);
      expect(await countOf(s(), 'customers')).toBe(1000);
      expect((await s().get(`${O}/1`)).statusCode).toBe(200);
    });
  });

  describe('edge inputs are never a 5xx', () => {
    it.each(EDGES)('%s', async (_name, url) => {
      const res = await s().get(url);
      if (res.statusCode >= 400) assertProblem({ name: url, url, status: res.statusCode < 500 ? res.statusCode : 400 }, res);
      else expect(res.statusCode).toBe(200);
    });
  });
});
