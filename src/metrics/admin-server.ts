/**
 * The metrics port (`metrics.port`): `GET /metrics` on an address of its own, so that the API
 * port need not expose it. A bare node:http server — it serves one path, and under `--workers`
 * it runs in the primary process, which has no Fastify app.
 */
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { problem } from '../http/problem.ts';
import { SluiceError } from '../errors/registry.ts';
import { METRICS_CONTENT_TYPE } from '../ops/observe.ts';

export interface AdminServerOptions {
  readonly port: number;
  readonly host: string;
  /** The metrics text (this process's, or the cluster's). */
  readonly text: () => Promise<string>;
}

/** @example const server = await startAdminServer({ port: 9464, host: '0.0.0.0', text: () => registry.metrics() }) */
export async function startAdminServer(options: AdminServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const fail = (err: SluiceError) => {
      const p = problem(err, randomUUID());
      res.writeHead(p.status, { ...p.headers, 'content-type': 'application/problem+json' }).end(JSON.stringify(p.body));
    };
    if (path !== '/metrics') return fail(new SluiceError('SLUICE_NOT_FOUND', 'this port serves GET /metrics only'));
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(new SluiceError('SLUICE_METHOD_NOT_ALLOWED', '/metrics takes GET', undefined, { allow: 'GET, HEAD' }));
    options.text().then(
      (text) => res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : text),
      () => fail(new SluiceError('SLUICE_INTERNAL', 'the metrics could not be collected')),
    );
  });
  // Scrapers keep connections open; closing must not wait for them.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return server;
}

/** Closes the server and its idle scraper connections. */
export function stopAdminServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
