/** `sluice serve`: start the API, print where it is, stop cleanly on SIGTERM and SIGINT. */
import { createSluice } from '../app.ts';
import { VERSION } from '../version.ts';
import { configFromFlags, DEMO_FILE, type CommonFlags } from './options.ts';

const NOT_YET = ['rateLimits'] as const;
const DEMO_KEY = 'demo-admin';

export async function serveCommand(flags: CommonFlags): Promise<void> {
  const { config, demo, created } = await configFromFlags(flags);
  const sluice = await createSluice({ config });
  const { app } = sluice;
  for (const key of NOT_YET) {
    if (config[key] !== undefined) app.log.warn(`configuration '${key}' is accepted but not enforced by this version of Sluice`);
  }
  if (config.redis.url && !config.cache.enabled) app.log.warn("configuration 'redis.url' is only used by the response cache (a 'cache' section) in this version of Sluice");
  if (config.database.replicas.length) app.log.warn("configuration 'database.replicas' is accepted but not used by this version of Sluice");

  // Signals are handled before anything is printed: a supervisor may stop us as soon as it sees the banner.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    sluice.close().then(() => process.exit(0), (err: unknown) => {
      app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await app.listen({ port: config.server.port, host: config.server.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const origin = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const api = `${origin}${config.server.basePath}`;
  const keys = sluice.engine.auth.keys;
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
  const what = demo ? `the demo shop in ./${DEMO_FILE}${created ? ' (created and seeded just now)' : ''}` : `${sluice.snapshot().resources.size} resources of a ${sluice.db.dialect} database`;
  process.stdout.write([
    `Sluice ${VERSION} serving ${what}`,
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
