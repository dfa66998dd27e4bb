/**
 * Configuration loading (SPEC §1): CLI flags > environment (SLUICE_*) > config file > defaults;
 * human units; every invalid value stops start-up with one line naming the key, the value, where
 * it came from and what was expected.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ConfigError, loadConfig, type LoadOptions } from '../../src/config/load.ts';
import { ENV_VARIABLES, envName, readEnv } from '../../src/config/env.ts';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory in the OS temp dir holding `files`; returns its path. */
function dirWith(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
  made.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Loads with an isolated environment: nothing of the real process leaks in. */
function load(files: Record<string, string> = {}, options: Omit<LoadOptions, 'cwd'> = {}) {
  return loadConfig({ env: {}, ...options, cwd: dirWith(files) });
}

async function failure(files: Record<string, string>, options: Omit<LoadOptions, 'cwd'> = {}): Promise<string> {
  const err = await load(files, options).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  const message = (err as ConfigError).message;
  expect(message).not.toContain('\n');
  return message;
}

const PORT_3000: Record<string, string> = {
  'sluice.config.json': JSON.stringify({ server: { port: 3000 }, limits: { maxLimit: 50 } }),
  'sluice.config.yaml': 'server:\n  port: 3000\nlimits: { maxLimit: 50 }\n',
  'sluice.config.js': 'export default { server: { port: 3000 }, limits: { maxLimit: 50 } };\n',
  'sluice.config.ts': 'const config: Record<string, unknown> = { server: { port: 3000 }, limits: { maxLimit: 50 } };\nexport default config;\n',
};

describe('defaults', () => {
  test('with no file, environment or flags every key has its documented default', async () => {
    const { config, file } = await load();
    expect(file).toBeUndefined();
    expect(config.server).toMatchObject({ port: 8080, basePath: '/api/v1' });
    expect(config.limits).toMatchObject({ defaultLimit: 25, maxLimit: 1000, maxDepth: 3, maxBatch: 1000, maxAffected: 10_000, bodySize: 1024 * 1024 });
    expect(config.database).toMatchObject({ url: '', schemas: ['public'], replicas: [], pool: { max: 10, acquireTimeout: 2000, statementTimeout: 5000 } });
    expect(config.redis.url).toBeUndefined();
  });
});

describe('precedence: flags > environment > file > defaults', () => {
  test.each(Object.keys(PORT_3000))('%s in the working directory is read', async (name) => {
    const cwd = dirWith({ [name]: PORT_3000[name]! });
    const { config, file } = await loadConfig({ cwd, env: {} });
    expect(file).toBe(join(cwd, name));
    expect(config.server.port).toBe(3000);
    expect(config.limits.maxLimit).toBe(50);
    expect(config.limits.maxDepth).toBe(3);
  });

  test('the environment overrides the file key by key; what it leaves alone stays from the file', async () => {
    const { config } = await load({ 'sluice.config.yaml': PORT_3000['sluice.config.yaml']! }, { env: { SLUICE_PORT: '4000', SLUICE_LIMITS_MAX_DEPTH: '5' } });
    expect(config.server.port).toBe(4000);
    expect(config.limits.maxDepth).toBe(5);
    expect(config.limits.maxLimit).toBe(50);
  });

  test('flags override the environment and the file', async () => {
    const { config } = await load({ 'sluice.config.json': PORT_3000['sluice.config.json']! }, {
      env: { SLUICE_PORT: '4000', SLUICE_LIMITS_MAX_LIMIT: '60' }, flags: { 'server.port': '5000' },
    });
    expect(config.server.port).toBe(5000);
    expect(config.limits.maxLimit).toBe(60);
  });

  test('a flag given as undefined does not hide the environment', async () => {
    const { config } = await load({}, { env: { SLUICE_PORT: '4000' }, flags: { 'server.port': undefined } });
    expect(config.server.port).toBe(4000);
  });

  test('an empty environment variable counts as unset', async () => {
    const { config } = await load({ 'sluice.config.json': PORT_3000['sluice.config.json']! }, { env: { SLUICE_PORT: '' } });
    expect(config.server.port).toBe(3000);
  });

  test('a more specific source can repair a bad value of a less specific one', async () => {
    const { config } = await load({ 'sluice.config.yaml': 'limits: { maxLimit: 0 }\n' }, { env: { SLUICE_LIMITS_MAX_LIMIT: '10' } });
    expect(config.limits.maxLimit).toBe(10);
  });

  test('SPEC §1 variables: SLUICE_DATABASE_URL, SLUICE_REDIS_URL, SLUICE_PORT (and its long form)', async () => {
    const { config } = await load({}, { env: { SLUICE_DATABASE_URL: 'postgres://app@db/shop', SLUICE_REDIS_URL: 'redis://127.0.0.1:6379', SLUICE_SERVER_PORT: '8181' } });
    expect(config.database.url).toBe('postgres://app@db/shop');
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.server.port).toBe(8181);
    expect((await load({}, { env: { SLUICE_PORT: '8282' } })).config.server.port).toBe(8282);
  });

  test('lists come from comma-separated environment values', async () => {
    const { config } = await load({}, { env: { SLUICE_DATABASE_SCHEMAS: 'public, sales', SLUICE_DATABASE_REPLICAS: 'postgres://r1/shop,postgres://r2/shop' } });
    expect(config.database.schemas).toEqual(['public', 'sales']);
    expect(config.database.replicas).toEqual(['postgres://r1/shop', 'postgres://r2/shop']);
  });

  test('an explicit file (--config, or SLUICE_CONFIG) is read instead of discovery', async () => {
    const cwd = dirWith({ 'other.yaml': 'server: { port: 3300 }\n', 'sluice.config.json': PORT_3000['sluice.config.json']! });
    expect((await loadConfig({ cwd, env: {}, file: 'other.yaml' })).config.server.port).toBe(3300);
    expect((await loadConfig({ cwd, env: { SLUICE_CONFIG: 'other.yaml' } })).config.server.port).toBe(3300);
  });
});

