/**
 * A Sluice cluster of real processes for end-to-end tests: `sluice serve` instances on free
 * loopback ports (stopped with real signals and started again on the same port), a real HAProxy
 * running deploy/haproxy.cfg in front of them (its stats CSV tells which instances it sees up),
 * and a keep-alive HTTP client that never throws (a failed request is a result to count).
 *
 * Every process started here is killed by {@link Cluster.stop}, and with SIGKILL when the test
 * process exits, so a failing test leaves no server behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { freePort } from './ports.ts';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const NODE = process.execPath;
const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
export const HAPROXY_CFG = resolve(import.meta.dirname, '../../deploy/haproxy.cfg');
const HAPROXY_CANDIDATES = [process.env.SLUICE_TEST_HAPROXY, '/usr/sbin/haproxy', 'haproxy'].filter(Boolean) as string[];

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** The haproxy binary, or null after saying why the suite is skipped (under CI: throws). */
export function haproxyBinary(): string | null {
  for (const bin of HAPROXY_CANDIDATES) {
    if (spawnSync(bin, ['-v'], { encoding: 'utf8' }).status === 0) return bin;
  }
  if (process.env.CI) throw new Error('haproxy is required when CI is set (.ci/run installs it), but it is not installed');
  process.stderr.write('\n[sluice tests] haproxy is not installed: the scale-out suites are SKIPPED (apt-get install haproxy, or set SLUICE_TEST_HAPROXY; CI=1 requires it)\n');
  return null;
}

/** Output of a child, kept for error messages (the last 8 kB). */
function capture(child: ChildProcess): () => string {
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
}

// --- an HTTP client that counts instead of throwing ---------------------------------------------

export interface Reply {
  /** 0 when no response came (connection refused or reset, timeout). */
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** The network error when status is 0. */
  readonly error?: string;
}

/** A keep-alive client for one origin (`http://127.0.0.1:port`), as a load balancer's users have. */
export class Client {
  readonly origin: string;
  private readonly agent: Agent;

