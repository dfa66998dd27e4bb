/**
 * `sluice serve --workers N|auto`: the primary process of a node:cluster. It serves no request
 * itself; it forks N workers that share the port (connections are handed out round-robin),
 * restarts a worker that dies (backoff per slot: 200 ms doubling to 10 s, reset after 30 s of
 * life), forwards SIGTERM/SIGINT so every worker drains and stops, answers metrics for the
 * whole cluster, and exits when all workers have exited (0 when all of them stopped cleanly).
 * A worker that fails before all have started stops the start-up: a bad database URL must not
 * turn into an endless restart loop.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { ClusterMetrics } from '../metrics/cluster.ts';
import { startAdminServer, stopAdminServer } from '../metrics/admin-server.ts';

/** The message a worker sends once it listens. */
export const WORKER_READY = 'sluice:worker:ready';

export interface WorkerReady {
  readonly type: typeof WORKER_READY;
  readonly port: number;
  readonly resources: number;
  readonly dialect: string;
}

export interface PrimaryOptions {
  readonly count: number;
  readonly log: Logger;
  /** Bounds how long stopping may take: drain + shutdown timeout + 5 s, then workers are killed. */
  readonly drainDelay: number;
  readonly shutdownTimeout: number;
  /** The metrics port, served here for the whole cluster (null: none, or /metrics on the API port). */
  readonly metricsPort: { readonly port: number; readonly host: string } | null;
  /** Called once, when every worker listens (prints the banner). */
  readonly onReady: (ready: WorkerReady) => Promise<void>;
}

/** `auto` → one worker per available core. @example workerCount('auto') // 2 on a 2-core machine */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

/**
 * Runs the primary until the cluster has stopped; resolves with the process's exit code.
 * @example process.exit(await runPrimary({ count: 4, log, drainDelay: 5000, shutdownTimeout: 20000, metricsPort: null, onReady }))
 */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { log, count } = options;
  const slots = new Map<Worker, { slot: number; at: number }>();
  const failures = new Array<number>(count).fill(0);
  const ready = new Set<Worker>();
  const metrics = new ClusterMetrics(() => [...ready]);
  let started = false;
  let stopping = false;
  let exitCode = 0;
  let admin: Server | null = null;

  return new Promise<number>((resolve) => {
    const finish = () => {
      if (slots.size > 0) return;
      const done = () => resolve(exitCode);
      if (admin) stopAdminServer(admin).then(done, done);
      else done();
    };
    const stop = (signal: NodeJS.Signals, reason: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal, reason, workers: slots.size }, 'stopping the workers');
      for (const worker of slots.keys()) worker.process.kill(signal);
      setTimeout(() => {
        for (const worker of slots.keys()) {
          log.error({ pid: worker.process.pid }, 'worker did not stop in time: killed');
          worker.process.kill('SIGKILL');
        }
        exitCode = 1;
      }, options.drainDelay + options.shutdownTimeout + 5000).unref();
      finish();
    };
    const fork = (slot: number) => {
      const worker = cluster.fork({ SLUICE_WORKER: String(slot + 1) });
      slots.set(worker, { slot, at: Date.now() });
      log.info({ worker: slot + 1, pid: worker.process.pid }, 'worker started');
    };

    cluster.on('message', (worker, message: { type?: string }) => {
      if (metrics.handle(worker, message)) return;
      if (message?.type !== WORKER_READY) return;
      ready.add(worker);
      log.info({ worker: (slots.get(worker)?.slot ?? 0) + 1, pid: worker.process.pid }, 'worker listening');
      if (!started && ready.size === count) {
        started = true;
        options.onReady(message as WorkerReady).catch((err: unknown) => {
          log.error({ err }, 'start-up failed');
          exitCode = 1;
          stop('SIGTERM', 'start-up failed');
        });
      }
    });
    cluster.on('exit', (worker, code, signal) => {
      ready.delete(worker);
      const { slot, at } = slots.get(worker) ?? { slot: 0, at: 0 };
      slots.delete(worker);
      if (stopping) {
        if (code !== 0) exitCode = 1;
        log.info({ worker: slot + 1, pid: worker.process.pid, code, signal }, 'worker stopped');
        finish();
        return;
      }
      if (!started) {
        log.error({ worker: slot + 1, pid: worker.process.pid, code, signal }, 'a worker failed to start: stopping');
        exitCode = 1;
        stop('SIGTERM', 'a worker failed to start');
        return;
      }
      failures[slot] = Date.now() - at > 30_000 ? 1 : failures[slot]! + 1;
      const delay = Math.min(10_000, 100 * 2 ** failures[slot]!);
      log.warn({ worker: slot + 1, pid: worker.process.pid, code, signal, restartIn: delay }, 'worker died: restarting it');
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delay);
    });

    process.on('SIGTERM', () => stop('SIGTERM', 'SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT', 'SIGINT'));
    if (options.metricsPort) {
      startAdminServer({ ...options.metricsPort, text: () => metrics.text() }).then((server) => {
        admin = server;
        if (stopping) stopAdminServer(server).catch(() => undefined);
      }, (err: Error) => {
        log.error({ err: { message: err.message } }, 'the metrics port cannot be opened');
        exitCode = 1;
        stop('SIGTERM', 'metrics port');
      });
    }
    for (let slot = 0; slot < count; slot++) fork(slot);
  });
}
