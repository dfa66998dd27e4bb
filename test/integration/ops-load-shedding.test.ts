/**
 * SPEC §7 load shedding on a listening server: the event loop is blocked on purpose; new API
 * requests then get 503 problem+json (SLUICE_OVERLOADED) with Retry-After while /health/* and
 * /metrics still answer, and once the loop is quick again requests are served. With the
 * threshold at 0, nothing is shed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';

const API = '/api/v1';

/** Keeps the event loop busy for `ms` (what a runaway synchronous task does to a server). */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
}

describe('load shedding', () => {
  let db: { url: string; dispose: () => Promise<void> };
  let s: TestSluice;
  let origin: string;
  beforeAll(async () => {
    db = await shop('sqlite');
    s = await startSluice({ url: db.url, flags: { 'server.loadShedding': { maxEventLoopDelay: '150ms', retryAfter: '3s', sampleInterval: '50ms' } } });
    origin = await s.sluice.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await s?.close();
    await db?.dispose();
  });

  it('sheds API requests with 503 + Retry-After after the loop lagged, keeps health and metrics, recovers', async () => {
    expect((await fetch(`${origin}${API}/orders/1`)).status).toBe(200);
    block(400);
    await sleep(5); // the sampler's overdue timer runs first
    const shed = await fetch(`${origin}${API}/orders/1`);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('content-type')).toBe('application/problem+json');
    expect(shed.headers.get('retry-after')).toBe('3');
    const body = (await shed.json()) as { code: string; type: string; requestId: string };
    expect(body.code).toBe('SLUICE_OVERLOADED');
    expect(body.type).toBe('/problems/overloaded');
    expect(body.requestId).toBe(shed.headers.get('x-request-id'));
    expect((await fetch(`${origin}/openapi.json`)).status).toBe(503);
    // Health and metrics still answer while shedding.
    block(400);
    await sleep(5);
    expect((await fetch(`${origin}/health/live`)).status).toBe(200);
    expect((await fetch(`${origin}/health/ready`)).status).toBe(200);
    const metrics = await fetch(`${origin}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/orders\/:id",status_code="503"\} [1-9]/);
    // A quick loop again: served again within a few samples.
    await sleep(200);
    expect((await fetch(`${origin}${API}/orders/1`)).status).toBe(200);
  });

  it('a short hiccup under the threshold sheds nothing', async () => {
    block(60);
    await sleep(5);
    expect((await fetch(`${origin}${API}/orders/2`)).status).toBe(200);
  });
});

describe('load shedding off (maxEventLoopDelay: 0)', () => {
  it('serves after a long block', async () => {
    const db = await shop('sqlite');
    const s = await startSluice({ url: db.url, flags: { 'server.loadShedding.maxEventLoopDelay': 0 } });
    try {
      const origin = await s.sluice.app.listen({ port: 0, host: '127.0.0.1' });
      block(400);
      await sleep(5);
      expect((await fetch(`${origin}${API}/orders/1`)).status).toBe(200);
    } finally {
      await s.close();
      await db.dispose();
    }
  });
});
