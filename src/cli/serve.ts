/** `sluice serve`: start the API, print where it is, stop cleanly on SIGTERM and SIGINT. */
import { createSluice } from '../app.ts';
import { VERSION } from '../version.ts';
import { configFromFlags, DEMO_FILE, type CommonFlags } from './options.ts';

const NOT_YET = ['auth', 'roles', 'rateLimits', 'cache'] as const;

export async function serveCommand(flags: CommonFlags): Promise<void> {
  const { config, demo, created } = await configFromFlags(flags);
  const sluice = await createSluice({ config });
  const { app } = sluice;
  for (const key of NOT_YET) {
    if (config[key] !== undefined) app.log.warn(`configuration '${key}' is accepted but not enforced by this version of Sluice`);
  }
  if (config.redis.url) app.log.warn("configuration 'redis.url' is accepted but not used by this version of Sluice");
  if (config.database.replicas.length) app.log.warn("configuration 'database.replicas' is accepted but not used by this version of Sluice");

  await app.listen({ port: config.server.port, host: config.server.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const origin = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const api = `${origin}${config.server.basePath}`;
  const what = demo ? `the demo shop in ./${DEMO_FILE}${created ? ' (created and seeded just now)' : ''}` : `${sluice.snapshot().resources.size} resources of a ${sluice.db.dialect} database`;
  process.stdout.write([
    `Sluice ${VERSION} serving ${what}`,
    `  API   ${api}`,
    `  Docs  ${origin}/docs`,
    'Try:',
    `  curl '${api}/orders?status=paid&sort=-total&limit=3'`,
    `  curl '${api}/orders/1?include=customer,items.product'`,
    `  curl '${api}/customers?country=DE&fields=id,name&include=orders&orders.limit=2&orders.sort=-total'`,
    'Every caller has full access in this version (API keys, JWT and role policies come with the security capability).',
    '',
  ].join('\n'));

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
}