  constructor(origin: string, sockets = 8) {
    this.origin = origin;
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  /** @example const r = await client.send('PATCH', '/api/v1/orders/1', { status: 'paid' }); r.status === 200 */
  send(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<Reply> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((done) => {
      const req = httpRequest(`${this.origin}${path}`, {
        method, agent: this.agent, timeout: timeoutMs,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', (err) => done({ status: 0, headers: {}, body: '', error: err.message }));
      });
      req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
      req.on('error', (err) => done({ status: 0, headers: {}, body: '', error: err.message }));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

// --- Sluice instances -----------------------------------------------------------------------

export interface InstanceOptions {
  readonly port: number;
  /** `SLUICE_*` variables of the instance (database, Redis, drain delay, …). */
  readonly env: Record<string, string>;
  /** `--config` file (roles and anything the environment cannot express). */
  readonly configFile?: string;
}

/** One `sluice serve` process on a fixed port, which can be stopped and started again there. */
export class Instance {
  readonly name: string;
  readonly options: InstanceOptions;
  private child: ChildProcess | null = null;
  private output: () => string = () => '';

  constructor(name: string, options: InstanceOptions) {
    this.name = name;
    this.options = options;
  }

  get address(): string {
    return `127.0.0.1:${this.options.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and resolves once its own /health/ready answers 200. */
  async start(): Promise<void> {
    // The test runner's SLUICE_* variables must not leak into the instance.
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));
    const args = [MAIN, 'serve', '--host', '127.0.0.1', '--port', String(this.options.port)];
    if (this.options.configFile) args.push('--config', this.options.configFile);
    const child = spawn(NODE, args, { env: { ...env, SLUICE_LOG_LEVEL: 'warn', ...this.options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    this.child = child;
    this.output = capture(child);
    const probe = new Client(`http://${this.address}`, 1);
    try {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.name} exited during start-up (${child.exitCode ?? child.signalCode}):\n${this.output()}`);
        if ((await probe.send('GET', '/health/ready', undefined, 1000)).status === 200) return;
        await sleep(100);
      }
      throw new Error(`${this.name} was not ready within 30 s:\n${this.output()}`);
    } finally {
      probe.close();
    }
  }

  /** Sends `signal` and resolves with how the process ended (SIGKILL: at once, as in a crash). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.child;
    if (!child) return { code: null, signal: null };
    this.child = null;
    const done = exited(child);
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await done;
    } finally {
      clearTimeout(timer);
    }
  }

  /** What the process printed last (for failure messages). */
  log(): string {
    return this.output();
  }
}

// --- HAProxy ----------------------------------------------------------------------------------

export type ServerState = 'UP' | 'DOWN' | 'MAINT' | 'NOLB' | string;

/** HAProxy's view of one backend server, from its stats CSV. */
export interface ServerStats {
  readonly name: string;
  readonly state: ServerState;
  /** Sessions (requests) sent to the server in total. */
  readonly sessions: number;
  /** Connection and L7 retries, and redispatches to another server. */
  readonly retries: number;
  readonly redispatches: number;
}

/** A real HAProxy running deploy/haproxy.cfg with the addresses given in its environment. */
export class Haproxy {
  readonly binary: string;
  readonly port: number;
  readonly statsPort: number;
  private readonly servers: string[];
  private child: ChildProcess | null = null;
  private output: () => string = () => '';

  private constructor(options: { binary: string; port: number; statsPort: number; servers: string[] }) {
    this.binary = options.binary;
    this.port = options.port;
    this.statsPort = options.statsPort;
    this.servers = options.servers;
  }

  static async start(binary: string, servers: string[]): Promise<Haproxy> {
    const haproxy = new Haproxy({ binary, port: await freePort(), statsPort: await freePort(), servers });
    await haproxy.launch();
    return haproxy;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HAPROXY_BIND: '127.0.0.1', HAPROXY_PORT: String(this.port), HAPROXY_STATS_BIND: `127.0.0.1:${this.statsPort}`,
      ...Object.fromEntries(this.servers.map((s, i) => [`SLUICE_${i + 1}`, s])),
    };
    // -db: stay in the foreground, so the process is ours to stop.
    const child = spawn(this.binary, ['-db', '-f', HAPROXY_CFG], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    this.child = child;
    this.output = capture(child);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}:\n${this.output()}`);
      if ((await this.stats().catch(() => [])).length === this.servers.length) return;
      await sleep(100);
    }
    throw new Error(`haproxy did not answer within 10 s:\n${this.output()}`);
  }

  /** The backend servers as HAProxy sees them now. */
  async stats(): Promise<ServerStats[]> {
    const client = new Client(`http://127.0.0.1:${this.statsPort}`, 1);
    try {
      const reply = await client.send('GET', '/stats;csv', undefined, 2000);
      if (reply.status !== 200) throw new Error(`stats: ${reply.status} ${reply.error ?? ''}`);
      const [header, ...rows] = reply.body.replace(/^# /, '').trim().split('\n').map((l) => l.split(','));
      const col = (name: string) => header!.indexOf(name);
      return rows.filter((r) => r[col('pxname')] === 'sluice' && r[col('svname')] !== 'BACKEND').map((r) => ({
        name: r[col('svname')]!, state: r[col('status')]!.split(' ')[0]!,
        sessions: Number(r[col('stot')]), retries: Number(r[col('wretr')]), redispatches: Number(r[col('wredis')]),
      }));
    } finally {
      client.close();
    }
  }

  /** Resolves when HAProxy's health checks show exactly `up` (by server name) as UP. */
  async waitFor(up: string[], timeoutMs = 10_000): Promise<void> {
    const want = [...up].sort().join(',');
    const deadline = Date.now() + timeoutMs;
    let seen = '';
    while (Date.now() < deadline) {
      seen = (await this.stats()).filter((s) => s.state === 'UP').map((s) => s.name).sort().join(',');
      if (seen === want) return;
      await sleep(50);
    }
    throw new Error(`haproxy saw [${seen}] up, not [${want}], after ${timeoutMs} ms`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child) return;
    const done = exited(child);
    child.kill('SIGKILL');
    await done;
  }

  log(): string {
    return this.output();
  }
}

/** Three instances (or `size`) behind one HAProxy; `stop` ends every process it started. */
export class Cluster {
  readonly instances: Instance[];
  readonly haproxy: Haproxy;

  private constructor(instances: Instance[], haproxy: Haproxy) {
    this.instances = instances;
    this.haproxy = haproxy;
  }

  /**
   * @example const c = await Cluster.start({ haproxy, env: { SLUICE_DATABASE_URL: url } }); await c.stop();
   */
  static async start(options: { haproxy: string; env: Record<string, string>; configFile?: string; size?: number }): Promise<Cluster> {
    const size = options.size ?? 3;
    const instances: Instance[] = [];
    for (let i = 1; i <= size; i++) instances.push(new Instance(`sluice-${i}`, { port: await freePort(), env: options.env, configFile: options.configFile }));
    let haproxy: Haproxy | undefined;
    try {
      await Promise.all(instances.map((i) => i.start()));
      haproxy = await Haproxy.start(options.haproxy, instances.map((i) => i.address));
      await haproxy.waitFor(instances.map((i) => i.name));
      return new Cluster(instances, haproxy);
    } catch (err) {
      await haproxy?.stop();
      await Promise.all(instances.map((i) => i.stop('SIGKILL')));
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.haproxy.stop();
    await Promise.all(this.instances.map((i) => i.stop('SIGKILL')));
  }
}
