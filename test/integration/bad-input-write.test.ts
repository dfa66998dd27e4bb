/**
 * Bad input in writes (issue 2, item 11): invalid JSON, bodies that are not rows, prototype
 * pollution, wrong media types, unknown, read-only and wrongly typed columns, constraint
 * violations, out-of-range numbers, bulk writes without a filter, PUT keys that differ from the
 * path, and SQL in values. Each must be a clear 4xx problem+json (SPEC §4) and leave the database
 * exactly as it was, read back through the API.
 */
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { dialects, type Dialect } from '../support/databases.ts';
import { useShop, type TestSluice } from '../support/sluice.ts';
import { expectProblem, send, type BadCase } from '../support/bad-input-problem.ts';
import { countOf, unchanged } from '../support/bad-input-state.ts';

const O = '/api/v1/orders';
const P = '/api/v1/products';
const C = '/api/v1/customers';
const I = '/api/v1/order_items';

/** A write case and the URLs whose answers must not change. */
type WriteCase = BadCase & { readonly watch?: readonly string[] };

const ORDER = { customer_id: 1, status: 'paid', total: '1.00', created_at: '2024-01-01T00:00:00Z' };
const ORDER_JSON = JSON.stringify(ORDER);
const CUSTOMER = (n: string) => ({ email: `bad-input-${n}@example.com`, name: 'Bad Input', country: 'DE', created_at: '2024-01-01T00:00:00Z' });
const PRODUCT = (sku: string) => ({ sku, name: 'Bad Input', price: '1.00' });
/** Order 1 has no item of product 1 (its items are products 139 and 46). */
const ITEM = { order_id: 1, product_id: 1, quantity: 1, unit_price: '1.00' };
const WATCH = [`${O}/1`, `${O}/2`, `${C}/1`, `${C}/2`, `${P}/1`, `${I}/1,139`];

const post = (name: string, url: string, body: Partial<BadCase>, status: number, code?: BadCase['code'], extra: Partial<WriteCase> = {}): WriteCase =>
  ({ name, method: 'POST', url, ...body, status, code, ...extra });
const json = (v: unknown) => ({ json: v });
const raw = (v: string) => ({ raw: v });

const INVALID_JSON: WriteCase[] = [
  post('truncated object', O, raw('{"customer_id": 1,'), 400, 'SLUICE_INVALID_JSON'),
  post('truncated string', O, raw('{"customer_id": 1, "status": "pa'), 400, 'SLUICE_INVALID_JSON'),
  post('trailing garbage', O, raw(`${ORDER_JSON} x`), 400, 'SLUICE_INVALID_JSON'),
  post('two objects', O, raw(`${ORDER_JSON}${ORDER_JSON}`), 400, 'SLUICE_INVALID_JSON'),
  post('NaN', O, raw('{"customer_id":1,"status":"paid","total":NaN,"created_at":"2024-01-01T00:00:00Z"}'), 400, 'SLUICE_INVALID_JSON'),
  post('Infinity', O, raw('{"customer_id":1,"status":"paid","total":Infinity,"created_at":"2024-01-01T00:00:00Z"}'), 400, 'SLUICE_INVALID_JSON'),
  post('single quotes', O, raw("{'customer_id': 1}"), 400, 'SLUICE_INVALID_JSON'),
  post('trailing comma', O, raw('{"customer_id": 1,}'), 400, 'SLUICE_INVALID_JSON'),
  post('a comment', O, raw(`// order\n${ORDER_JSON}`), 400, 'SLUICE_INVALID_JSON'),
  post('empty body with content-type json', O, raw(''), 400, 'SLUICE_INVALID_JSON'),
  post('whitespace only', O, raw('   \n'), 400, 'SLUICE_INVALID_JSON'),
  post('a bare word', O, raw('undefined'), 400, 'SLUICE_INVALID_JSON'),
  post('a raw control character in a string', O, raw('{"status":"pa\u0001id"}'), 400, 'SLUICE_INVALID_JSON'),
  post('100,000 nested arrays (valid JSON, not rows)', O, raw(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), 422, 'SLUICE_INVALID_BODY', { field: '[0]' }),
  { name: 'PATCH with truncated JSON', method: 'PATCH', url: `${O}/1`, raw: '{"status": ', status: 400, code: 'SLUICE_INVALID_JSON' },
  { name: 'PUT with trailing garbage', method: 'PUT', url: `${O}/1`, raw: `${ORDER_JSON}]`, status: 400, code: 'SLUICE_INVALID_JSON' },
  { name: 'bulk PATCH with NaN', method: 'PATCH', url: `${O}?id=1`, raw: '{"total": NaN}', status: 400, code: 'SLUICE_INVALID_JSON' },
];

