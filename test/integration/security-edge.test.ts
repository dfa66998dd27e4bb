/**
 * The edge of SPEC §6: CORS (configured origins only, never `*` with credentials), security
 * headers, a slow client cut off by the header timeout (408 problem), a statement that runs past
 * the statement timeout (504 problem), and the configuration refusing unsafe CORS.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSluice, type TestSluice } from '../support/sluice.ts';
import { dialects, execSql, shop } from '../support/databases.ts';
import { rawHttp } from '../support/bad-input-socket.ts';
import { loadConfig } from '../../src/config/load.ts';

const O = '/api/v1/orders';

describe('CORS and security headers', () => {
  let s: TestSluice;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    const db = await shop('sqlite');
    dispose = db.dispose;
    s = await startSluice({ url: db.url, flags: { 'server.cors': { origins: ['https://app.example'], credentials: true } } });
  });
  afterAll(async () => {
    await s.close();
    await dispose();
  });

  test('a preflight from an allowed origin is answered before authentication, with credentials allowed', async () => {
    const res = await s.request('OPTIONS', O, undefined, { origin: 'https://app.example', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization' });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(String(res.headers['access-control-allow-methods'])).toContain('PATCH');
    expect(res.headers['access-control-max-age']).toBe('600');
  });

  test('a simple request from an allowed origin exposes the headers a client needs', async () => {
    const res = await s.get(`${O}?limit=1`, { origin: 'https://app.example' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(String(res.headers['access-control-expose-headers'])).toContain('link');
  });

  test('another origin gets no CORS grant', async () => {
    const res = await s.get(`${O}?limit=1`, { origin: 'https://evil.example' });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const pre = await s.request('OPTIONS', O, undefined, { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' });
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('every response carries the security headers, errors included', async () => {
    for (const url of [`${O}?limit=1`, `${O}?nope[zz]=1`, '/health/live']) {
      const res = await s.get(url);
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['referrer-policy'], url).toBe('no-referrer');
      expect(res.headers['x-frame-options'], url).toBe('DENY');
      expect(String(res.headers['content-security-policy']), url).toContain("default-src 'none'");
      expect(res.headers['strict-transport-security'], url).toBeUndefined();
    }
  });
});

describe('configuration', () => {
  test("'*' with credentials stops start-up with one line naming the key", async () => {
    await expect(loadConfig({ env: {}, cwd: '/nonexistent', flags: { 'server.cors': { origins: ['*'], credentials: true } } }))
      .rejects.toThrow(/server\.cors.*'\*' cannot be combined with credentials/);
  });
  test('a wildcard without credentials is allowed and answers any origin with *', async () => {
    const db = await shop('sqlite');
    const s = await startSluice({ url: db.url, flags: { 'server.cors': { origins: ['*'] }, 'server.hsts': true } });
    const res = await s.get(`${O}?limit=1`, { origin: 'https://any.example' });
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.headers['strict-transport-security']).toContain('max-age=');
    await s.close();
    await db.dispose();
  });
});

describe('slow clients', () => {
  test('a client that never finishes its headers gets a 408 problem after server.headersTimeout', async () => {
    const db = await shop('sqlite');
    const s = await startSluice({ url: db.url, flags: { 'server.headersTimeout': '400ms' } });
    await s.sluice.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = s.sluice.app.server.address() as { port: number };
    const started = Date.now();
    const res = await rawHttp(port, `GET ${O} HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n`, 5000);
    expect(res.statusCode).toBe(408);
    expect(JSON.parse(res.body).code).toBe('SLUICE_REQUEST_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(3000);
    await s.close();
    await db.dispose();
  });
});

describe.each(await dialects())('statement timeout on %s', (dialect) => {
  test.runIf(dialect === 'postgres')('a statement running past database.pool.statementTimeout is a 504 problem, and the next request works', async () => {
    const db = await shop(dialect);
    // A view that sleeps: the statement, not the test, decides how long it runs.
    await execSql(db.url, 'create view slow_customers as select c.* from customers c cross join lateral (select pg_sleep(1)) as z');
    const s = await startSluice({ url: db.url, flags: { 'database.pool.statementTimeout': '200ms' } });
    const started = Date.now();
    const res = await s.get('/api/v1/slow_customers?limit=1');
    expect(Date.now() - started).toBeLessThan(900);
    expect(res.statusCode, res.body).toBe(504);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json().code).toBe('SLUICE_STATEMENT_TIMEOUT');
    expect(res.body).not.toMatch(/select|canceling/i);
    expect((await s.get('/api/v1/customers?limit=1')).statusCode).toBe(200);
    await s.close();
    await db.dispose();
  });
});
