/**
 * Graceful shutdown (SIGTERM, SIGINT): readiness fails at once and every response closes its
 * connection; for `server.drainDelay` requests are still served, so load balancers take the
 * instance out before it stops listening; then no new connections are accepted, in-flight
 * requests finish (at most `server.shutdownTimeout`, after which their connections are cut), and
 * pools, Redis and exporters are closed. docs/operations.md has the sequence and timings.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Sluice } from '../app.ts';

export interface ShutdownOptions {
  readonly drainDelay: number;
  readonly shutdownTimeout: number;
  readonly log: FastifyBaseLogger;
  /** What started it (`SIGTERM`, `SIGINT`, `disconnect`), for the log. */
  readonly reason: string;
}

/**
 * Runs the shutdown; resolves with the exit code: 0 when every request finished, 1 when the
 * timeout cut some, or closing failed.
 * @example process.exit(await shutdown(sluice, { drainDelay: 5000, shutdownTimeout: 20000, log: app.log, reason: 'SIGTERM' }))
 */
export async function shutdown(sluice: Sluice, options: ShutdownOptions): Promise<number> {
  const { log } = options;
  sluice.drain();
  log.info({ reason: options.reason, drainDelay: options.drainDelay }, 'draining: readiness fails, requests are still served');
  if (options.drainDelay > 0) await sleep(options.drainDelay);
  log.info({ shutdownTimeout: options.shutdownTimeout }, 'closing: no new connections; in-flight requests finish');
  let cut = false;
  const timer = setTimeout(() => {
    cut = true;
    log.warn({ shutdownTimeout: options.shutdownTimeout }, 'shutdown timeout: cutting the connections of unfinished requests');
    sluice.app.server.closeAllConnections();
  }, options.shutdownTimeout);
  try {
    const closing = sluice.close();
    sluice.ops.lifecycle.closeUnused();
    await closing;
  } catch (err) {
    log.error({ err }, 'shutdown failed');
    return 1;
  } finally {
    clearTimeout(timer);
  }
  log.info({ cut }, 'stopped');
  return cut ? 1 : 0;
}
