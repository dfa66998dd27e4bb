/**
 * SPEC §8 request logs as an operator reads them: one JSON line per request at info with the
 * request id, method, route template, status, time and the caller's id and role — never an API
 * key, a token or a cookie; `X-Request-Id` kept when safe, replaced when not; `log.requests:
 * false` writes no request lines.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shop } from '../support/databases.ts';
import { createSluice, type Sluice } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';

const API = '/api/v1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Line {
  level: number;
  msg: string;
  [key: string]: unknown;
}

async function start(url: string, flags: Record<string, unknown> = {}): Promise<{ sluice: Sluice; lines: Line[]; raw: string[] }> {
  const { config } = await loadConfig({ env: {}, cwd: '/nonexistent', flags: { 'database.url': url, 'auth.anonRole': 'anon', roles: { anon: { orders: { read: true } } }, ...flags } });
  const raw: string[] = [];
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n').filter(Boolean)) {
        raw.push(text);
        lines.push(JSON.parse(text) as Line);
      }
      done();
    },
  });
  const sluice = await createSluice({ config, logger: { level: 'info', stream } });
  await sluice.app.ready();
  return { sluice, lines, raw };
}

describe('request logs', () => {
  let db: { url: string; dispose: () => Promise<void> };
  let s: Awaited<ReturnType<typeof start>>;
  let key: string;
  let keyId: string;
  beforeAll(async () => {
    db = await shop('sqlite');
    s = await start(db.url);
    const created = await s.sluice.engine.auth.keys!.create({ name: 'ops-test', role: 'admin' });
    key = created.key;
    keyId = created.record.id;
  });
  afterAll(async () => {
    await s?.sluice.close();
    await db?.dispose();
  });
  const requestLines = () => s.lines.filter((l) => l.msg === 'request');

  it('one info line per request: id, method, route template, URL, status, time, caller (id and role, never the key)', async () => {
    s.lines.length = 0;
    const res = await s.sluice.app.inject({ method: 'GET', url: `${API}/orders/3`, headers: { authorization: `Bearer ${key}`, cookie: 'session=s3cr3t' } });
    expect(res.statusCode).toBe(200);
    const anon = await s.sluice.app.inject({ method: 'GET', url: `${API}/orders?limit=1` });
    const refused = await s.sluice.app.inject({ method: 'GET', url: `${API}/orders/3`, headers: { 'x-api-key': 'sk_notakeyatallbutlongenough_0000000000000000000' } });
    expect(refused.statusCode).toBe(401);
    const lines = requestLines();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      level: 30, reqId: res.headers['x-request-id'], method: 'GET', route: '/api/v1/orders/:id', url: '/api/v1/orders/3', status: 200,
      caller: { id: keyId, role: 'admin' },
    });
    expect(lines[0]!.ms).toEqual(expect.any(Number));
    expect(lines[1]).toMatchObject({ route: '/api/v1/orders', status: 200, caller: { role: 'anon' }, reqId: anon.headers['x-request-id'] });
    expect(lines[2]).toMatchObject({ status: 401, route: '/api/v1/orders/:id' });
    expect(lines[2]!.caller).toBeUndefined();
    const all = s.raw.join('\n');
    expect(all).not.toContain(key);
    expect(all).not.toContain('s3cr3t');
    expect(all).not.toContain('sk_notakey');
  });

  it('health checks log at debug, not info', async () => {
    s.lines.length = 0;
    expect((await s.sluice.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    expect(requestLines()).toHaveLength(0);
  });

  it('credential headers are redacted wherever a logged object carries them', async () => {
    s.lines.length = 0;
    s.sluice.app.log.info({
      request: { headers: { authorization: `Bearer ${key}`, 'x-api-key': key, cookie: 'a=b', accept: 'text/csv' } },
      headers: { authorization: 'Bearer t0ken' },
      response: { headers: { 'proxy-authorization': 'Basic eHl6', 'set-cookie': 'sid=1' } },
    }, 'debugging');
    const line = s.lines.find((l) => l.msg === 'debugging')!;
    expect(line.request).toEqual({ headers: { authorization: '[redacted]', 'x-api-key': '[redacted]', cookie: '[redacted]', accept: 'text/csv' } });
    expect(line.headers).toEqual({ authorization: '[redacted]' });
    expect(line.response).toEqual({ headers: { 'proxy-authorization': '[redacted]', 'set-cookie': '[redacted]' } });
  });

  it('X-Request-Id: a safe one is kept (response header, problem body, log); anything else is replaced', async () => {
    s.lines.length = 0;
    const kept = await s.sluice.app.inject({ method: 'GET', url: `${API}/orders/999999`, headers: { 'x-request-id': 'lb-7f3a:2.x_Y' } });
    expect(kept.statusCode).toBe(404);
    expect(kept.headers['x-request-id']).toBe('lb-7f3a:2.x_Y');
    expect(kept.json().requestId).toBe('lb-7f3a:2.x_Y');
    expect(requestLines()[0]!.reqId).toBe('lb-7f3a:2.x_Y');
    for (const bad of ['a'.repeat(129), 'has space', 'quote"d', 'new\\nline', '<script>', '']) {
      const res = await s.sluice.app.inject({ method: 'GET', url: `${API}/orders/1`, headers: { 'x-request-id': bad } });
      expect(res.statusCode, bad).toBe(200);
      expect(res.headers['x-request-id'], bad).toMatch(UUID);
    }
  });
});

describe('log.requests: false', () => {
  it('writes no request lines', async () => {
    const db = await shop('sqlite');
    const s = await start(db.url, { 'log.requests': false });
    try {
      expect((await s.sluice.app.inject({ method: 'GET', url: `${API}/orders/1` })).statusCode).toBe(200);
      expect((await s.sluice.app.inject({ method: 'GET', url: '/nope' })).statusCode).toBe(404);
      expect(s.lines.filter((l) => l.msg === 'request')).toEqual([]);
    } finally {
      await s.sluice.close();
      await db.dispose();
    }
  });
});
