/**
 * Bad input against the configured limits (issue 2, item 11), with Sluice started on small ones:
 * body size (413), batch size, rows a bulk write may affect (400, nothing changed), page size,
 * embed depth and URL length (414); and, over a real socket because `inject()` skips Node's HTTP
 * parser, oversized headers (431) and malformed requests (400) — all as problem+json.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, shop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';
import { assertProblem, expectProblem, send, type BadCase } from '../support/bad-input-problem.ts';
import { countOf, unchanged } from '../support/bad-input-state.ts';
import { rawHttp } from '../support/bad-input-socket.ts';

const O = '/api/v1/orders';
const I = '/api/v1/order_items';
const LIMITS = { 'limits.bodySize': '1kb', 'limits.maxBatch': 3, 'limits.maxAffected': 5, 'limits.maxLimit': 50, 'limits.maxDepth': 1, 'limits.maxUrlLength': 512 };
const ORDER = { customer_id: 1, status: 'paid', total: '1.00', created_at: '2024-01-01T00:00:00Z' };
/** Customer 1 has 10 orders: more than limits.maxAffected (5). */
const CUSTOMER_1_ORDERS = `${O}?customer_id=1&limit=50`;

type LimitCase = BadCase & { readonly watch?: readonly string[] };

const CASES: LimitCase[] = [
  { name: 'JSON body above limits.bodySize (1kb)', method: 'POST', url: O, json: { ...ORDER, pad: 'x'.repeat(2000) }, status: 413, code: 'SLUICE_BODY_TOO_LARGE' },
  { name: 'array body above limits.bodySize', method: 'POST', url: O, json: Array.from({ length: 20 }, () => ORDER), status: 413, code: 'SLUICE_BODY_TOO_LARGE' },
  { name: 'PATCH body above limits.bodySize', method: 'PATCH', url: `${O}/1`, json: { status: 'cancelled', pad: 'x'.repeat(2000) }, status: 413, code: 'SLUICE_BODY_TOO_LARGE' },
  { name: 'bulk create above limits.maxBatch (4 rows, max 3)', method: 'POST', url: O, json: Array.from({ length: 4 }, () => ORDER), status: 400, code: 'SLUICE_BATCH_TOO_LARGE' },
  { name: 'bulk PATCH of 10 rows (max 5)', method: 'PATCH', url: `${O}?customer_id=1`, json: { status: 'cancelled' }, status: 400, code: 'SLUICE_TOO_MANY_ROWS', watch: [CUSTOMER_1_ORDERS] },
  { name: 'bulk DELETE of 10 rows (max 5)', method: 'DELETE', url: `${O}?customer_id=1`, status: 400, code: 'SLUICE_TOO_MANY_ROWS', watch: [CUSTOMER_1_ORDERS] },
  { name: 'bulk DELETE of 2,500 rows', method: 'DELETE', url: `${O}?status=paid`, status: 400, code: 'SLUICE_TOO_MANY_ROWS' },
  { name: 'bulk DELETE of many order_items', method: 'DELETE', url: `${I}?quantity=1`, status: 400, code: 'SLUICE_TOO_MANY_ROWS' },
  { name: 'bulk PATCH of 6 rows (one above the limit)', method: 'PATCH', url: `${O}?id[lte]=6`, json: { status: 'cancelled' }, status: 400, code: 'SLUICE_TOO_MANY_ROWS', watch: [`${O}?id[lte]=6`] },
  { name: 'bulk PATCH through an or group of 6 rows', method: 'PATCH', url: `${O}?or=(id.lte.3,id.in.(4,5,6))`, json: { total: '0.00' }, status: 400, code: 'SLUICE_TOO_MANY_ROWS', watch: [`${O}?id[lte]=6`] },
  { name: 'bulk DELETE of orders (cascading to items) of 6 rows', method: 'DELETE', url: `${O}?id[lte]=6`, status: 400, code: 'SLUICE_TOO_MANY_ROWS', watch: [`${O}?id[lte]=6`, `${I}?order_id[lte]=6&limit=50`] },
  { name: 'limit above limits.maxLimit (51, max 50)', url: `${O}?limit=51`, status: 400, code: 'SLUICE_LIMIT_TOO_LARGE', detail: ['limit'] },
  { name: 'embed limit above limits.maxLimit', url: `${O}?include=items&items.limit=51`, status: 400, code: 'SLUICE_LIMIT_TOO_LARGE', detail: ['items.limit'] },
  { name: 'include deeper than limits.maxDepth (1)', url: `${O}?include=customer.orders`, status: 400, code: 'SLUICE_DEPTH_EXCEEDED', detail: ['include'] },
  { name: 'fields deeper than limits.maxDepth', url: `${O}?fields=id,customer.orders.id`, status: 400, code: 'SLUICE_DEPTH_EXCEEDED', detail: ['fields'] },
  { name: 'relation filter deeper than limits.maxDepth', url: `${I}?order.customer.country=DE`, status: 400, code: 'SLUICE_DEPTH_EXCEEDED', detail: ['order.customer.country'] },
  { name: 'relation filter in a group deeper than limits.maxDepth', url: `${I}?or=(order.customer.country.eq.DE,quantity.eq.1)`, status: 400, code: 'SLUICE_DEPTH_EXCEEDED', detail: ['or'] },
  { name: 'group scoped deeper than limits.maxDepth', url: `${I}?order.customer.or=(country.eq.DE,country.eq.FR)`, status: 400, code: 'SLUICE_DEPTH_EXCEEDED' },
  { name: 'relation filter of a bulk DELETE deeper than limits.maxDepth', method: 'DELETE', url: `${I}?order.customer.country=DE`, status: 400, code: 'SLUICE_DEPTH_EXCEEDED' },
  { name: 'URL above limits.maxUrlLength (512)', url: `${O}?status=${'a'.repeat(600)}`, status: 414, code: 'SLUICE_URL_TOO_LONG' },
  { name: 'POST to a URL above limits.maxUrlLength', method: 'POST', url: `${O}?fields=${'id,'.repeat(200)}id`, json: ORDER, status: 414, code: 'SLUICE_URL_TOO_LONG' },
  { name: 'bulk DELETE to a URL above limits.maxUrlLength', method: 'DELETE', url: `${O}?id[in]=${Array.from({ length: 200 }, (_, i) => i + 1).join(',')}`, status: 414, code: 'SLUICE_URL_TOO_LONG' },
];