describe('human units', () => {
  test.each<[string | number, number]>([
    ['500ms', 500], ['2s', 2000], ['1.5s', 1500], ['15m', 900_000], ['1h', 3_600_000], ['1d', 86_400_000], ['250', 250], [750, 750],
  ])('duration %j → %d ms', async (value, ms) => {
    const { config } = await load({ 'sluice.config.json': JSON.stringify({ database: { pool: { statementTimeout: value } } }) });
    expect(config.database.pool.statementTimeout).toBe(ms);
  });

  test.each<[string | number, number]>([
    ['512kb', 512 * 1024], ['1mb', 1024 ** 2], ['2MB', 2 * 1024 ** 2], ['1gb', 1024 ** 3], ['100', 100], [2048, 2048],
  ])('size %j → %d bytes', async (value, bytes) => {
    const { config } = await load({}, { env: { SLUICE_LIMITS_BODY_SIZE: String(value) } });
    expect(config.limits.bodySize).toBe(bytes);
  });
});

describe('invalid values stop start-up with one line: key, value, source, expectation', () => {
  test.each<[string, Record<string, string>, Omit<LoadOptions, 'cwd'>, string, string, string, string]>([
    ['port from the environment', {}, { env: { SLUICE_PORT: 'abc' } }, 'server.port', '"abc"', 'SLUICE_PORT', 'expected an integer from 0 to 65535'],
    ['port from a flag', {}, { flags: { 'server.port': '70000' } }, 'server.port', '"70000"', '--port', 'expected an integer from 0 to 65535'],
    ['database url from a flag', {}, { flags: { 'database.url': 'ftp://db/shop' } }, 'database.url', '"ftp://db/shop"', '--db', 'expected postgres://'],
    ['limit from yaml', { 'sluice.config.yaml': 'limits: { maxLimit: 0 }\n' }, {}, 'limits.maxLimit', '0', 'sluice.config.yaml', 'expected an integer from 1'],
    ['pool size from yaml', { 'sluice.config.yaml': 'database:\n  pool:\n    max: 0\n' }, {}, 'database.pool.max', '0', 'sluice.config.yaml', 'expected an integer from 1 to 1000'],
    ['duration from the environment', {}, { env: { SLUICE_DATABASE_POOL_ACQUIRE_TIMEOUT: 'soon' } }, 'database.pool.acquireTimeout', '"soon"', 'SLUICE_DATABASE_POOL_ACQUIRE_TIMEOUT', 'expected a duration'],
    ['negative duration from json', { 'sluice.config.json': '{"database":{"pool":{"statementTimeout":-5}}}' }, {}, 'database.pool.statementTimeout', '-5', 'sluice.config.json', 'expected a duration'],
    ['duration of the wrong type from json', { 'sluice.config.json': '{"server":{"requestTimeout":true}}' }, {}, 'server.requestTimeout', 'true', 'sluice.config.json', 'expected a duration'],
    ['size from json', { 'sluice.config.json': '{"limits":{"bodySize":"huge"}}' }, {}, 'limits.bodySize', '"huge"', 'sluice.config.json', 'expected a size'],
    ['fractional port from json', { 'sluice.config.json': '{"server":{"port":80.5}}' }, {}, 'server.port', '80.5', 'sluice.config.json', 'expected an integer'],
    ['list of numbers from json', { 'sluice.config.json': '{"database":{"replicas":[1]}}' }, {}, 'database.replicas', '[1]', 'sluice.config.json', 'expected a list of strings'],
    ['log level from the environment', {}, { env: { SLUICE_LOG_LEVEL: 'verbose' } }, 'log.level', '"verbose"', 'SLUICE_LOG_LEVEL', 'expected one of fatal, error, warn, info'],
    ['base path from a flag', {}, { flags: { 'server.basePath': 'api/' } }, 'server.basePath', '"api/"', '--server.basePath', 'expected a path such as /api/v1'],
    ['section that is not an object', { 'sluice.config.yaml': 'server: 5\n' }, {}, 'server', '5', 'sluice.config.yaml', 'expected object'],
    ['value with a line break', { 'sluice.config.json': '{"log":{"level":"a\\nb"}}' }, {}, 'log.level', '"a\\nb"', 'sluice.config.json', 'expected one of'],
  ])('%s', async (_label, files, options, key, value, source, expected) => {
    const message = await failure(files, options);
    expect(message).toContain(`${key} = ${value}`);
    expect(message).toContain(`(from ${source})`);
    expect(message).toContain(expected);
  });
});

