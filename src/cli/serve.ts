/**
 * `sluice serve`: start the API (in N worker processes with `--workers`), print where it is, and
 * on SIGTERM/SIGINT drain and stop cleanly (src/ops/shutdown.ts, docs/operations.md).
 */
import cluster from 'node:cluster';
import { pino } from 'pino';
import { createSluice } from '../app.ts';
import type { Config } from '../config/schema.ts';
import { openDatabase } from '../db/open.ts';
import { ApiKeyStore } from '../auth/api-keys.ts';
import { shutdown } from '../ops/shutdown.ts';
import { runPrimary, workerCount, WORKER_READY, type WorkerReady } from '../ops/workers.ts';
import { REDACT_PATHS } from '../ops/request-log.ts';
import { startAdminServer } from '../metrics/admin-server.ts';
import { VERSION } from '../version.ts';
import { configFromFlags, DEMO_FILE, type CommonFlags } from './options.ts';
import { tuneHeapForLoad } from './v8-flags.ts';

const DEMO_KEY = 'demo-admin';

export async function serveCommand(flags: CommonFlags): Promise<void> {
  const { config, demo, created } = await configFromFlags(flags);
  const workers = workerCount(config.server.workers);
  if (workers > 1 && cluster.isPrimary) return servePrimary({ flags, config, demo, created, workers });
  const sluice = await createSluice({ config });
  const { app } = sluice;
  // Under --workers the first worker alone warns about the configuration.
  const warn = !cluster.isWorker || process.env.SLUICE_WORKER === '1';
  if (warn && config.redis.url && !config.cache.enabled && !config.rateLimits?.length) app.log.warn("configuration 'redis.url' is only used by the response cache (a 'cache' section) and rate limits ('rateLimits') in this version of Sluice");
  if (warn && config.database.replicas.length) app.log.warn("configuration 'database.replicas' is accepted but not used by this version of Sluice");

  // Signals are handled before anything is printed: a supervisor may stop us as soon as it sees the banner.
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    const { drainDelay, shutdownTimeout } = config.server;
    // Whatever hangs, the process ends: the bound a supervisor's grace period is sized for.
    setTimeout(() => process.exit(1), drainDelay + shutdownTimeout + 5000).unref();
    shutdown(sluice, { drainDelay, shutdownTimeout, log: app.log, reason }).then((code) => process.exit(code));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A worker whose primary is gone (killed) stops too, instead of serving on unsupervised.
  if (cluster.isWorker) process.on('disconnect', () => stop('disconnect'));
  await app.listen({ port: config.server.port, host: config.server.host });
  tuneHeapForLoad();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  if (cluster.isWorker) {
    const ready: WorkerReady = { type: WORKER_READY, port, resources: sluice.snapshot().resources.size, dialect: sluice.db.dialect };
    process.send?.(ready);
    return;
  }
  const metrics = sluice.ops.metrics;
  if (metrics && config.metrics.port) {
    await startAdminServer({ port: config.metrics.port, host: config.metrics.host ?? config.server.host, text: () => metrics.registry.metrics() });
  }
  const what = demo ? undefined : `${sluice.snapshot().resources.size} resources of a ${sluice.db.dialect} database`;
  await printBanner({ flags, config, demo, created, port, keys: sluice.engine.auth.keys, what });
}

interface BannerOptions {
  readonly flags: CommonFlags;
  readonly config: Config;
  readonly demo: boolean;
  readonly created: boolean;
  readonly port: number;
  readonly keys: ApiKeyStore | null;
  /** What is served (undefined: the demo). */
  readonly what: string | undefined;
  readonly workers?: number;
}

async function printBanner({ flags, config, demo, created, port, keys, what: served, workers }: BannerOptions): Promise<void> {
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const origin = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const api = `${origin}${config.server.basePath}`;
  let access: string[];
  if (demo && keys) {
    // A fresh admin key each start (keys are stored only as hashes, so an old one cannot be shown).
    for (const old of await keys.list()) if (old.name === DEMO_KEY && !old.revokedAt) await keys.revoke(old.id);
    const { key } = await keys.create({ name: DEMO_KEY, role: config.auth.adminRole });
    access = [
      'Anyone may read; writes need the admin key (valid until the next start):',
      `  curl -X PATCH -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d '{"status":"shipped"}' '${api}/orders/1'`,
    ];
  } else if (!config.auth.anonRole) {
    access = [
      'Callers need credentials: no anonymous role is configured (auth.anonRole).',
      `Create an API key:  sluice keys create --role ${config.auth.adminRole}${flags.db ? ` --db '${flags.db}'` : ''}`,
    ];
  } else {
    access = [`Anonymous callers have role '${config.auth.anonRole}'; other roles need an API key or a JWT.`];
  }
  const what = served ?? `the demo shop in ./${DEMO_FILE}${created ? ' (created and seeded just now)' : ''}`;
  process.stdout.write([
    `Sluice ${VERSION} serving ${what}${workers ? ` with ${workers} worker processes` : ''}`,
    `  API   ${api}`,
    `  Docs  ${origin}/docs`,
    'Try:',
    `  curl '${api}/orders?status=paid&sort=-total&limit=3'`,
    `  curl '${api}/orders/1?include=customer,items.product'`,
    `  curl '${api}/customers?country=DE&fields=id,name&include=orders&orders.limit=2&orders.sort=-total'`,
    ...access,
    '',
  ].join('\n'));
}

/**
 * The primary of `--workers N`: forks the workers, prints the banner once all of them listen
 * (creating the demo's admin key with a connection of its own), and exits when they have stopped.
 */
async function servePrimary(options: { flags: CommonFlags; config: Config; demo: boolean; created: boolean; workers: number }): Promise<void> {
  const { config, workers } = options;
  const log = pino({ level: config.log.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
  const code = await runPrimary({
    count: workers, log, drainDelay: config.server.drainDelay, shutdownTimeout: config.server.shutdownTimeout,
    metricsPort: config.metrics.enabled && config.metrics.port ? { port: config.metrics.port, host: config.metrics.host ?? config.server.host } : null,
    onReady: async (ready) => {
      const db = openDatabase(config.database);
      const { apiKeys } = config.auth;
      const keys = options.demo && apiKeys.enabled ? new ApiKeyStore(db, { cacheTtl: apiKeys.cacheTtl, touchInterval: apiKeys.touchInterval }) : null;
      try {
        const what = options.demo ? undefined : `${ready.resources} resources of a ${ready.dialect} database`;
        await printBanner({ ...options, port: ready.port, keys, what, workers });
      } finally {
        await keys?.close();
        await db.close();
      }
    },
  });
  process.exit(code);
}
