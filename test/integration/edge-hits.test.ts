/**
 * Cache hits answered in the HTTP server's listener, before Fastify (src/http/edge-hits.ts), as a
 * client and an operator see them over a real socket: the same status, headers and body as the
 * full path sends for the same hit; the same request-duration sample, cache counter and log line;
 * and everything the edge does not answer exactly like the full path left to it (conditional,
 * HEAD and cross-origin requests, a draining instance, rate limits).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';
import { createSluice } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { edgeServed } from '../../src/http/edge-hits.ts';

const API = '/api/v1';
/** Headers that differ between any two responses (or between a socket and inject). */
const PER_RESPONSE = new Set(['date', 'x-request-id', 'connection', 'keep-alive', 'transfer-encoding']);
const stable = (headers: Record<string, unknown>) => Object.fromEntries(Object.entries(headers).filter(([name]) => !PER_RESPONSE.has(name)).sort());

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** Runs `run` and returns its result with how many responses the edge answered meanwhile. */
async function counted<T>(run: () => Promise<T>): Promise<[T, number]> {
  const before = edgeServed();
  const result = await run();
  return [result, edgeServed() - before];
}

describe('cache hits at the edge (sqlite)', () => {
  let db: { url: string; dispose: () => Promise<void> };
  let s: TestSluice;
  beforeAll(async () => {
    db = await shop('sqlite');
    s = await startSluice({ url: db.url, transport: 'http', flags: { 'cache.enabled': true, 'server.cors.origins': ['https://shop.example'] } });
  });
  afterAll(async () => {
    await s?.close();
    await db?.dispose();
  });

  it('a hit over the socket has the status, headers and body the full path sends for the same hit', async () => {
    for (const [url, headers] of [
      [`${API}/orders/7`, {}],
      [`${API}/orders?status=paid&limit=30&include=customer`, {}],
      [`${API}/orders?status=shipped&limit=30&include=customer`, { 'accept-encoding': 'gzip' }],
      [`${API}/customers?limit=3`, { accept: 'application/json' }],
    ] as Array<[string, Record<string, string>]>) {
      expect((await s.get(url, headers)).headers['x-cache']).toBe('MISS');
      await new Promise((resolve) => setTimeout(resolve, 20)); // coded bytes kept once compressed
      const [edge, answered] = await counted(() => s.get(url, headers));
      expect(answered, url).toBe(1);
      const full = await s.sluice.app.inject({ method: 'GET', url, headers }); // inject never meets the edge
      expect(full.headers['x-cache']).toBe('HIT');
      expect(edge.statusCode).toBe(200);
      expect(stable(edge.headers)).toEqual(stable(full.headers));
      expect(edge.rawPayload.equals(full.rawPayload)).toBe(true);
      expect(edge.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      // CORS allows a list of origins: what a response says depends on the Origin too.
      expect(edge.headers.vary).toBe('Accept, Accept-Encoding, Authorization, X-API-Key, Origin');
      expect(edge.headers['access-control-expose-headers']).toContain('x-cache');
    }
  });

  it('a request first served to an Origin is answered the full way to requests without one', async () => {
    const url = `${API}/orders/15`;
    expect((await s.get(url, { origin: 'https://shop.example' })).headers['access-control-allow-origin']).toBe('https://shop.example');
    const [plain, answered] = await counted(() => s.get(url));
    expect(answered).toBe(0);
    expect(plain.headers['x-cache']).toBe('HIT');
    expect(plain.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('an X-Request-Id sent is the one returned', async () => {
    await s.get(`${API}/orders/8`);
    const [res, answered] = await counted(() => s.get(`${API}/orders/8`, { 'x-request-id': 'edge-test-42' }));
    expect(answered).toBe(1);
    expect(res.headers['x-request-id']).toBe('edge-test-42');
  });

  it('a write is seen by the next read: the edge holds no entry of its own', async () => {
    const url = `${API}/orders/9`;
    await s.get(url);
    expect((await s.get(url)).headers['x-cache']).toBe('HIT');
    expect((await s.request('PATCH', url, { status: 'cancelled' })).statusCode).toBe(200);
    const [after, answered] = await counted(() => s.get(url));
    expect(answered).toBe(0);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.json().data.status).toBe('cancelled');
  });

  it('conditional, HEAD and cross-origin requests go the full way, with its answers', async () => {
    const url = `${API}/orders/10`;
    const first = await s.get(url);
    const [[notModified, head, cors], answered] = await counted(async () => [
      await s.get(url, { 'if-none-match': String(first.headers.etag) }),
      await s.request('HEAD', url),
      await s.get(url, { origin: 'https://shop.example' }),
    ]);
    expect(answered).toBe(0);
    expect(notModified.statusCode).toBe(304);
    expect(notModified.body).toBe('');
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect(cors.headers['x-cache']).toBe('HIT');
    expect(cors.headers['access-control-allow-origin']).toBe('https://shop.example');
  });

  it('a hit counts in the request-duration histogram under its route template and as a cache hit', async () => {
    const series = 'http_request_duration_seconds_count{method="GET",route="/api/v1/orders/:id",status_code="200"}';
    const hits = 'sluice_cache_results_total{result="hit"}';
    await s.get(`${API}/orders/11`);
    const before = (await s.get('/metrics')).body;
    const [, answered] = await counted(async () => {
      for (let i = 0; i < 3; i++) expect((await s.get(`${API}/orders/11`)).headers['x-cache']).toBe('HIT');
    });
    expect(answered).toBe(3);
    const after = (await s.get('/metrics')).body;
    expect(sample(after, series) - sample(before, series)).toBe(3);
    expect(sample(after, hits) - sample(before, hits)).toBe(3);
    expect(after).not.toMatch(/orders\/11/);
  });

  it('a draining instance answers through the full path (which closes the connection)', async () => {
    const other = await startSluice({ url: db.url, transport: 'http', flags: { 'cache.enabled': true } });
    try {
      await other.get(`${API}/orders/12`);
      other.sluice.drain();
      const [res, answered] = await counted(() => other.get(`${API}/orders/12`));
      expect(answered).toBe(0);
      expect(res.headers['x-cache']).toBe('HIT');
      expect(res.headers.connection).toBe('close');
    } finally {
      await other.close();
    }
  });

  it('with rate limits configured every hit goes the full way and is counted against the limit', async () => {
    const limited = await startSluice({ url: db.url, transport: 'http', flags: { 'cache.enabled': true, rateLimits: [{ name: 'per-ip', key: 'ip', limit: 3, window: '1m' }] } });
    try {
      const [statuses, answered] = await counted(async () => {
        const out: number[] = [];
        for (let i = 0; i < 5; i++) out.push((await limited.get(`${API}/orders/13`)).statusCode);
        return out;
      });
      expect(answered).toBe(0);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('request log lines of edge hits', () => {
  it('one info line per hit with its request id, route template, status and caller, as the full path writes', async () => {
    const db = await shop('sqlite');
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const text of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(text) as Record<string, unknown>);
        done();
      },
    });
    const { config } = await loadConfig({ env: {}, cwd: '/nonexistent', flags: { 'database.url': db.url, 'auth.anonRole': 'anon', roles: { anon: { orders: { read: true } } }, 'cache.enabled': true } });
    const sluice = await createSluice({ config, logger: { level: 'info', stream } });
    try {
      const origin = await sluice.app.listen({ port: 0, host: '127.0.0.1' });
      const { key } = await sluice.engine.auth.keys!.create({ name: 'edge-log', role: 'admin' });
      const headers = { authorization: `Bearer ${key}` };
      await fetch(`${origin}${API}/orders/14`, { headers });
      const before = edgeServed();
      const hit = await fetch(`${origin}${API}/orders/14`, { headers });
      expect(edgeServed() - before).toBe(1);
      expect(hit.headers.get('x-cache')).toBe('HIT');
      const requestLines = lines.filter((l) => l.msg === 'request');
      expect(requestLines).toHaveLength(2);
      const [miss, edge] = requestLines as [Record<string, unknown>, Record<string, unknown>];
      expect(edge).toMatchObject({ level: 30, reqId: hit.headers.get('x-request-id'), method: 'GET', route: '/api/v1/orders/:id', url: `${API}/orders/14`, status: 200 });
      expect(edge.caller).toEqual(miss.caller);
      expect(edge.caller).toMatchObject({ role: 'admin' });
      expect(typeof edge.ms).toBe('number');
      expect(JSON.stringify(lines)).not.toContain(key);
    } finally {
      await sluice.close();
      await db.dispose();
    }
  });
});
