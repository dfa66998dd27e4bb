/**
 * SPEC §8 `sluice serve --workers N`, real processes: N workers share the port and all of them
 * serve; the banner prints once; `/metrics` on the API port sums every worker (not the view of
 * the one that answered the scrape); a worker killed with SIGKILL is restarted while the others
 * keep serving; SIGTERM to the primary drains and stops every worker and exits 0 with none left
 * behind. Also the metrics port served by the primary, `--workers auto` and a bad count.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { freePort } from '../support/ports.ts';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteShop } from '../support/databases.ts';

const NODE = process.execPath;
const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const children = new Set<ChildProcess>();
const workerPids = new Set<number>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const pid of workerPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch { /* gone */ }
  }
  children.clear();
  workerPids.clear();
});

interface LogLine {
  msg: string;
  pid: number;
  [key: string]: unknown;
}

interface Cluster {
  child: ChildProcess;
  origin: string;
  stdout: () => string;
  logs: () => LogLine[];
  exit: Promise<number | null>;
  /** Waits until a log line matches. */
  until: (match: (l: LogLine) => boolean, what: string, timeout?: number) => Promise<LogLine>;
}

function cwdWithConfig(extra: Record<string, unknown> = {}): string {
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-workers-'));
  writeFileSync(join(cwd, 'sluice.config.json'), JSON.stringify({ database: { url: sqliteShop() }, auth: { anonRole: 'anon' }, roles: { anon: '*' }, ...extra }));
  return cwd;
}

async function startCluster(args: string[], cwd: string): Promise<Cluster> {
  const child = spawn(NODE, [MAIN, 'serve', '--port', '0', ...args], { cwd, env: { ...process.env, SLUICE_LOG_LEVEL: 'info', SLUICE_SERVER_DRAIN_DELAY: '300ms' } });
  children.add(child);
  let out = '';
  let err = '';
  const logs: LogLine[] = [];
  let partial = '';
  child.stdout!.on('data', (c: Buffer) => {
    const text = partial + c.toString();
    const lines = text.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('{')) {
        const parsed = JSON.parse(line) as LogLine;
        logs.push(parsed);
        if (parsed.msg === 'worker started') workerPids.add(parsed.pid as number);
      } else out += `${line}\n`;
    }
  });
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const until = async (match: (l: LogLine) => boolean, what: string, timeout = 30_000) => {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = logs.find(match);
      if (found) return found;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no log line '${what}':\n${out}\n${err}\n${logs.map((l) => JSON.stringify(l)).join('\n')}`);
      await sleep(25);
    }
  };
  const deadline = Date.now() + 60_000;
  while (!/Anonymous callers have role[^]*\n$/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the cluster did not start:\n${out}\n${err}`);
    await sleep(50);
  }
  const origin = /API\s+(http:\/\/\S+)/.exec(out)![1]!.replace('/api/v1', '');
  return { child, origin, stdout: () => out, logs: () => logs, exit, until };
}

/** One request on a connection of its own (so that the primary hands it to the next worker). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done({ status: res.statusCode!, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

const sample = (text: string, series: string) => Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.slice(series.length + 1) ?? 0);
const ORDERS_200 = 'http_request_duration_seconds_count{method="GET",route="/api/v1/orders/:id",status_code="200"}';
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('sluice serve --workers', () => {
  it('two workers serve, metrics sum both, a killed worker is restarted, SIGTERM stops all with exit 0', async () => {
    const c = await startCluster(['--workers', '2'], cwdWithConfig());
    expect(c.stdout().match(/Sluice \S+ serving/g)).toHaveLength(1);
    expect(c.stdout()).toContain('with 2 worker processes');
    expect(c.logs().filter((l) => l.msg === 'worker listening')).toHaveLength(2);

    const N = 40;
    for (let i = 0; i < N; i++) expect((await get(`${c.origin}/api/v1/orders/${1 + (i % 5)}`)).status).toBe(200);
    await sleep(50);
    const servers = new Set(c.logs().filter((l) => l.msg === 'request' && l.route === '/api/v1/orders/:id').map((l) => l.pid));
    expect(servers.size).toBe(2); // both workers took requests
    // Whichever worker answers the scrape, it shows all N requests.
    for (let i = 0; i < 4; i++) {
      const metrics = await get(`${c.origin}/metrics`);
      expect(metrics.status).toBe(200);
      expect(sample(metrics.body, ORDERS_200)).toBe(N);
      expect(sample(metrics.body, 'sluice_circuit_breaker_state{target="primary"}')).toBe(0);
    }

    const victim = c.logs().find((l) => l.msg === 'worker listening')!;
    const victimPid = victim.pid;
    process.kill(victimPid, 'SIGKILL');
    await c.until((l) => l.msg === 'worker died: restarting it' && l.signal === 'SIGKILL', 'worker died');
    // The other worker serves while the dead one is replaced.
    for (let i = 0; i < 10; i++) expect((await get(`${c.origin}/api/v1/orders/1`)).status).toBe(200);
    const replaced = await c.until((l) => l.msg === 'worker listening' && l.pid !== victimPid && l.worker === victim.worker, 'the replacement listening');
    expect(alive(replaced.pid)).toBe(true);
    for (let i = 0; i < 10; i++) expect((await get(`${c.origin}/api/v1/orders/2`)).status).toBe(200);

    const pids = c.logs().filter((l) => l.msg === 'worker started').map((l) => l.pid);
    expect(pids).toHaveLength(3);
    c.child.kill('SIGTERM');
    expect(await c.exit).toBe(0);
    expect(c.logs().filter((l) => l.msg === 'draining: readiness fails, requests are still served')).toHaveLength(2);
    expect(c.logs().filter((l) => l.msg === 'worker stopped' && l.code === 0)).toHaveLength(2);
    await sleep(100);
    for (const pid of pids) expect(alive(pid), `worker ${pid}`).toBe(false);
  });

  it('the metrics port is served by the primary for the whole cluster; the API port then has no /metrics', async () => {
    const port = await freePort();
    const c = await startCluster(['--workers', '2'], cwdWithConfig({ metrics: { port } }));
    for (let i = 0; i < 12; i++) expect((await get(`${c.origin}/api/v1/orders/3`)).status).toBe(200);
    const metrics = await get(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(sample(metrics.body, ORDERS_200)).toBe(12);
    expect((await get(`${c.origin}/metrics`)).status).toBe(404);
    expect((await get(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    c.child.kill('SIGTERM');
    expect(await c.exit).toBe(0);
  });

  it.runIf(availableParallelism() > 1)('--workers auto starts one worker per available core', async () => {
    const c = await startCluster(['--workers', 'auto'], cwdWithConfig());
    expect(c.logs().filter((l) => l.msg === 'worker listening')).toHaveLength(availableParallelism());
    c.child.kill('SIGINT');
    expect(await c.exit).toBe(0);
  });

  it('a bad worker count stops start-up with one line', () => {
    const res = spawnSync(NODE, [MAIN, 'serve', '--workers', 'many'], { cwd: cwdWithConfig(), encoding: 'utf8', timeout: 30_000 });
    expect(res.status).toBe(2);
    // (config/load.ts names unmapped flags by their path: --server.workers until it learns --workers)
    expect(res.stderr.trim()).toMatch(/^sluice: invalid configuration: server\.workers = "many" \(from --(server\.)?workers\): expected a number of workers from 1 to 1024, or 'auto'$/);
  });
});
