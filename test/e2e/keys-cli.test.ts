/**
 * `sluice keys create|list|revoke|rotate` as a user runs them, in a child process against a
 * temporary SQLite file: the printed key authenticates, list never shows a secret, revoke and
 * rotate take effect, two processes can create the tables at once, and bad input stops with
 * one clear line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ApiKeyStore } from '../../src/auth/api-keys.ts';
import type { Database } from '../../src/db/database.ts';
import { SqliteDatabase } from '../../src/db/sqlite.ts';

const NODE = process.execPath;
const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const KEY = /sk_[A-Za-z0-9]{10}_[A-Za-z0-9_-]{43}/g;

const cwd = mkdtempSync(join(tmpdir(), 'sluice-keys-'));
const file = join(cwd, 'keys.db');

function sluice(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(NODE, [MAIN, 'keys', ...args, '--db', `sqlite:${file}`], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
}

/** Runs a command that must succeed and returns its stdout. */
function ok(args: string[]): string {
  const res = sluice(args);
  expect(res.stderr).toBe('');
  expect(res.status).toBe(0);
  return res.stdout;
}

/** The one key a create or rotate printed. */
function printedKey(out: string): string {
  const keys = out.match(KEY) ?? [];
  expect(keys).toHaveLength(1);
  return keys[0]!;
}

let db: Database;
/** A fresh store per check: nothing cached from an earlier step. */
const authenticate = (key: string) => new ApiKeyStore(db, { cacheTtl: 0, touchInterval: 0 }).authenticate(key);
const list = () => JSON.parse(ok(['list', '--json'])) as Array<Record<string, string | null>>;

beforeAll(async () => {
  // Three processes open a fresh file and create its tables at the same moment.
  const racers = [0, 1, 2].map(() => new Promise<number | null>((done) => {
    spawn(NODE, [MAIN, 'keys', 'list', '--db', `sqlite:${file}`], { cwd, stdio: 'ignore' }).on('exit', done);
  }));
  expect(await Promise.all(racers)).toEqual([0, 0, 0]);
  db = new SqliteDatabase({ path: file });
});
afterAll(() => db.close());

describe('sluice keys', () => {
  test('create prints the key once, and it authenticates with the role, tier and subject given', async () => {
    const out = ok(['create', '--role', 'service', '--name', 'billing', '--tier', 'gold', '--subject', '42', '--expires', '30d']);
    expect(out).toMatch(/will not be shown again/);
    const key = printedKey(out);
    const record = await authenticate(key);
    expect(record).toMatchObject({ name: 'billing', role: 'service', tier: 'gold', subject: '42', prefix: key.slice(0, 13) });
    const days = (Date.parse(record!.expiresAt!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
  });

  test('list shows every key with its status, and never a secret', async () => {
    const key = printedKey(ok(['create', '--role', 'admin']));
    const table = ok(['list']);
    expect(table.split('\n')[0]).toMatch(/^ID\s+NAME\s+ROLE\s+PREFIX\s+TIER\s+SUBJECT\s+CREATED\s+EXPIRES\s+LAST USED\s+STATUS$/);
    expect(table).toMatch(new RegExp(`key_\\w{16}\\s+admin key\\s+admin\\s+${key.slice(0, 13)}\\s+-\\s+-\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+-\\s+-\\s+active`));
    expect(table).not.toContain(key.slice(14));
    const json = list();
    expect(json.find((k) => k.prefix === key.slice(0, 13))).toMatchObject({ role: 'admin', status: 'active', revokedAt: null });
    expect(JSON.stringify(json)).not.toContain(key.slice(14));
    expect(JSON.stringify(json)).not.toMatch(/hash/);
  });

  test('revoke by id or prefix makes the key fail', async () => {
    const key = printedKey(ok(['create', '--role', 'admin']));
    expect(await authenticate(key)).not.toBeNull();
    expect(ok(['revoke', key.slice(0, 13)])).toMatch(/^Revoked API key key_\w{16}/);
    expect(await authenticate(key)).toBeNull();
    expect(list().find((k) => k.prefix === key.slice(0, 13))).toMatchObject({ status: 'revoked' });
  });

  test('rotate prints a new key; the old one stops at once, or after --grace', async () => {
    const old = printedKey(ok(['create', '--role', 'reader', '--tier', 'free']));
    const id = (await authenticate(old))!.id;
    const out = ok(['rotate', id]);
    expect(out).toMatch(/will not be shown again/);
    expect(out).toMatch(/old key .* is revoked/);
    const fresh = printedKey(out);
    expect(await authenticate(fresh)).toMatchObject({ role: 'reader', tier: 'free' });
    expect(await authenticate(old)).toBeNull();

    const freshId = (await authenticate(fresh))!.id;
    const third = printedKey(ok(['rotate', freshId, '--grace', '1h']));
    expect(await authenticate(third)).not.toBeNull();
    expect(await authenticate(fresh)).toMatchObject({ id: freshId });
  });

  test.each([
    [['create'], /^sluice: keys create needs --role <role>/],
    [['create', '--role', 'admin', '--expires', 'soon'], /^sluice: invalid --expires 'soon': expected a duration such as 30d/],
    [['create', '--role', 'admin', '--expires', '2001-01-01'], /^sluice: invalid --expires '2001-01-01': .* is not in the future/],
    [['revoke', 'key_nope'], /^sluice: no API key with id or prefix 'key_nope'/],
    [['rotate', 'key_nope'], /^sluice: no API key with id or prefix 'key_nope'/],
    [['rotate', 'key_nope', '--grace', 'a while'], /^sluice: invalid --grace 'a while'/],
  ])('%j exits non-zero with one clear line', (args, message) => {
    const res = sluice(args);
    expect(res.status).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr.trim()).toMatch(message);
  });

  test('with auth.apiKeys.enabled false the commands refuse with exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-keys-off-'));
    writeFileSync(join(dir, 'sluice.config.json'), JSON.stringify({ auth: { apiKeys: { enabled: false } } }));
    const res = spawnSync(NODE, [MAIN, 'keys', 'list', '--db', `sqlite:${join(dir, 'x.db')}`], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(res.status).toBe(2);
    expect(res.stderr.trim()).toBe('sluice: API keys are disabled (auth.apiKeys.enabled is false): enable them to manage keys');
  });

  test.each([['create'], ['list'], ['revoke'], ['rotate']])('keys %s --help prints usage', (command) => {
    const res = spawnSync(NODE, [MAIN, 'keys', command, '--help'], { cwd, encoding: 'utf8', timeout: 30_000 });
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^Usage: sluice keys ${command}`));
    expect(res.stdout).toContain('--db <url>');
  });
});
