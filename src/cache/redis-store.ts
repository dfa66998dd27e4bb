/**
 * The key-value interface on Redis (ioredis), shared by every instance. Built to fail fast: no
 * offline queue and a short command timeout, so a Redis that is down or slow costs a request a
 * few milliseconds and an error the caller falls back from (the local cache), never a hang.
 * ioredis reconnects by itself; `ready` says whether commands can be sent now.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { KvStore } from './store.ts';

export interface RedisStoreOptions {
  readonly url: string;
  /** Prepended to every key and channel (several deployments may share one Redis). */
  readonly prefix?: string;
  /** Milliseconds a command may take before it fails (default 250). */
  readonly commandTimeout?: number;
  /** Connection errors (logged by the caller; ioredis keeps reconnecting). */
  readonly onError?: (err: Error) => void;
}

/** @example const store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'sluice:' }) */
export class RedisStore implements KvStore<Buffer> {
  readonly kind = 'redis' as const;
  readonly prefix: string;
  readonly client: Redis;
  private readonly options: RedisStoreOptions;

  constructor(options: RedisStoreOptions) {
    this.options = options;
    this.prefix = options.prefix ?? 'sluice:';
    this.client = new Redis(options.url, this.connectionOptions(false));
    this.client.on('error', (err: Error) => options.onError?.(err));
  }

  private connectionOptions(queue: boolean): RedisOptions {
    return {
      keyPrefix: this.prefix,
      enableOfflineQueue: queue,
      maxRetriesPerRequest: queue ? null : 0,
      commandTimeout: queue ? undefined : this.options.commandTimeout ?? 250,
      connectTimeout: 2000,
      // Commands issued in the same tick (concurrent misses) go out in one write.
      enableAutoPipelining: !queue,
      // Reconnect quickly at first, then every 2 s at most, forever.
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
    };
  }

  /** True when commands can be sent now. */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Resolves once connected (or rejects after `timeout` ms). */
  async connected(timeout = 2000): Promise<void> {
    if (this.ready) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        reject(new Error(`Redis at ${redact(this.options.url)} is not reachable`));
      }, timeout);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.client.once('ready', onReady);
    });
  }

  /**
   * A second connection for pub/sub (a subscribed connection can run nothing else). It queues
   * while disconnected and subscribes again after every reconnect.
   */
  subscriber(): Redis {
    const sub = new Redis(this.options.url, { ...this.connectionOptions(true), keyPrefix: undefined, autoResubscribe: true });
    sub.on('error', (err: Error) => this.options.onError?.(err));
    return sub;
  }

  async get(key: string): Promise<Buffer | undefined> {
    return (await this.client.getBuffer(key)) ?? undefined;
  }

  async set(key: string, value: Buffer, ttl: number): Promise<void> {
    await this.client.set(key, value, 'PX', Math.max(1, Math.ceil(ttl)));
  }

  async delete(key: string): Promise<void> {
    await this.client.del(key);
  }

  async incr(key: string): Promise<number> {
    return this.client.incr(key);
  }

  async counters(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    return (await this.client.mget(...keys)).map(counterOf);
  }

  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

/** A counter as MGET returns it: 0 when the key is missing. */
export const counterOf = (value: string | null): number => (value === null ? 0 : Number(value));

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://…';
  }
}
