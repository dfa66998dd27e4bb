/** Maps CLI flags onto configuration paths and loads the configuration. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { seedDemo } from '../demo/seed.ts';

export interface CommonFlags {
  db?: string;
  config?: string;
  schemas?: string;
  port?: string;
  host?: string;
  workers?: string;
}

export const DEMO_FILE = 'sluice-demo.db';

export async function configFromFlags(flags: CommonFlags): Promise<{ config: Config; demo: boolean; created: boolean }> {
  const { config } = await loadConfig({
    file: flags.config,
    flags: { 'database.url': flags.db, 'database.schemas': flags.schemas, 'server.port': flags.port, 'server.host': flags.host, 'server.workers': flags.workers },
  });
  if (config.database.url !== '') return { config, demo: false, created: false };
  const path = resolve(DEMO_FILE);
  const created = !existsSync(path);
  if (created) seedDemo(path);
  // The demo (SPEC §1): anyone reads every table; writes need the admin key printed at start.
  const roles = config.roles ?? { anon: { '*': { read: true } } };
  const auth = { ...config.auth, anonRole: config.auth.anonRole ?? (config.roles ? undefined : 'anon') };
  return { config: { ...config, auth, roles, database: { ...config.database, url: `sqlite:${path}` } }, demo: true, created };
}
