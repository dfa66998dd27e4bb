/**
 * Loads the configuration: CLI flags > environment (`SLUICE_*`) > config file > defaults, then
 * validates it. A bad value stops start-up with one line naming the key, the value, where it came
 * from and what was expected ({@link ConfigError}).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve, extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { configSchema, type Config } from './schema.ts';
import { readEnv } from './env.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadOptions {
  /** Flag values by configuration path, e.g. `{ 'server.port': '3400' }`. */
  readonly flags?: Readonly<Record<string, unknown>>;
  readonly env?: NodeJS.ProcessEnv;
  /** Explicit config file (`--config`); otherwise `sluice.config.*` in `cwd` when present. */
  readonly file?: string;
  readonly cwd?: string;
}

const FILE_NAMES = ['sluice.config.ts', 'sluice.config.js', 'sluice.config.mjs', 'sluice.config.json', 'sluice.config.yaml', 'sluice.config.yml'];

/** @example const config = await loadConfig({ flags: { 'database.url': 'sqlite:shop.db' } }) */
export async function loadConfig(options: LoadOptions = {}): Promise<{ config: Config; file: string | undefined }> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const sources = new Map<string, string>();
  const fileName = options.file ?? env.SLUICE_CONFIG ?? FILE_NAMES.find((f) => existsSync(resolve(cwd, f)));
  const file = fileName ? resolve(cwd, fileName) : undefined;
  const merged: Record<string, unknown> = file ? await readConfigFile(file) : {};
  if (file) markSources(merged, '', `${fileName}`, sources);
  for (const [path, { value, source }] of readEnv(env)) setPath(merged, path, value, source, sources);
  for (const [path, value] of Object.entries(options.flags ?? {})) {
    if (value !== undefined) setPath(merged, path, value, `--${flagName(path)}`, sources);
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.join('.');
    // List items as users write them: rateLimits[1].window.
    const shown = issue.path.reduce<string>((out, k) => (typeof k === 'number' ? `${out}[${k}]` : out ? `${out}.${String(k)}` : String(k)), '');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
      const from = sources.get(keys[0]!) ?? [...sources].find(([p]) => p.startsWith(`${keys[0]}.`))?.[1];
      throw new ConfigError(`invalid configuration: unknown key ${issue.keys.map((k) => `'${shown ? `${shown}.${k}` : k}'`).join(', ')}${from ? ` (from ${from})` : ''}: expected one of the keys of the README's configuration reference`);
    }
    const value = getPath(merged, path);
    const source = sources.get(path);
    throw new ConfigError(`invalid configuration: ${shown} = ${JSON.stringify(value) ?? 'undefined'}${source ? ` (from ${source})` : ''}: ${issue.message}`);
  }
  return { config: result.data, file };
}

async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  if (!existsSync(file)) throw new ConfigError(`invalid configuration: config file ${file} does not exist`);
  const ext = extname(file);
  let data: unknown;
  try {
    if (ext === '.json') data = JSON.parse(readFileSync(file, 'utf8'));
    else if (ext === '.yaml' || ext === '.yml') data = parseYaml(readFileSync(file, 'utf8'));
    else if (ext === '.js' || ext === '.mjs' || ext === '.ts') data = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
    else throw new ConfigError(`invalid configuration: ${file}: expected a .json, .yaml, .yml, .js, .mjs or .ts file`);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`invalid configuration: cannot read ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError(`invalid configuration: ${file}: expected an object at the top level`);
  return structuredClone(data) as Record<string, unknown>;
}

function flagName(path: string): string {
  return { 'database.url': 'db', 'server.port': 'port', 'server.host': 'host', 'server.workers': 'workers' }[path] ?? path;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown, source: string, sources: Map<string, string>): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
  sources.set(path, source);
}

function getPath(target: unknown, path: string): unknown {
  let node = target;
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function markSources(node: unknown, prefix: string, source: string, sources: Map<string, string>): void {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) {
    sources.set(prefix, source);
    return;
  }
  for (const [k, v] of Object.entries(node)) markSources(v, prefix ? `${prefix}.${k}` : k, source, sources);
}
