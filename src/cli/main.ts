#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * The `sluice` command: `serve`, `openapi`, `keys`, `--help` and `--version` on every command.
 *
 * The shebang caps V8's young generation at 2 × 4 MB: under load it otherwise grows to 64 MB,
 * which made up most of the process's resident memory (185 → 133 MB under the benchmark with
 * 2 × 8 MB; 4 MB, with the settings of ./v8-flags.ts, another 148 → 137 MB at the same
 * throughput). Start `dist/cli/main.js` with the same flag when running it through `node`
 * directly.
 */
import './v8-flags.ts';
import { Command, Option } from 'commander';
import { VERSION } from '../version.ts';
import { ConfigError } from '../config/load.ts';
import { ENV_VARIABLES } from '../config/env.ts';
import { serveCommand } from './serve.ts';
import { openapiCommand } from './openapi.ts';
import { registerKeysCommand } from './keys.ts';

const program = new Command('sluice')
  .description('An instant, fast and secure REST API over PostgreSQL and SQLite.')
  .version(VERSION, '-v, --version')
  .showHelpAfterError()
  .addHelpText('after', `\nEnvironment (flags > environment > config file > defaults):\n${ENV_VARIABLES.map(([n, p]) => `  ${n.padEnd(40)} ${p}`).join('\n')}`);

const common = (cmd: Command) => cmd
  .option('--db <url>', 'database: postgres://…, sqlite:path (default: the seeded demo, ./sluice-demo.db)')
  .option('--config <file>', 'configuration file (default: sluice.config.{ts,js,json,yaml} in the working directory)')
  .addOption(new Option('--schemas <list>', 'PostgreSQL schemas to expose, comma-separated (default: public)'));

common(program.command('serve').description('serve the REST API (with no database: the seeded SQLite demo)'))
  .option('-p, --port <port>', 'port to listen on (default 8080)')
  .option('-H, --host <host>', 'address to listen on (default 127.0.0.1)')
  .option('-w, --workers <n>', "worker processes sharing the port: a number, or 'auto' for one per core (default 1)")
  .action(serveCommand);

common(program.command('openapi').description('print the OpenAPI 3.1 document of the database'))
  .action(openapiCommand);

registerKeysCommand(program.command('keys'), common);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`sluice: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`sluice: ${(err as Error).message}\n`);
  process.exit(1);
}
