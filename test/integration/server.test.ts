/**
 * The HTTP shell around the resources: health, request ids, the problem pages every error links
 * to, the index, and the documentation routes' neighbours.
 */
import { describe, expect, test } from 'vitest';
import { PROBLEMS } from '../../src/errors/registry.ts';
import { dialects } from '../support/databases.ts';
import { useShop } from '../support/sluice.ts';

describe.each(await dialects())('server on %s', (dialect) => {
  const s = useShop(dialect);

  test('/health/live and /health/ready answer while the database does', async () => {
    expect((await s().get('/health/live')).json()).toEqual({ status: 'ok' });
    const ready = await s().get('/health/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ok', resources: 4 });
  });

  test('a request id is echoed when sent and generated otherwise, on answers and on errors', async () => {
    const mine = await s().get('/api/v1/orders/1', { 'x-request-id': 'trace-me-42' });
    expect(mine.headers['x-request-id']).toBe('trace-me-42');
    const missing = await s().get('/api/v1/orders/424242', { 'x-request-id': 'trace-me-43' });
    expect(missing.headers['x-request-id']).toBe('trace-me-43');
    expect(missing.json().requestId).toBe('trace-me-43');
    const generated = await s().get('/api/v1/orders/1');
    const other = await s().get('/api/v1/orders/1');
    // UUIDs of version 8 (RFC 9562 layout and variant bits), distinct per request.
    const UUID8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(generated.headers['x-request-id']).toMatch(UUID8);
    expect(other.headers['x-request-id']).toMatch(UUID8);
    expect(other.headers['x-request-id']).not.toBe(generated.headers['x-request-id']);
  });

  test('every problem type is a page Sluice serves', async () => {
    for (const [code, p] of Object.entries(PROBLEMS)) {
      const res = await s().get(`/problems/${p.slug}`);
      expect(res.statusCode, p.slug).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toContain(code);
      expect(res.body).toContain(p.title);
    }
    expect((await s().get('/problems/nope')).statusCode).toBe(404);
  });

  test('the index lists the resources; unknown paths are 404 problems', async () => {
    const index = (await s().get('/')).json();
    expect(index).toMatchObject({ name: 'sluice', api: '/api/v1', docs: '/docs', openapi: '/openapi.json' });
    expect(index.resources).toEqual(['/api/v1/customers', '/api/v1/order_items', '/api/v1/orders', '/api/v1/products']);
    const nowhere = await s().get('/elsewhere');
    expect(nowhere.statusCode).toBe(404);
    expect(nowhere.headers['content-type']).toBe('application/problem+json');
  });
});
