/**
 * Versions of the cache's tags (one tag per table): a cached response remembers the versions of
 * every table it read, and is fresh only while they are unchanged. A committed write bumps its
 * tables' versions here at once, and — with Redis — on every other instance:
 *
 *  - Redis holds one counter per tag (INCR on each write) and carries a message per write on a
 *    pub/sub channel; every instance bumps its local versions when the message arrives.
 *  - A message can be lost (a subscriber reconnecting): every `resync` interval and after each
 *    reconnect, the counters are read back and any tag whose counter moved is bumped. A write made
 *    while Redis was unreachable is counted and published once Redis answers again.
 *
 * Local versions are this process's own numbers: compared only with themselves, never with the
 * Redis counters, which the shared cache entries carry instead (response-cache.ts).
 */
import type { Redis } from 'ioredis';
import type { RedisStore } from './redis-store.ts';

const CHANNEL = 'invalidate';

/** The Redis key of a tag's version counter (read by the response cache with its shared entries). */
export const counterKey = (tag: string): string => `v:${tag}`;

export interface TagVersionsOptions {
  readonly redis?: RedisStore | null;
  /** Milliseconds between two reads of the Redis counters (a lost message is caught by then). */
  readonly resync?: number;
  readonly onError?: (err: Error) => void;
  /** Told of every tag bumped by another instance (tests, metrics). */
  readonly onRemote?: (tags: readonly string[]) => void;
}

interface Message {
  readonly origin: string;
  readonly counters: Record<string, number>;
}

/** @example const versions = new TagVersions({ redis }); versions.of(['public.orders']) */
export class TagVersions {
  private readonly local = new Map<string, number>();
  /** Last Redis counter seen per tag. */
  private readonly seen = new Map<string, number>();
  /** Tags written while Redis did not answer: counted and published when it does again. */
  private readonly unsent = new Set<string>();
  private readonly redis: RedisStore | null;
  private readonly options: TagVersionsOptions;
  private readonly origin = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  private sub: Redis | null = null;
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;

  constructor(options: TagVersionsOptions = {}) {
    this.options = options;
    this.redis = options.redis ?? null;
  }

  /** Subscribes to other instances' writes and reads the counters once (with Redis). */
  async start(): Promise<void> {
    if (!this.redis) return;
    const sub = this.redis.subscriber();
    this.sub = sub;
    const channel = this.channel();
    sub.on('message', (_channel: string, text: string) => this.receive(text));
    // After a reconnect, messages sent meanwhile are lost: compare the counters.
    sub.on('ready', () => void this.resync());
    this.redis.client.on('ready', () => void this.flush().then(() => this.resync()));
    await sub.subscribe(channel).catch((err: Error) => this.options.onError?.(err));
    await this.resync();
    this.timer = setInterval(() => void this.resync(), this.options.resync ?? 1000);
    this.timer.unref();
  }

  /** The pub/sub channel: channels take no key prefix in ioredis, so the prefix is part of the name. */
  private channel(): string {
    return `${this.redis!.prefix}${CHANNEL}`;
  }

  /** The local versions of `tags`, in order (0 for a tag never written). */
  of(tags: readonly string[]): number[] {
    return tags.map((t) => this.local.get(t) ?? 0);
  }

  /** True when every tag still has the version in `versions`. */
  fresh(tags: readonly string[], versions: readonly number[]): boolean {
    for (let i = 0; i < tags.length; i++) if ((this.local.get(tags[i]!) ?? 0) !== versions[i]) return false;
    return true;
  }

  private bumpLocal(tags: Iterable<string>): void {
    for (const t of tags) this.local.set(t, (this.local.get(t) ?? 0) + 1);
  }

  /**
   * A write to `tags` committed: stale here at once; on the other instances once Redis has
   * counted and published it (awaited, so a client that reads elsewhere next finds it fresh).
   */
  async written(tags: readonly string[]): Promise<void> {
    if (tags.length === 0) return;
    this.bumpLocal(tags);
    if (!this.redis) return;
    for (const t of tags) this.unsent.add(t);
    await this.flush();
  }

  /** Counts and publishes the writes Redis has not heard of yet. */
  private async flush(): Promise<void> {
    if (!this.redis || this.unsent.size === 0 || !this.redis.ready) return;
    const tags = [...this.unsent];
    this.unsent.clear();
    try {
      const pipeline = this.redis.client.pipeline();
      for (const t of tags) pipeline.incr(counterKey(t));
      const results = (await pipeline.exec()) ?? [];
      const counters: Record<string, number> = {};
      tags.forEach((t, i) => {
        const [err, value] = results[i] ?? [new Error('no reply'), null];
        if (err) throw err;
        counters[t] = Number(value);
        this.seen.set(t, Number(value));
      });
      await this.redis.client.publish(this.channel(), JSON.stringify({ origin: this.origin, counters } satisfies Message));
    } catch (err) {
      for (const t of tags) this.unsent.add(t);
      this.options.onError?.(err as Error);
    }
  }

  private receive(text: string): void {
    let message: Message;
    try {
      message = JSON.parse(text) as Message;
    } catch {
      return;
    }
    if (message.origin === this.origin || typeof message.counters !== 'object' || message.counters === null) return;
    const moved: string[] = [];
    for (const [tag, counter] of Object.entries(message.counters)) {
      if (typeof counter !== 'number') continue;
      if ((this.seen.get(tag) ?? 0) < counter) this.seen.set(tag, counter);
      moved.push(tag);
    }
    this.bumpLocal(moved);
    if (moved.length) this.options.onRemote?.(moved);
  }

  /** Reads every known tag's counter; a counter that moved unseen bumps its tag. */
  resync(extra: readonly string[] = []): Promise<void> {
    if (!this.redis || !this.redis.ready) return Promise.resolve();
    this.syncing ??= (async () => {
      const tags = [...new Set([...this.seen.keys(), ...this.local.keys(), ...extra])];
      try {
        const counters = await this.redis!.counters(tags.map(counterKey));
        const moved: string[] = [];
        tags.forEach((t, i) => {
          const counter = counters[i]!;
          const before = this.seen.get(t);
          this.seen.set(t, counter);
          // A tag first read now may have moved unseen since entries were made for it: assume so.
          if (before === undefined ? this.local.has(t) && counter > 0 : before !== counter) moved.push(t);
        });
        this.bumpLocal(moved);
        if (moved.length) this.options.onRemote?.(moved);
      } catch (err) {
        this.options.onError?.(err as Error);
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  /** Records Redis counters read with an entry (the baseline the next resync compares with). */
  observe(tags: readonly string[], counters: readonly number[]): void {
    tags.forEach((t, i) => {
      if (!this.seen.has(t)) this.seen.set(t, counters[i]!);
    });
  }

  /** Makes `tags` known, so that the next resync watches their counters. */
  watch(tags: readonly string[]): void {
    for (const t of tags) if (!this.seen.has(t) && !this.local.has(t)) this.local.set(t, 0);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.sub) await this.sub.quit().catch(() => this.sub?.disconnect());
    this.sub = null;
  }
}