describe('unknown keys are rejected', () => {
  test.each<[string, string, string]>([
    ['limits.maxLimt', 'sluice.config.yaml', 'limits: { maxLimt: 5 }\n'],
    ['colour', 'sluice.config.json', '{"colour":"red"}'],
    ['database.pool.size', 'sluice.config.yaml', 'database:\n  pool: { size: 3 }\n'],
  ])('%s in %s', async (key, name, text) => {
    const message = await failure({ [name]: text });
    expect(message).toContain(`'${key}'`);
    expect(message).toContain(name);
  });

  test('an unknown key given as a flag is blamed on the flag, not on the config file', async () => {
    const message = await failure({ 'sluice.config.yaml': 'server: { port: 3000 }\n' }, { flags: { 'limits.maxLimt': 5 } });
    expect(message).toContain('limits.maxLimt');
    expect(message).toContain('--limits.maxLimt');
    expect(message).not.toContain('sluice.config.yaml');
  });
});

describe('unreadable files stop start-up with one line naming the file', () => {
  test.each<[string, string]>([
    ['sluice.config.yaml', 'server: [\n'],
    ['sluice.config.json', '{"server":'],
    ['sluice.config.json', '[1, 2]'],
  ])('%s containing %j', async (name, text) => {
    expect(await failure({ [name]: text })).toContain(name);
  });

  test('an explicit file that does not exist', async () => {
    expect(await failure({}, { file: 'missing.yaml' })).toContain('missing.yaml');
  });

  test('an explicit file of an unsupported kind', async () => {
    expect(await failure({ 'sluice.toml': 'port = 1\n' }, { file: 'sluice.toml' })).toContain('sluice.toml');
  });
});

describe('environment variable names', () => {
  test.each<[string, string]>([
    ['database.url', 'SLUICE_DATABASE_URL'],
    ['redis.url', 'SLUICE_REDIS_URL'],
    ['server.port', 'SLUICE_SERVER_PORT'],
    ['limits.maxLimit', 'SLUICE_LIMITS_MAX_LIMIT'],
    ['limits.maxStreamRows', 'SLUICE_LIMITS_MAX_STREAM_ROWS'],
    ['database.pool.acquireTimeout', 'SLUICE_DATABASE_POOL_ACQUIRE_TIMEOUT'],
  ])('%s → %s', (path, name) => {
    expect(envName(path)).toBe(name);
  });

  test('every documented variable sets the configuration key it names', () => {
    for (const [name, path] of ENV_VARIABLES) {
      expect(readEnv({ [name]: 'v' }).get(path)).toEqual({ value: 'v', source: name });
      if (name !== 'SLUICE_PORT' && name !== 'SLUICE_HOST') expect(name).toBe(envName(path));
    }
  });

  test('variables outside the list are not read', () => {
    expect(readEnv({ SLUICE_LIMITS_MAXLIMIT: '5', PORT: '1' }).size).toBe(0);
  });
});
