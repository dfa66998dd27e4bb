/**
 * Starts Sluice in-process for `inject()` tests and records every SQL statement it sends. With
 * `transport: 'http'` the same calls go through a real socket instead (Sluice listening on a free
 * loopback port): what `inject` skips — the HTTP server's own listener, where cache hits are
 * answered before Fastify (src/http/edge-hits.ts) — is then on the path.
 * @example const s = await startSluice({ url }); const res = await s.get('/api/v1/orders'); await s.close();
 */
import { Agent, request as httpRequest } from 'node:http';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { shop, type Dialect } from './databases.ts';
import { createSluice, type Sluice } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';

export interface TestSluice {
  readonly sluice: Sluice;
  /** SQL text of every statement sent since start (or since `statements.length = 0`). */
  readonly statements: string[];
  get(url: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** How test requests reach Sluice: Fastify's `inject`, or HTTP over loopback. */
export type Transport = 'inject' | 'http';

/** `flags` are configuration paths, e.g. `{ 'limits.maxLimit': 50 }`. */
export async function startSluice(options: { url: string; flags?: Record<string, unknown>; transport?: Transport }): Promise<TestSluice> {
  // Suites that are not about security run as an anonymous caller with full access.
  const flags = { 'database.url': options.url, 'auth.anonRole': 'anon', roles: { anon: '*' }, ...options.flags };
  const { config } = await loadConfig({ env: {}, flags, cwd: '/nonexistent' });
  const statements: string[] = [];
  const sluice = await createSluice({ config, logger: false, onStatement: (sql) => statements.push(sql) });
  await sluice.app.ready();
  const http = options.transport === 'http' ? await overHttp(sluice) : undefined;
  const send = http?.send ?? ((o: Sent) => sluice.app.inject(o));
  return {
    sluice, statements,
    get: (url, headers = {}) => send({ method: 'GET', url, headers }),
    request: (method, url, body, headers = {}) => send({
      method, url, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
    }),
    close: async () => {
      http?.agent.destroy();
      await sluice.close();
    },
  };
}

interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

/** A sender over a real socket, answering with the parts of an inject response the suites read. */
async function overHttp(sluice: Sluice): Promise<{ send: (o: Sent) => Promise<LightMyRequestResponse>; agent: Agent }> {
  const origin = new URL(await sluice.app.listen({ port: 0, host: '127.0.0.1' }));
  const agent = new Agent({ keepAlive: true });
  const send = (o: Sent) => new Promise<LightMyRequestResponse>((resolve, reject) => {
    const req = httpRequest({ host: origin.hostname, port: origin.port, agent, method: o.method, path: o.url, headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const rawPayload = Buffer.concat(chunks);
        const body = rawPayload.toString();
        resolve({ statusCode: res.statusCode!, statusMessage: res.statusMessage, headers: res.headers, rawPayload, body, payload: body, json: () => JSON.parse(body) } as unknown as LightMyRequestResponse);
      });
    });
    req.on('error', reject);
    req.end(o.payload);
  });
  return { send, agent };
}

/**
 * Starts Sluice on a fresh shop database of `dialect` (after `setup` changed its schema) before the
 * suite's tests (or before each test with `each`) and disposes of both afterwards. Returns a getter for the running instance.
 * @example const s = useShop('sqlite'); test('…', async () => { await s().get('/api/v1/orders') });
 */
export function useShop(dialect: Dialect, options: { flags?: Record<string, unknown>; each?: boolean; setup?: (url: string) => Promise<void>; transport?: Transport } = {}): () => TestSluice & { url: string } {
  let current: (TestSluice & { url: string }) | undefined;
  let dispose: (() => Promise<void>) | undefined;
  const start = async () => {
    const db = await shop(dialect);
    dispose = db.dispose;
    await options.setup?.(db.url);
    current = Object.assign(await startSluice({ url: db.url, flags: options.flags, transport: options.transport }), { url: db.url });
  };
  const stop = async () => {
    await current?.close();
    await dispose?.();
  };
  if (options.each) {
    beforeEach(start);
    afterEach(stop);
  } else {
    beforeAll(start);
    afterAll(stop);
  }
  return () => current!;
}
