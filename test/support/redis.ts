/**
 * Redis for tests: the machine's server (SLUICE_TEST_REDIS_URL, default redis://127.0.0.1:6379)
 * with a key prefix per test, and private `redis-server` processes a test may stop and start
 * (Redis going away mid-test must not touch the shared one).
 *
 * Without a reachable Redis (or the redis-server binary) the Redis suites are skipped with a
 * message — unless CI is set, where they are required and the run fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from './ports.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let counter = 0;

/** A key prefix no other test uses. */
export function uniquePrefix(): string {
  return `sluice-test:${process.pid}:${Date.now().toString(36)}:${counter++}:`;
}

async function pings(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

let available: Promise<boolean> | undefined;

/** Whether the shared Redis answers; says so (or fails under CI) when it does not. */
export function redisAvailable(): Promise<boolean> {
  available ??= pings(REDIS_URL).then((ok) => {
    if (ok) return true;
    if (process.env.CI) throw new Error(`Redis is required when CI is set, but ${REDIS_URL} does not answer`);
    process.stderr.write(`\n[sluice tests] Redis at ${REDIS_URL} is not reachable: Redis suites are SKIPPED (set SLUICE_TEST_REDIS_URL, or CI=1 to require them)\n`);
    return false;
  });
  return available;
}

/** Whether private redis-server processes can be started here. */
export function redisServerAvailable(): boolean {
  const ok = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
  if (!ok && process.env.CI) throw new Error('redis-server is required when CI is set');
  if (!ok) process.stderr.write('\n[sluice tests] redis-server is not installed: suites that stop Redis are SKIPPED\n');
  return ok;
}

/** A redis-server of the test's own, on a free port, without persistence. */
export class PrivateRedis {
  readonly port: number;
  private child: ChildProcess | null = null;

  private constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await pings(this.url)) return;
      await sleep(50);
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }

  /** Ends the server at once (SIGKILL: connections drop as in a crash). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