describe.each(await dialects())('bad input against small limits (%s)', (dialect) => {
  let s: TestSluice;
  let dispose: () => Promise<void>;
  let port: number;

  beforeAll(async () => {
    const db = await shop(dialect);
    dispose = db.dispose;
    s = await startSluice({ url: db.url, flags: LIMITS });
    await s.sluice.app.listen({ port: 0, host: '127.0.0.1' });
    port = (s.sluice.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await s?.close();
    await dispose?.();
  });

  it.each(CASES)('$name', (c) => unchanged(s, [`${O}/1`, ...(c.watch ?? [])], () => expectProblem(s, c)));

  describe('controls: at the limits, requests pass', () => {
    it('limit=50 and depth 1 are served', async () => {
      expect((await s.get(`${O}?limit=50`)).statusCode).toBe(200);
      expect((await s.get(`${I}?order.status=paid&include=order&limit=5`)).statusCode).toBe(200);
    });
    it('a URL of exactly 512 characters is not a 414', async () => {
      const base = `${O}?status=`;
      const res = await s.get(base + 'a'.repeat(512 - base.length));
      expect(res.statusCode, res.body).toBe(200);
    });
    it('a bulk PATCH of exactly limits.maxAffected rows is allowed', async () => {
      const res = await send(s, { method: 'PATCH', url: `${O}?id[lte]=5`, json: { status: 'cancelled' } });
      expect(res.statusCode, res.body).toBe(200);
      expect((JSON.parse(res.body) as { data: unknown[] }).data).toHaveLength(5);
      expect(await countOf(s, 'orders', 'id[lte]=5&status=cancelled')).toBe(5);
    });
  });

  describe('over a real socket', () => {
    const get = (extra: string) => `GET ${O}?limit=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${extra}\r\n`;
    const socketCase = (name: string, status: number, code?: BadCase['code']): BadCase => ({ name, url: O, status, code });

    it('one header above Node\'s 16 KiB limit is a 431 problem', async () => {
      const res = await rawHttp(port, get(`X-Big: ${'a'.repeat(20_000)}\r\n`));
      assertProblem(socketCase('one 20 KB header', 431, 'SLUICE_HEADERS_TOO_LARGE'), res);
    });
    it('many headers adding up above the limit are a 431 problem', async () => {
      const many = Array.from({ length: 200 }, (_, i) => `X-H${i}: ${'b'.repeat(100)}\r\n`).join('');
      const res = await rawHttp(port, get(many));
      assertProblem(socketCase('200 headers of 100 bytes', 431, 'SLUICE_HEADERS_TOO_LARGE'), res);
    });
    it('a malformed request line is a 400 problem', async () => {
      const res = await rawHttp(port, 'GARBAGE\r\n\r\n');
      assertProblem(socketCase('request line GARBAGE', 400, 'SLUICE_BAD_REQUEST'), res);
    });
    it('a header name with a control character is a 400 problem', async () => {
      const res = await rawHttp(port, get('X-B\u0001ad: 1\r\n'));
      assertProblem(socketCase('header name with \\x01', 400, 'SLUICE_BAD_REQUEST'), res);
    });
    it('a non-numeric Content-Length is a 400 problem', async () => {
      const res = await rawHttp(port, `POST ${O} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}`);
      assertProblem(socketCase('Content-Length: abc', 400, 'SLUICE_BAD_REQUEST'), res);
    });
    it('Content-Length together with chunked encoding is a 400 problem (no smuggling)', async () => {
      const body = JSON.stringify(ORDER);
      const res = await rawHttp(port, `POST ${O} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
      assertProblem(socketCase('Content-Length and Transfer-Encoding', 400, 'SLUICE_BAD_REQUEST'), res);
      expect(await countOf(s, 'orders')).toBe(10_000);
    });
    it('a declared Content-Length above limits.bodySize is a 413 before the body arrives', async () => {
      const res = await rawHttp(port, `POST ${O} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{`, 3000);
      assertProblem(socketCase('Content-Length: 10000000', 413, 'SLUICE_BODY_TOO_LARGE'), res);
    });
    it('a chunked body above limits.bodySize is a 413', async () => {
      const chunk = `{"pad":"${'x'.repeat(3000)}"}`;
      const res = await rawHttp(port, `POST ${O} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
      assertProblem(socketCase('chunked 3 KB body', 413, 'SLUICE_BODY_TOO_LARGE'), res);
    });
    it('a URL above limits.maxUrlLength is a 414 problem on a socket too', async () => {
      const res = await rawHttp(port, `GET ${O}?status=${'a'.repeat(600)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      assertProblem(socketCase('600-character query', 414, 'SLUICE_URL_TOO_LONG'), res);
    });
    it('the server still answers afterwards', async () => {
      const res = await rawHttp(port, get(''));
      expect(res.statusCode, res.raw.slice(0, 300)).toBe(200);
    });
  });
});
