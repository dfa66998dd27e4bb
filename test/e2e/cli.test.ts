/**
 * The `sluice` command as a user runs it, in a child process: the demo is created, seeded and
 * served; the example requests it prints answer; bad configuration stops start-up with one line;
 * SIGTERM stops it cleanly; --help and --version work on every command.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

const NODE = process.execPath;
const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

function sluice(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  return spawnSync(NODE, [MAIN, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, encoding: 'utf8', timeout: 30_000 });
}

/** Starts `sluice serve` and resolves with its stdout once the banner's examples are printed. */
function serve(args: string[], cwd: string): Promise<{ child: ChildProcess; banner: string }> {
  const child = spawn(NODE, [MAIN, 'serve', '--port', '0', ...args], { cwd, env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' } });
  children.push(child);
  return new Promise((done, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`no banner within 30 s:\n${out}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/(writes need the admin key|Callers need credentials|Anonymous callers have role)[^]*\n$/.test(out)) {
        clearTimeout(timer);
        done({ child, banner: out });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => fail(new Error(`exited with ${code}:\n${out}`)));
  });
}

describe('sluice serve with no database', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-cli-'));

  test('creates and seeds sluice-demo.db, prints the API and docs URLs and three examples that answer', async () => {
    const { child, banner } = await serve([], cwd);
    expect(existsSync(join(cwd, 'sluice-demo.db'))).toBe(true);
    expect(banner).toContain('serving the demo shop in ./sluice-demo.db (created and seeded just now)');
    const api = /API\s+(http:\/\/\S+)/.exec(banner)![1]!;
    expect(/Docs\s+(http:\/\/\S+)/.exec(banner)![1]).toBe(api.replace('/api/v1', '/docs'));
    const examples = [...banner.matchAll(/curl '([^']+)'/g)].map((m) => m[1]!);
    expect(examples).toHaveLength(3);
    for (const url of examples) {
      const res = await fetch(url);
      expect(res.status, url).toBe(200);
      const body = (await res.json()) as { data: unknown };
      expect(Array.isArray(body.data) ? body.data.length : 1, url).toBeGreaterThan(0);
    }
    const counts = await Promise.all(['customers', 'products', 'orders', 'order_items'].map(async (r) => {
      const res = await fetch(`${api}/${r}?count=exact&limit=0`);
      return ((await res.json()) as { pagination: { total: number } }).pagination.total;
    }));
    expect(counts).toEqual([1000, 200, 10000, 25000]);
    expect((await fetch(api.replace('/api/v1', '/health/ready'))).status).toBe(200);

    // Anonymous callers read; writes need the admin key the banner printed.
    const patch = (headers: Record<string, string>) => fetch(`${api}/orders/1`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...headers }, body: '{"status":"shipped"}' });
    expect((await patch({})).status).toBe(403);
    const key = /Bearer (sk_\S+)'/.exec(banner)![1]!;
    const written = await patch({ authorization: `Bearer ${key}` });
    expect(written.status).toBe(200);
    expect(((await written.json()) as { data: { status: string } }).data.status).toBe('shipped');

    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  test('a second start reuses the demo database', async () => {
    const { child, banner } = await serve([], cwd);
    expect(banner).toContain('serving the demo shop in ./sluice-demo.db');
    expect(banner).not.toContain('created and seeded');
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});

describe('configuration errors stop start-up with one line naming key, value, source and expectation', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  test.each([
    [['serve'], { SLUICE_LIMITS_MAX_LIMIT: 'lots' }, /^sluice: invalid configuration: limits\.maxLimit = "lots" \(from SLUICE_LIMITS_MAX_LIMIT\): expected an integer/],
    [['serve', '--port', 'eighty'], {}, /^sluice: invalid configuration: server\.port = "eighty" \(from --port\): expected an integer from 0 to 65535/],
    [['serve', '--db', 'mongodb://x'], {}, /^sluice: invalid configuration: database\.url = "mongodb:\/\/x" \(from --db\): expected postgres/],
  ])('%j with %j', (args, env, message) => {
    const res = sluice(args, { cwd, env });
    expect(res.status).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr.trim()).toMatch(message);
  });

  test('a config file with an unknown key names the key and the file', () => {
    writeFileSync(join(cwd, 'sluice.config.json'), JSON.stringify({ limits: { maxLimt: 5 } }));
    const res = sluice(['serve'], { cwd });
    expect(res.status).toBe(2);
    expect(res.stderr.trim()).toBe("sluice: invalid configuration: unknown key 'limits.maxLimt' (from sluice.config.json): expected one of the keys of the README's configuration reference");
  });
});

describe('--help and --version', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  test.each([['--help'], ['serve', '--help'], ['openapi', '--help']])('%j prints usage', (...args) => {
    const res = sluice(args, { cwd });
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^Usage: sluice/);
  });
  test('--version prints the package version', () => {
    expect(sluice(['--version'], { cwd }).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
