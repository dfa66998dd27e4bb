/**
 * Starts Sluice in-process for `inject()` tests and records every SQL statement it sends.
 * @example const s = await startSluice({ url }); const res = await s.get('/api/v1/orders'); await s.close();
 */
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

/** `flags` are configuration paths, e.g. `{ 'limits.maxLimit': 50 }`. */
export async function startSluice(options: { url: string; flags?: Record<string, unknown> }): Promise<TestSluice> {
  // Suites that are not about security run as an anonymous caller with full access.
  const flags = { 'database.url': options.url, 'auth.anonRole': 'anon', roles: { anon: '*' }, ...options.flags };
  const { config } = await loadConfig({ env: {}, flags, cwd: '/nonexistent' });
  const statements: string[] = [];
  const sluice = await createSluice({ config, logger: false, onStatement: (sql) => statements.push(sql) });
  await sluice.app.ready();
  return {
    sluice, statements,
    get: (url, headers = {}) => sluice.app.inject({ method: 'GET', url, headers }),
    request: (method, url, body, headers = {}) => sluice.app.inject({
      method: method as 'GET', url, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
    }),
    close: () => sluice.close(),
  };
}

/**
 * Starts Sluice on a fresh shop database of `dialect` (after `setup` changed its schema) before the
 * suite's tests (or before each test with `each`) and disposes of both afterwards. Returns a getter for the running instance.
 * @example const s = useShop('sqlite'); test('…', async () => { await s().get('/api/v1/orders') });
 */
export function useShop(dialect: Dialect, options: { flags?: Record<string, unknown>; each?: boolean; setup?: (url: string) => Promise<void> } = {}): () => TestSluice & { url: string } {
  let current: (TestSluice & { url: string }) | undefined;
  let dispose: (() => Promise<void>) | undefined;
  const start = async () => {
    const db = await shop(dialect);
    dispose = db.dispose;
    await options.setup?.(db.url);
    current = Object.assign(await startSluice({ url: db.url, flags: options.flags }), { url: db.url });
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
