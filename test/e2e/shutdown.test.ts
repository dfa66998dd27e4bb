/**
 * SPEC §8 graceful shutdown of `sluice serve`, a real process on a real port: after SIGTERM
 * readiness fails at once while requests are still served (with Connection: close) for the
 * drain delay; then new connections are refused, an in-flight request finishes, and the process
 * exits 0. A request that never finishes is cut at the shutdown timeout (exit 1). SIGINT drains
 * the same way and idle keep-alive connections are closed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteShop } from '../support/databases.ts';

const NODE = process.execPath;
const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

interface Served {
  child: ChildProcess;
  origin: string;
  port: number;
  exit: Promise<{ code: number | null; at: number }>;
  output: () => string;
}

/** `sluice serve` on a copy of the shop, anonymous callers with full access; resolves once it listens. */
async function serve(env: Record<string, string>): Promise<Served> {
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-shutdown-'));
  writeFileSync(join(cwd, 'sluice.config.json'), JSON.stringify({ database: { url: sqliteShop() }, auth: { anonRole: 'anon' }, roles: { anon: '*' } }));
  const child = spawn(NODE, [MAIN, 'serve', '--port', '0'], { cwd, env: { ...process.env, SLUICE_LOG_LEVEL: 'info', ...env } });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<{ code: number | null; at: number }>((done) => child.once('exit', (code) => done({ code, at: Date.now() })));
  const deadline = Date.now() + 30_000;
  while (!/API\s+http:\/\/\S+/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sluice did not start:\n${out}`);
    await sleep(50);
  }
  const api = /API\s+(http:\/\/\S+)/.exec(out)![1]!;
  const origin = api.replace('/api/v1', '');
  return { child, origin, port: Number(new URL(origin).port), exit, output: () => out };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(url: string, agent?: Agent): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = request(url, { agent: agent ?? false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** A PATCH whose body is sent in two parts: the request is in flight until `finish()`. */
function slowPatch(port: number, path: string, body: string): { socket: Socket; finish: () => Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (c: Buffer) => (received += c.toString()));
  socket.on('error', () => undefined);
  const ended = new Promise<string>((done) => socket.on('close', () => done(received)));
  socket.write(`PATCH ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 5)}`);
  return {
    socket,
    finish: () => {
      socket.write(body.slice(5));
      return ended;
    },
  };
}

const refused = (url: string) => get(url).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');

describe('graceful shutdown', () => {
  it('SIGTERM: readiness fails at once, requests are served through the drain, in-flight ones finish, exit 0', async () => {
    const DRAIN = 1500;
    const s = await serve({ SLUICE_SERVER_DRAIN_DELAY: `${DRAIN}ms`, SLUICE_SERVER_SHUTDOWN_TIMEOUT: '10s' });
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await get(`${s.origin}/api/v1/orders/1`, keepAlive);
    expect(first.status).toBe(200);
    expect(first.headers.connection).toBe('keep-alive');
    expect((await get(`${s.origin}/health/ready`)).status).toBe(200);
    const inFlight = slowPatch(s.port, '/api/v1/orders/5', '{"status":"shipped"}');
    await sleep(100);

    const signalled = Date.now();
    s.child.kill('SIGTERM');
    await sleep(100);
    const ready = await get(`${s.origin}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(ready.body).code).toBe('SLUICE_NOT_READY');
    expect(ready.headers.connection).toBe('close');
    // Still served during the drain, on the kept-alive connection, which is then closed.
    const during = await get(`${s.origin}/api/v1/orders/2`, keepAlive);
    expect(during.status).toBe(200);
    expect(during.headers.connection).toBe('close');
    expect((await get(`${s.origin}/api/v1/orders/3`)).status).toBe(200);

    // After the drain delay the port refuses new connections; the process waits for the in-flight request.
    while (!(await refused(`${s.origin}/health/live`))) {
      expect(Date.now() - signalled).toBeLessThan(DRAIN + 3000);
      await sleep(50);
    }
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(DRAIN - 50);
    await sleep(300);
    expect(s.child.exitCode).toBeNull();
    const response = await inFlight.finish();
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(response).toMatch(/\r\nconnection: close\r\n/i);
    expect(response).toContain('"status":"shipped"');
    const { code } = await s.exit;
    expect(code).toBe(0);
    expect(s.output()).toMatch(/"msg":"draining: readiness fails, requests are still served"/);
    expect(s.output()).toMatch(/"cut":false,"msg":"stopped"/);
    keepAlive.destroy();
  });

  it('a request that never finishes is cut at server.shutdownTimeout, and the exit code says so', async () => {
    const s = await serve({ SLUICE_SERVER_DRAIN_DELAY: '100ms', SLUICE_SERVER_SHUTDOWN_TIMEOUT: '1s' });
    const stuck = slowPatch(s.port, '/api/v1/orders/6', '{"status":"shipped"}');
    const closed = new Promise<void>((done) => stuck.socket.on('close', () => done()));
    await sleep(100);
    const signalled = Date.now();
    s.child.kill('SIGTERM');
    const { code, at } = await s.exit;
    await closed;
    expect(code).toBe(1);
    expect(at - signalled).toBeGreaterThanOrEqual(1000);
    expect(at - signalled).toBeLessThan(5000);
    expect(s.output()).toMatch(/shutdown timeout: cutting the connections of unfinished requests/);
  });

  it('SIGINT drains the same way and closes idle keep-alive connections', async () => {
    const s = await serve({ SLUICE_SERVER_DRAIN_DELAY: '300ms', SLUICE_SERVER_SHUTDOWN_TIMEOUT: '5s' });
    const idle = connect(s.port, '127.0.0.1');
    await new Promise((done) => idle.once('connect', done));
    const closed = new Promise<void>((done) => idle.on('close', () => done()));
    idle.on('error', () => undefined);
    s.child.kill('SIGINT');
    await sleep(100);
    expect((await get(`${s.origin}/health/ready`)).status).toBe(503);
    expect((await get(`${s.origin}/health/live`)).status).toBe(200);
    const { code } = await s.exit;
    expect(code).toBe(0);
    await closed; // the server closed the idle connection; the test did not
    expect(s.output()).toMatch(/"reason":"SIGINT"/);
  });
});