const NOT_A_ROW: WriteCase[] = [
  post('a number', O, raw('42'), 422, 'SLUICE_INVALID_BODY', { field: '(body)' }),
  post('a string', O, raw('"order"'), 422, 'SLUICE_INVALID_BODY', { field: '(body)' }),
  post('true', O, raw('true'), 422, 'SLUICE_INVALID_BODY', { field: '(body)' }),
  post('null', O, raw('null'), 422, 'SLUICE_INVALID_BODY', { field: '(body)' }),
  post('an empty array', O, json([]), 422, 'SLUICE_INVALID_BODY'),
  post('an array of numbers', O, json([1, 2]), 422, 'SLUICE_INVALID_BODY', { field: ['[0]', '[1]'] }),
  post('an array holding null', O, json([null]), 422, 'SLUICE_INVALID_BODY', { field: '[0]' }),
  post('an array of arrays', O, json([[ORDER]]), 422, 'SLUICE_INVALID_BODY', { field: '[0]' }),
  post('a valid row then a number', O, json([ORDER, 5]), 422, 'SLUICE_INVALID_BODY', { field: '[1]' }),
  { name: 'PATCH with an array', method: 'PATCH', url: `${O}/1`, json: [{ status: 'cancelled' }], status: 422, code: 'SLUICE_INVALID_BODY' },
  { name: 'PATCH with an empty object', method: 'PATCH', url: `${O}/1`, json: {}, status: 422, code: 'SLUICE_INVALID_BODY' },
  { name: 'PATCH with a string', method: 'PATCH', url: `${O}/1`, json: 'cancelled', status: 422, code: 'SLUICE_INVALID_BODY' },
  { name: 'PUT with an array', method: 'PUT', url: `${O}/1`, json: [ORDER], status: 422, code: 'SLUICE_INVALID_BODY' },
  { name: 'bulk PATCH with an empty array', method: 'PATCH', url: `${O}?id=1`, json: [], status: 422, code: 'SLUICE_INVALID_BODY' },
];

const POLLUTION_CODES: BadCase['code'] = ['SLUICE_INVALID_JSON', 'SLUICE_INVALID_BODY'];
const POLLUTION: WriteCase[] = [
  post('__proto__ at the top', O, raw(`{"__proto__":{"polluted":true},${ORDER_JSON.slice(1)}`), 400, POLLUTION_CODES),
  post('constructor.prototype at the top', O, raw(`{"constructor":{"prototype":{"polluted":true}},${ORDER_JSON.slice(1)}`), 400, POLLUTION_CODES),
  post('__proto__ in a batch row', O, raw(`[{"__proto__":{"polluted":true},${ORDER_JSON.slice(1)}]`), 400, POLLUTION_CODES),
  post('__proto__ spelled with an escape', O, raw(`{"\\u005f_proto__":{"polluted":true},${ORDER_JSON.slice(1)}`), 400, POLLUTION_CODES),
  post('__proto__ inside a value', O, raw(`{"customer_id":{"__proto__":{"polluted":true}},"status":"paid","total":"1.00","created_at":"2024-01-01T00:00:00Z"}`), 400, POLLUTION_CODES),
  { name: 'PATCH with __proto__ only', method: 'PATCH', url: `${O}/1`, raw: '{"__proto__":{"status":"cancelled"}}', status: 400, code: POLLUTION_CODES },
  { name: 'PATCH with __proto__ next to a column', method: 'PATCH', url: `${O}/1`, raw: '{"status":"cancelled","__proto__":{"polluted":true}}', status: 400, code: POLLUTION_CODES },
];

