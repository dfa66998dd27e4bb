/**
 * Puts together the operations side of one Sluice instance from its configuration: the process
 * metrics (loaded only when `metrics.enabled`), traces (only with OTEL_EXPORTER_OTLP_ENDPOINT),
 * the load shedder, the drain state, the database wrapper that times statements, and what
 * `/metrics` answers on the API port (this process's registry, or under `--workers` the whole
 * cluster's, through the primary).
 */
import cluster from 'node:cluster';
import type { Config } from '../config/schema.ts';
import type { Database } from '../db/database.ts';
import type { PoolSource, ProcessMetrics } from '../metrics/instruments.ts';
import { Lifecycle } from './lifecycle.ts';
import { LoadShedder } from './load-shedding.ts';
import type { Observers } from './observe.ts';
import { startTracing } from './tracing.ts';
import { TimedDatabase, poolStats } from '../metrics/timed-database.ts';

export interface Ops {
  readonly lifecycle: Lifecycle;
  readonly observers: Observers;
  /** The process's metrics, or null with `metrics.enabled` off. */
  readonly metrics: ProcessMetrics | null;
  /** The database as the engine should use it: timed when metrics or Server-Timing are on. */
  database(db: Database): Database;
  /** Exports the last spans and lets go of the pool gauges. */
  close(): Promise<void>;
}

/** @example const ops = await opsFor(config); const db = ops.database(openDatabase(config.database)) */
export async function opsFor(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<Ops> {
  const metrics = config.metrics.enabled ? (await import('../metrics/instruments.ts')).processMetrics() : null;
  let metricsText: (() => Promise<string>) | null = null;
  if (metrics) {
    // A worker answers the primary's collections whether or not /metrics is on the API port.
    const ask = cluster.isWorker ? (await import('../metrics/cluster.ts')).workerMetrics(metrics.registry) : () => metrics.registry.metrics();
    if (config.metrics.port === 0) metricsText = ask;
  }
  const tracing = await startTracing(env);
  const { loadShedding } = config.server;
  const shedder = loadShedding.maxEventLoopDelay > 0 ? new LoadShedder({ maxEventLoopDelay: loadShedding.maxEventLoopDelay, sampleInterval: loadShedding.sampleInterval }) : null;
  const observers: Observers = {
    metrics, metricsText, tracing, shedder,
    retryAfter: Math.max(1, Math.ceil(loadShedding.retryAfter / 1000)),
    logRequests: config.log.requests,
    timing: config.server.timing,
  };
  let pool: PoolSource | null = null;
  return {
    lifecycle: new Lifecycle(),
    observers,
    metrics,
    database(db) {
      if (!metrics && !config.server.timing) return db;
      if (metrics) metrics.pools.add((pool = { target: 'primary', stats: () => poolStats(db) }));
      return new TimedDatabase(db, { target: 'primary', histogram: metrics?.db ?? null, timing: config.server.timing });
    },
    async close() {
      if (pool) metrics?.pools.delete(pool);
      await tracing?.shutdown();
    },
  };
}
