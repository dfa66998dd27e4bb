/**
 * The process's Prometheus registry and every instrument Sluice exports (docs/operations.md lists
 * them). One per process, made on first use: Prometheus scrapes processes, and the rate limiter,
 * the breaker and the database wrapper report into the same registry as the HTTP shell. Loaded
 * only when `metrics.enabled` is on, so a server without metrics never loads prom-client.
 */
import { createRequire } from 'node:module';
import client from 'prom-client';
import { FastCounter, FastHistogram, type CounterSeries } from './fast-metrics.ts';
import { installSignals } from './signals.ts';

/** A database pool as the pool gauges see it (read at scrape time, never on the request path). */
export interface PoolSource {
  readonly target: string;
  stats(): { total: number; idle: number; waiting: number } | null;
}

export interface ProcessMetrics {
  readonly registry: client.Registry;
  /** `http_request_duration_seconds{method,route,status_code}` */
  readonly http: FastHistogram;
  /** `sluice_db_query_duration_seconds{target,operation}` */
  readonly db: FastHistogram;
  /** `sluice_cache_results_total{result}`, by X-Cache value. */
  readonly cache: Readonly<Record<'HIT' | 'MISS' | 'STALE' | 'BYPASS', CounterSeries>>;
  /** Requests between their first hook and the close of their response. */
  inFlight: number;
  readonly pools: Set<PoolSource>;
}

/** Seconds; from 1 ms, since a cached or primary-key read takes about that. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DB_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

let made: ProcessMetrics | undefined;

/**
 * prom-client's default process metrics, except `nodejs_gc_duration_seconds`: its
 * PerformanceObserver runs JavaScript on every garbage collection, hundreds per second under
 * load, and raised the peak RSS of a primary-key load by ~5 MB (three alternating runs each,
 * 130.7 vs 136.3 MB). prom-client offers no switch for one collector, so they are called one by
 * one; should its layout change, all of them are collected as before.
 */
function defaultMetrics(registry: client.Registry): void {
  const collectors = client.collectDefaultMetrics.metricsList.filter((name) => name !== 'gc');
  try {
    const load = createRequire(import.meta.url);
    const found = collectors.map((name) => load(`prom-client/lib/metrics/${name}`) as (registry: client.Registry, config: object) => void);
    for (const collect of found) collect(registry, { register: registry, eventLoopMonitoringPrecision: 10 });
  } catch {
    client.collectDefaultMetrics({ register: registry });
  }
}

/** @example const m = processMetrics(); m.http.series({ method: 'GET', route: '/health/live', status_code: '200' }).observe(0.001) */
export function processMetrics(): ProcessMetrics {
  if (made) return made;
  const registry = new client.Registry();
  defaultMetrics(registry);

  const http = new FastHistogram('http_request_duration_seconds', 'Time from the first byte of a request to the end of its response, by method, route template and status code.', HTTP_BUCKETS);
  const db = new FastHistogram('sluice_db_query_duration_seconds', 'Time of database statements, by target and operation (query, write, transaction, stream).', DB_BUCKETS);
  const cacheResults = new FastCounter('sluice_cache_results_total', 'Reads answered by the response cache, by result (the X-Cache header: hit, miss, stale, bypass).');
  const cache = {
    HIT: cacheResults.series({ result: 'hit' }), MISS: cacheResults.series({ result: 'miss' }),
    STALE: cacheResults.series({ result: 'stale' }), BYPASS: cacheResults.series({ result: 'bypass' }),
  };
  const rateLimited = new FastCounter('sluice_rate_limit_rejections_total', 'Requests refused with 429, by the name of the rate limit that refused them.');
  for (const metric of [http, db, cacheResults, rateLimited]) registry.registerMetric(metric.asMetric());

  const pools = new Set<PoolSource>();
  const metrics: ProcessMetrics = { registry, http, db, cache, inFlight: 0, pools };

  new client.Gauge({
    name: 'http_requests_in_flight', help: 'Requests being served now.', registers: [registry],
    collect() { this.set(metrics.inFlight); },
  });
  const poolStats = () => [...pools].map((p) => ({ target: p.target, stats: p.stats() })).filter((p) => p.stats !== null);
  new client.Gauge({
    name: 'sluice_db_pool_connections', help: 'Connections of the database pool, by target and state (total, idle).', labelNames: ['target', 'state'], registers: [registry],
    collect() {
      this.reset();
      for (const { target, stats } of poolStats()) {
        this.inc({ target, state: 'total' }, stats!.total);
        this.inc({ target, state: 'idle' }, stats!.idle);
      }
    },
  });
  new client.Gauge({
    name: 'sluice_db_pool_waiting', help: 'Requests waiting for a database connection, by target.', labelNames: ['target'], registers: [registry],
    collect() {
      this.reset();
      for (const { target, stats } of poolStats()) this.inc({ target }, stats!.waiting);
    },
  });
  // Several workers: the highest value says whether any of them is in that state.
  const fallback = new client.Gauge({ name: 'sluice_rate_limit_fallback', help: '1 while rate limits count in the process because Redis failed, else 0.', registers: [registry], aggregator: 'max' });
  fallback.set(0);
  const breaker = new client.Gauge({ name: 'sluice_circuit_breaker_state', help: 'Circuit breaker state by database target: 0 closed, 1 half-open, 2 open.', labelNames: ['target'], registers: [registry], aggregator: 'max' });
  // No breaker is built yet: the primary is always reached (closed).
  breaker.set({ target: 'primary' }, 0);

  const limits = new Map<string, CounterSeries>();
  installSignals({
    rateLimitRejected(limit) {
      let series = limits.get(limit);
      if (!series) limits.set(limit, (series = rateLimited.series({ limit })));
      series.inc();
    },
    rateLimitFallback(active) { fallback.set(active ? 1 : 0); },
    circuitBreakerState(target, state) { breaker.set({ target }, state === 'open' ? 2 : state === 'half-open' ? 1 : 0); },
  });
  made = metrics;
  return metrics;
}