const MEDIA_TYPES: WriteCase[] = [
  post('text/plain', O, { raw: ORDER_JSON, headers: { 'content-type': 'text/plain' } }, 415, 'SLUICE_UNSUPPORTED_MEDIA_TYPE'),
  post('form-urlencoded', O, { raw: 'customer_id=1&status=paid&total=1.00', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'SLUICE_UNSUPPORTED_MEDIA_TYPE'),
  post('no content-type', O, { raw: ORDER_JSON, headers: { 'content-type': '' } }, 415, 'SLUICE_UNSUPPORTED_MEDIA_TYPE'),
  post('multipart/form-data', O, { raw: '--x\r\nContent-Disposition: form-data; name="status"\r\n\r\npaid\r\n--x--', headers: { 'content-type': 'multipart/form-data; boundary=x' } }, 415, 'SLUICE_UNSUPPORTED_MEDIA_TYPE'),
  post('application/xml', O, { raw: '<order><status>paid</status></order>', headers: { 'content-type': 'application/xml' } }, 415, 'SLUICE_UNSUPPORTED_MEDIA_TYPE'),
  post('application/json-patch+json', O, { raw: '[{"op":"add","path":"/status","value":"paid"}]', headers: { 'content-type': 'application/json-patch+json' } }, 415, 'SLUICE_UNSUPPORTED_MEDIA_TYPE'),
  { name: 'PATCH with text/plain', method: 'PATCH', url: `${O}/1`, raw: '{"status":"cancelled"}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'SLUICE_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'PUT with form-urlencoded', method: 'PUT', url: `${O}/1`, raw: 'status=cancelled', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'SLUICE_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'bulk PATCH with text/plain', method: 'PATCH', url: `${O}?id=1`, raw: '{"status":"cancelled"}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'SLUICE_UNSUPPORTED_MEDIA_TYPE' },
];

const ib = (name: string, method: string, url: string, body: unknown, field: string | string[], code: BadCase['code'] = 'SLUICE_INVALID_BODY'): WriteCase =>
  ({ name, method, url, json: body, status: 422, code, field });

const UNKNOWN_COLUMNS: WriteCase[] = [
  ib('unknown column', 'POST', O, { ...ORDER, bogus: 1 }, 'bogus'),
  ib('column name with ;drop table', 'POST', O, { ...ORDER, 'id;drop table orders': 1 }, 'id;drop table orders'),
  ib('quoted column name', 'POST', O, { ...ORDER, '"status"': 'paid' }, '"status"'),
  ib('relation name as a column', 'POST', O, { ...ORDER, customer: { id: 1 } }, 'customer'),
  ib('unknown column in the second row of a batch', 'POST', O, [ORDER, { ...ORDER, bogus: 1 }], '[1].bogus'),
  ib('unknown column in a PATCH', 'PATCH', `${O}/1`, { bogus: 1 }, 'bogus'),
  ib('unknown column in a PUT', 'PUT', `${O}/1`, { ...ORDER, bogus: 1 }, 'bogus'),
  ib('unknown column in a bulk PATCH', 'PATCH', `${O}?id=1`, { bogus: 1 }, 'bogus'),
];

const WRONG_TYPES: WriteCase[] = [
  ib('every order column wrong', 'POST', O, { customer_id: 'abc', status: 1, total: 'x', created_at: 'yesterday' }, ['customer_id', 'status', 'total', 'created_at']),
  ib('every product column wrong', 'POST', P, { sku: 1, name: true, price: 'abc', active: 'yes', stock: 1.5 }, ['sku', 'name', 'price', 'active', 'stock']),
  ib('bigint: fraction', 'POST', O, { ...ORDER, customer_id: 1.5 }, 'customer_id'),
  ib('bigint: boolean', 'POST', O, { ...ORDER, customer_id: true }, 'customer_id'),
  ib('bigint: string of 20 digits', 'POST', O, { ...ORDER, customer_id: '99999999999999999999' }, 'customer_id'),
  ib('decimal: object', 'POST', O, { ...ORDER, total: {} }, 'total'),
  ib('decimal: array', 'POST', O, { ...ORDER, total: [1] }, 'total'),
  ib('decimal: boolean', 'POST', O, { ...ORDER, total: true }, 'total'),
  ib('decimal: comma', 'POST', P, { ...PRODUCT('WT-1'), price: '12,50' }, 'price'),
  ib('decimal: letters', 'POST', P, { ...PRODUCT('WT-2'), price: 'abc' }, 'price'),
  ib('timestamp: 30 February', 'POST', O, { ...ORDER, created_at: '2024-02-30T00:00:00Z' }, 'created_at'),
  ib('timestamp: a number', 'POST', O, { ...ORDER, created_at: 1_700_000_000 }, 'created_at'),
  ib('text: array', 'POST', O, { ...ORDER, status: ['paid'] }, 'status'),
  ib('text: longer than char(2)', 'POST', C, { ...CUSTOMER('wt-1'), country: 'DEU' }, 'country'),
  ib('boolean: string', 'POST', P, { ...PRODUCT('WT-3'), active: 'true' }, 'active'),
  ib('boolean: 1', 'POST', P, { ...PRODUCT('WT-4'), active: 1 }, 'active'),
  ib('decimal in a PATCH', 'PATCH', `${O}/1`, { total: 'x' }, 'total'),
  ib('boolean in a PATCH', 'PATCH', `${P}/1`, { active: 'yes' }, 'active'),
  ib('decimal in a PUT', 'PUT', `${O}/1`, { ...ORDER, total: 'x' }, 'total'),
  ib('timestamp in a bulk PATCH', 'PATCH', `${O}?id=1`, { created_at: 'nope' }, 'created_at'),
];

const NN: BadCase['code'] = ['SLUICE_INVALID_BODY', 'SLUICE_NOT_NULL_VIOLATION'];
const NOT_NULL: WriteCase[] = [
  ib('null in a not-null column', 'POST', O, { ...ORDER, customer_id: null }, 'customer_id', NN),
  ib('required columns missing', 'POST', O, { status: 'paid' }, ['customer_id', 'total', 'created_at'], NN),
  ib('empty object', 'POST', O, {}, ['customer_id', 'status', 'total', 'created_at'], NN),
  ib('required email missing', 'POST', C, { name: 'x', country: 'DE', created_at: '2024-01-01T00:00:00Z' }, 'email', NN),
  ib('null in a PATCH', 'PATCH', `${O}/1`, { status: null }, 'status', NN),
  ib('required columns missing in a PUT', 'PUT', `${O}/1`, { status: 'paid' }, ['customer_id', 'total', 'created_at'], NN),
  ib('null in a bulk PATCH', 'PATCH', `${O}?id=1`, { total: null }, 'total', NN),
];

const conflict = (name: string, method: string, url: string, body: unknown, code: BadCase['code'], extra: Partial<WriteCase> = {}): WriteCase =>
  ({ name, method, url, json: body, status: 409, code, ...extra });
const UNIQUE = 'SLUICE_UNIQUE_VIOLATION' as const;
const FK = 'SLUICE_FOREIGN_KEY_VIOLATION' as const;
const CONFLICTS: WriteCase[] = [
  conflict('unique email', 'POST', C, { ...CUSTOMER('x'), email: 'customer1@example.com' }, UNIQUE, { field: 'email' }),
  conflict('existing primary key', 'POST', O, { ...ORDER, id: 1 }, UNIQUE, { field: 'id' }),
  conflict('unique sku', 'POST', P, PRODUCT('SKU-0000001'), UNIQUE, { field: 'sku' }),
  conflict('existing composite key', 'POST', I, { ...ITEM, product_id: 139 }, UNIQUE),
  conflict('unique email in a PATCH', 'PATCH', `${C}/2`, { email: 'customer1@example.com' }, UNIQUE),
  conflict('unique email in a PUT', 'PUT', `${C}/2`, { ...CUSTOMER('y'), email: 'customer1@example.com' }, UNIQUE),
  conflict('duplicate emails inside one batch', 'POST', C, [CUSTOMER('dup'), CUSTOMER('dup')], UNIQUE, { watch: [`${C}?email=bad-input-dup@example.com`] }),
  conflict('order of a missing customer', 'POST', O, { ...ORDER, customer_id: 999_999 }, FK),
  conflict('missing customer in a PATCH', 'PATCH', `${O}/1`, { customer_id: 999_999 }, FK),
  conflict('missing customer in a PUT', 'PUT', `${O}/1`, { ...ORDER, customer_id: 999_999 }, FK),
  conflict('item of a missing order', 'POST', I, { ...ITEM, order_id: 999_999 }, FK),
  conflict('item of a missing product', 'POST', I, { ...ITEM, product_id: 999_999 }, FK),
  conflict('a missing customer in the second row of a batch', 'POST', O, [ORDER, { ...ORDER, customer_id: 999_999 }], FK),
  conflict('missing customer in a bulk PATCH', 'PATCH', `${O}?id[lte]=3`, { customer_id: 999_999 }, FK, { watch: [`${O}?id[lte]=3`] }),
  { name: 'deleting a customer that orders refer to', method: 'DELETE', url: `${C}/1`, status: 409, code: FK, watch: [`${O}?customer_id=1&limit=100`] },
  { name: 'deleting a product that items refer to', method: 'DELETE', url: `${P}/139`, status: 409, code: FK, watch: [`${P}/139`] },
  { name: 'bulk delete of a customer that orders refer to', method: 'DELETE', url: `${C}?id=1`, status: 409, code: FK },
];

const CHECK: BadCase['code'] = ['SLUICE_CHECK_VIOLATION', 'SLUICE_INVALID_BODY'];
const CHECKS: WriteCase[] = [
  ib('status outside the check list', 'POST', O, { ...ORDER, status: 'bogus' }, [], CHECK),
  ib('quantity 0', 'POST', I, { ...ITEM, quantity: 0 }, [], CHECK),
  ib('quantity -1', 'POST', I, { ...ITEM, quantity: -1 }, [], CHECK),
  ib('status outside the check list in a PATCH', 'PATCH', `${O}/1`, { status: 'bogus' }, [], CHECK),
  ib('quantity 0 in a PATCH of a composite key', 'PATCH', `${I}/1,139`, { quantity: 0 }, [], CHECK),
  ib('status outside the check list in a PUT', 'PUT', `${O}/1`, { ...ORDER, status: 'bogus' }, [], CHECK),
  { ...ib('status outside the check list in a bulk PATCH', 'PATCH', `${O}?status=paid`, { status: 'bogus' }, [], CHECK), watch: [`${O}?status=paid&count=exact&limit=3`] },
  ib('SQL in a checked value', 'POST', O, { ...ORDER, status: "paid'); delete from orders;--" }, [], CHECK),
];

const RANGE: BadCase['code'] = ['SLUICE_INVALID_BODY', 'SLUICE_INVALID_ROW'];
const OUT_OF_RANGE: WriteCase[] = [
  ib('integer beyond 64 bits (1e20)', 'POST', P, { ...PRODUCT('OR-1'), stock: 1e20 }, [], RANGE),
  ib('integer below 64 bits (-1e20)', 'POST', P, { ...PRODUCT('OR-2'), stock: -1e20 }, [], RANGE),
  ib('numeric(10,2) given 1e20', 'POST', P, { ...PRODUCT('OR-3'), price: 1e20 }, [], RANGE),
  ib("numeric(10,2) given '1e20'", 'POST', P, { ...PRODUCT('OR-4'), price: '1e20' }, [], RANGE),
  ib('numeric(10,2) given 12 integer digits', 'POST', P, { ...PRODUCT('OR-5'), price: '123456789012.00' }, [], RANGE),
  ib('numeric(12,2) given 1e999999', 'POST', O, { ...ORDER, total: '1e999999' }, [], RANGE),
  ib('bigint given 2^63 as a string', 'POST', O, { ...ORDER, customer_id: '9223372036854775808' }, [], RANGE),
  ib('bigint given 1e20 as a number', 'POST', O, { ...ORDER, customer_id: 1e20 }, [], RANGE),
  { ...ib('bigint given 1e400 (Infinity once parsed)', 'POST', O, null, [], RANGE), json: undefined, raw: `{"customer_id":1e400,${ORDER_JSON.slice(ORDER_JSON.indexOf('"status"'))}` },
  ib('integer beyond 64 bits (1e20) in a PATCH', 'PATCH', `${P}/1`, { stock: 1e20 }, [], RANGE),
];
/**
 * Only on PostgreSQL, whose `integer` is 32-bit: SQLite's INTEGER is 64-bit, so Sluice rightly
 * treats it as a bigint there, which takes these values (and digit strings, as SPEC §3 writes
 * 64-bit integers).
 */
const PG_ONLY: WriteCase[] = [
  ib('integer: string of digits', 'POST', P, { ...PRODUCT('WT-5'), stock: '12' }, 'stock'),
  ib('integer: string in order_items.quantity', 'POST', I, { ...ITEM, quantity: '1' }, 'quantity'),
  ib('integer 99999999999 (beyond 32 bits)', 'POST', P, { ...PRODUCT('OR-6'), stock: 99_999_999_999 }, 'stock', RANGE),
  ib('integer 2^31', 'PATCH', `${P}/1`, { stock: 2_147_483_648 }, 'stock', RANGE),
];

const FILTER_REQUIRED = 'SLUICE_FILTER_REQUIRED' as const;
const BULK: WriteCase[] = [
  { name: 'bulk PATCH without a filter', method: 'PATCH', url: O, json: { status: 'cancelled' }, status: 400, code: FILTER_REQUIRED, watch: [`${O}?status=cancelled&count=exact&limit=3`] },
  { name: 'bulk DELETE without a filter', method: 'DELETE', url: O, status: 400, code: FILTER_REQUIRED },
  { name: 'bulk DELETE of order_items without a filter', method: 'DELETE', url: I, status: 400, code: FILTER_REQUIRED },
  { name: 'bulk PATCH with only a limit', method: 'PATCH', url: `${O}?limit=5`, json: { status: 'cancelled' }, status: 400, code: [FILTER_REQUIRED, 'SLUICE_BAD_QUERY'] },
  { name: 'bulk DELETE with only a sort', method: 'DELETE', url: `${O}?sort=id`, status: 400, code: [FILTER_REQUIRED, 'SLUICE_BAD_QUERY'] },
  { name: 'bulk DELETE with an empty group', method: 'DELETE', url: `${O}?or=()`, status: 400, code: 'SLUICE_BAD_QUERY', detail: ['or'] },
  { name: 'bulk DELETE on an unknown column', method: 'DELETE', url: `${O}?totl=1`, status: 400, code: 'SLUICE_UNKNOWN_COLUMN', detail: ['totl'] },
  { name: 'bulk DELETE with a wrongly typed value', method: 'DELETE', url: `${O}?id=abc`, status: 400, code: 'SLUICE_INVALID_VALUE', detail: ['id'] },
  { name: 'bulk DELETE with a limit (a limit does not limit a delete)', method: 'DELETE', url: `${O}?status=paid&limit=1`, status: 400, code: 'SLUICE_BAD_QUERY', detail: ['limit'] },
  { name: 'bulk DELETE with include', method: 'DELETE', url: `${O}?status=paid&include=customer`, status: 400, code: 'SLUICE_BAD_QUERY', detail: ['include'] },
  { name: 'bulk PATCH with a sort', method: 'PATCH', url: `${O}?status=paid&sort=id`, json: { status: 'cancelled' }, status: 400, code: 'SLUICE_BAD_QUERY', detail: ['sort'] },
  { name: 'bulk PATCH with count', method: 'PATCH', url: `${O}?id=1&count=exact`, json: { status: 'cancelled' }, status: 400, code: 'SLUICE_BAD_QUERY', detail: ['count'] },
  { name: 'DELETE of one row with a filter', method: 'DELETE', url: `${O}/1?status=paid`, status: 400, code: 'SLUICE_BAD_QUERY', detail: ['status'] },
  { name: 'DELETE of one row with a limit', method: 'DELETE', url: `${O}/1?limit=1`, status: 400, code: 'SLUICE_BAD_QUERY', detail: ['limit'] },
  { name: 'PATCH of one row with a filter', method: 'PATCH', url: `${O}/1?status=cancelled`, json: { status: 'cancelled' }, status: 400, code: 'SLUICE_BAD_QUERY', detail: ['status'] },
  post('POST with a limit', O, json(ORDER), 400, 'SLUICE_BAD_QUERY', { url: `${O}?limit=5`, detail: ['limit'] }),
  post('POST with a filter', O, json(ORDER), 400, 'SLUICE_BAD_QUERY', { url: `${O}?status=paid`, detail: ['status'] }),
  post('onConflict on an unknown column', O, json(ORDER), 400, 'SLUICE_UNKNOWN_COLUMN', { url: `${O}?onConflict=bogus`, detail: ['onConflict'] }),
  post('onConflict on a column that is not unique', O, json(ORDER), 400, 'SLUICE_BAD_QUERY', { url: `${O}?onConflict=status`, detail: ['onConflict'] }),
  post('onConflict with ;drop table', O, json(ORDER), 400, ['SLUICE_BAD_QUERY', 'SLUICE_UNKNOWN_COLUMN'], { url: `${O}?onConflict=id%3Bdrop%20table%20orders`, detail: ['onConflict'] }),
  post('onConflict given twice', O, json(ORDER), 400, 'SLUICE_BAD_QUERY', { url: `${O}?onConflict=id&onConflict=id`, detail: ['onConflict'] }),
  post('onConflict=id without id in the body', O, json(ORDER), 422, 'SLUICE_INVALID_BODY', { url: `${O}?onConflict=id`, field: 'id' }),
  post('bulk create above limits.maxBatch (1001 rows)', O, json(Array.from({ length: 1001 }, () => ORDER)), 400, 'SLUICE_BATCH_TOO_LARGE'),
];

const PUT_KEYS: WriteCase[] = [
  ib('PUT whose body id differs from the path', 'PUT', `${O}/1`, { ...ORDER, id: 2 }, 'id'),
  ib('PUT whose body id is a string that differs', 'PUT', `${O}/1`, { ...ORDER, id: '2' }, 'id'),
  { ...ib('PUT whose composite key differs from the path', 'PUT', `${I}/1,139`, { order_id: 2, product_id: 139, quantity: 1, unit_price: '1.00' }, 'order_id'), watch: [`${I}/2,139`] },
  ib('PUT of a new row whose body key differs', 'PUT', `${O}/20000`, { ...ORDER, id: 20001 }, 'id'),
];

async function runWrite(s: TestSluice, c: WriteCase): Promise<void> {
  await unchanged(s, [...WATCH, ...(c.watch ?? [])], () => expectProblem(s, c));
}

/** Adds what the shop lacks for these cases: a generated (read-only) column and a read-only view. */
async function addReadOnlyObjects(dialect: Dialect, url: string): Promise<void> {
  const view = `create view order_stats as select status, count(*) as n from orders group by status`;
  if (dialect === 'sqlite') {
    const db = new DatabaseSync(url.slice('sqlite:'.length));
    try {
      db.exec(`alter table products add column label text generated always as ('P-' || sku) virtual; ${view}`);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`alter table products add column label text generated always as ('P-' || sku) stored; ${view}`);
  } finally {
    await client.end();
  }
}

describe.each(await dialects())('bad input in writes (%s)', (dialect) => {
  const s = useShop(dialect);

  describe('invalid JSON', () => {
    it.each(INVALID_JSON)('$name', (c) => runWrite(s(), c));
  });
  describe('JSON that is not a row', () => {
    it.each(NOT_A_ROW)('$name', (c) => runWrite(s(), c));
  });
  describe('prototype pollution', () => {
    it.each(POLLUTION)('$name', async (c) => {
      await runWrite(s(), c);
      expect(({} as Record<string, unknown>).polluted, 'Object.prototype was polluted').toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('status');
    });
  });
  describe('media types', () => {
    it.each(MEDIA_TYPES)('$name', (c) => runWrite(s(), c));
  });
  describe('unknown columns', () => {
    it.each(UNKNOWN_COLUMNS)('$name', (c) => runWrite(s(), c));
  });
  describe('wrong types', () => {
    it.each(WRONG_TYPES)('$name', (c) => runWrite(s(), c));
  });
  describe('not-null', () => {
    it.each(NOT_NULL)('$name', (c) => runWrite(s(), c));
  });
  describe('unique and foreign-key conflicts', () => {
    it.each(CONFLICTS)('$name', (c) => runWrite(s(), c));
  });
  describe('check constraints', () => {
    it.each(CHECKS)('$name', (c) => runWrite(s(), c));
  });
  describe('numbers out of range (and 32-bit integers on PostgreSQL)', () => {
    it.each(dialect === 'postgres' ? [...OUT_OF_RANGE, ...PG_ONLY] : OUT_OF_RANGE)('$name', (c) => runWrite(s(), c));
  });
  describe('bulk writes and query parameters of writes', () => {
    it.each(BULK)('$name', (c) => runWrite(s(), c));
  });
  describe('PUT keys', () => {
    it.each(PUT_KEYS)('$name', (c) => runWrite(s(), c));
  });

  describe('SQL in values is data', () => {
    it('a name full of SQL is stored and read back as written', async () => {
      const body = { ...CUSTOMER('sql'), name: "Robert'); DROP TABLE customers;--", email: "o'brien+sql@example.com" };
      const res = await send(s(), { method: 'POST', url: C, json: body });
      expect(res.statusCode, res.body).toBe(201);
      const location = String(res.headers.location);
      const back = JSON.parse((await s().get(location)).body) as { data: Record<string, unknown> };
      expect(back.data).toMatchObject({ name: body.name, email: body.email });
    });

    it('a text value with NUL is refused, or stored and read back exactly', async () => {
      const body = { ...CUSTOMER('nul'), name: 'a\u0000b' };
      const res = await send(s(), { method: 'POST', url: C, json: body });
      if (res.statusCode === 201) {
        const back = JSON.parse((await s().get(String(res.headers.location))).body) as { data: Record<string, unknown> };
        expect(back.data.name, 'the NUL character was lost').toBe('a\u0000b');
      } else {
        await expectProblem(s(), { name: 'NUL in a body', method: 'POST', url: C, json: { ...body, email: 'bad-input-nul2@example.com' }, status: 422, code: ['SLUICE_INVALID_BODY', 'SLUICE_INVALID_ROW'] });
      }
    });

    it('afterwards every seeded order and customer is still there', async () => {
      expect(await countOf(s(), 'orders', 'id[lte]=10000')).toBe(10_000);
      expect(await countOf(s(), 'customers', 'id[lte]=1000')).toBe(1000);
      expect(await countOf(s(), 'products', 'id[lte]=200')).toBe(200);
    });
  });
});

describe.each(await dialects())('bad input on read-only columns and views (%s)', (dialect) => {
  const s = useShop(dialect, { setup: (url) => addReadOnlyObjects(dialect, url) });

  it('the generated column and the view are served (control)', async () => {
    const product = JSON.parse((await s().get(`${P}/1`)).body) as { data: Record<string, unknown> };
    expect(product.data.label).toBe('P-SKU-0000001');
    expect((await s().get('/api/v1/order_stats')).statusCode).toBe(200);
  });

  const READ_ONLY: WriteCase[] = [
    ib('generated column in a POST', 'POST', P, { ...PRODUCT('RO-1'), label: 'x' }, 'label'),
    ib('generated column in a PATCH', 'PATCH', `${P}/1`, { label: 'x' }, 'label'),
    ib('generated column in a PUT', 'PUT', `${P}/1`, { ...PRODUCT('SKU-0000001'), label: 'x' }, 'label'),
    ib('generated column in a bulk PATCH', 'PATCH', `${P}?id=1`, { label: 'x' }, 'label'),
    { name: 'POST on a read-only view', method: 'POST', url: '/api/v1/order_stats', json: { status: 'paid', n: 1 }, status: 405, code: 'SLUICE_METHOD_NOT_ALLOWED' },
    { name: 'bulk PATCH on a read-only view', method: 'PATCH', url: '/api/v1/order_stats?status=paid', json: { n: 1 }, status: 405, code: 'SLUICE_METHOD_NOT_ALLOWED' },
    { name: 'bulk DELETE on a read-only view', method: 'DELETE', url: '/api/v1/order_stats?status=paid', status: 405, code: 'SLUICE_METHOD_NOT_ALLOWED' },
  ];
  it.each(READ_ONLY)('$name', (c) => unchanged(s(), [`${P}/1`, '/api/v1/order_stats'], () => expectProblem(s(), c)));

  it('405 on a read-only view allows only reads', async () => {
    const res = await send(s(), { method: 'POST', url: '/api/v1/order_stats', json: { status: 'paid', n: 1 } });
    expect(String(res.headers.allow ?? '').split(/,\s*/).sort()).toEqual(['GET', 'HEAD']);
  });
});
