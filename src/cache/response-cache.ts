/**
 * The response cache: bodies of GET responses, keyed by the request as the caller's policy sees it
 * (http/read-routes.ts builds the key), tagged with every table the statement read.
 *
 *  - First level: this process's LRU (bounded by bytes), holding entries as objects, so a hit is a
 *    map lookup and a comparison of tag versions, with no promise and no decoding.
 *  - Second level (with Redis): entries shared by every instance, checked against the Redis tag
 *    counters fetched in the same round trip, so an entry filled before a write is never taken.
 *  - A miss runs the database statement once for all concurrent identical requests (coalescing);
 *    the tag versions are taken before it runs, so a write committed meanwhile leaves the new
 *    entry stale at once.
 *  - Past its TTL, an entry whose tables were not written is served while one request refreshes
 *    it (stale-while-revalidate); when the database fails, an entry up to `staleIfError` old is
 *    served instead of the error (stale-if-error). Both say `STALE`.
 */
import { createHash } from 'node:crypto';
import { etagOf } from './etag.ts';
import { counterOf, type RedisStore } from './redis-store.ts';
import { MemoryStore } from './store.ts';
import { counterKey, type TagVersions } from './versions.ts';

export interface CachePolicy {
  /** Milliseconds an entry is fresh. */
  readonly ttl: number;
  /** Milliseconds past `ttl` an unwritten entry is served while it is refreshed. */
  readonly staleWhileRevalidate: number;
  /** Milliseconds past `ttl` an entry is served when the database fails. */
  readonly staleIfError: number;
}

/** What a miss produces: the body the client gets and the headers that go with it. */
export interface Fill {
  /** JSON text: sent as a string, Node writes it with the headers in one go. */
  readonly body: string;
  readonly contentType: string;
  readonly link: string | null;
}

export interface Entry extends Fill {
  /** Strong validator: a hash of the body. */
  readonly etag: string;
  readonly tags: readonly string[];
  /** This process's tag versions when the statement ran. */
  readonly local: readonly number[];
  /** The Redis tag counters when the statement ran (null without Redis). */
  readonly shared: readonly number[] | null;
  readonly storedAt: number;
  readonly policy: CachePolicy;
  /**
   * Compressed bodies, made on first demand and kept (cache hits compress nothing): the promise
   * while compressing, then its bytes (a hit answered before Fastify takes only those,
   * http/edge-hits.ts).
   */
  encoded?: Map<string, Promise<Buffer> | Buffer>;
  /** The body's length in bytes, once asked. */
  bytes?: number;
}

export type CacheState = 'HIT' | 'MISS' | 'STALE';

export interface Served {
  readonly entry: Entry;
  readonly state: CacheState;
}

export interface ResponseCacheOptions {
  readonly maxBytes: number;
  readonly versions: TagVersions;
  readonly redis?: RedisStore | null;
  /** True for errors that mean the database could not answer (stale-if-error applies). */
  readonly unavailable: (err: unknown) => boolean;
  readonly onError?: (err: Error) => void;
  readonly now?: () => number;
  /** `cache.minUses`: sightings of a request before its response is stored (default 1). */
  readonly minUses?: number;
}

/** Requests remembered per generation of the admission counts (two generations are kept). */
const SEEN_GENERATION = 20_000;

/** @example const served = cache.serve(key, tags, policy, () => run()) */
export class ResponseCache {
  private readonly l1: MemoryStore<Entry>;
  private readonly inflight = new Map<string, Promise<Served>>();
  /** Sightings of requests not admitted yet; the older generation is dropped whole, so memory stays bounded. */
  private seen = new Map<string, number>();
  private older = new Map<string, number>();
  private readonly options: ResponseCacheOptions;
  private readonly now: () => number;
  readonly versions: TagVersions;

  constructor(options: ResponseCacheOptions) {
    this.options = options;
    this.versions = options.versions;
    this.now = options.now ?? Date.now;
    this.l1 = new MemoryStore<Entry>({ maxBytes: options.maxBytes, sizeOf: (e) => e.body.length + 256 });
  }

  /**
   * The response for `key`: synchronously on a fresh hit (or a stale one being refreshed), else
   * once the second level or the database answered.
   */
  serve(key: string, tags: readonly string[], policy: CachePolicy, compute: () => Promise<Fill>): Served | Promise<Served> {
    const entry = this.l1.peek(key);
    if (entry && this.versions.fresh(entry.tags, entry.local)) {
      const age = this.now() - entry.storedAt;
      if (age < entry.policy.ttl) return { entry, state: 'HIT' };
      if (age < entry.policy.ttl + entry.policy.staleWhileRevalidate) {
        this.refresh(key, tags, policy, compute, entry).catch(() => undefined);
        return { entry, state: 'STALE' };
      }
    }
    return this.refresh(key, tags, policy, compute, entry);
  }

  /**
   * Whether a response for `key` may be stored: always with `minUses` 1; else once the request
   * has been seen `minUses` times (or is stored already). A request not admitted goes to the
   * database without the cache's bookkeeping — no entry, no eviction, no Redis round trip.
   */
  admits(key: string): boolean {
    const min = this.options.minUses ?? 1;
    if (min <= 1 || this.l1.peek(key) !== undefined) return true;
    const count = (this.seen.get(key) ?? this.older.get(key) ?? 0) + 1;
    if (count >= min) {
      this.seen.delete(key);
      this.older.delete(key);
      return true;
    }
    if (this.seen.size >= SEEN_GENERATION) {
      this.older = this.seen;
      this.seen = new Map();
    }
    this.seen.set(key, count);
    return false;
  }

  /** The entry for `key` when it is in this process and fresh (a hit with no work at all), else undefined. */
  peek(key: string): Entry | undefined {
    const entry = this.l1.peek(key);
    if (!entry || !this.versions.fresh(entry.tags, entry.local) || this.now() - entry.storedAt >= entry.policy.ttl) return undefined;
    return entry;
  }

  private refresh(key: string, tags: readonly string[], policy: CachePolicy, compute: () => Promise<Fill>, old: Entry | undefined): Promise<Served> {
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.miss(key, tags, policy, compute, old).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async miss(key: string, tags: readonly string[], policy: CachePolicy, compute: () => Promise<Fill>, old: Entry | undefined): Promise<Served> {
    // Taken first: a write committed here from now on (even before Redis has counted it) leaves
    // whatever this miss stores stale.
    this.versions.watch(tags);
    const local = this.versions.of(tags);
    const redis = this.options.redis?.ready ? this.options.redis : null;
    let shared: number[] | null = null;
    if (redis) {
      try {
        const [found, counters] = await this.fromShared(redis, key, tags, local);
        shared = counters;
        this.versions.observe(tags, counters);
        if (found) {
          this.l1.put(key, found, this.keepFor(found.policy));
          return { entry: found, state: 'HIT' };
        }
      } catch (err) {
        this.options.onError?.(err as Error);
        shared = null;
      }
    }
    let fill: Fill;
    try {
      fill = await compute();
    } catch (err) {
      if (old && this.options.unavailable(err) && this.now() - old.storedAt < old.policy.ttl + old.policy.staleIfError) return { entry: old, state: 'STALE' };
      throw err;
    }
    const entry: Entry = { ...fill, etag: etagOf(fill.body), tags, local, shared, storedAt: this.now(), policy };
    this.l1.put(key, entry, this.keepFor(policy));
    if (redis && shared) {
      redis.set(sharedKey(key), encode(entry), policy.ttl).catch((err: Error) => this.options.onError?.(err));
    }
    return { entry, state: 'MISS' };
  }

  /** The shared entry for `key` when it is fresh, and the tags' counters now (one round trip). */
  private async fromShared(redis: RedisStore, key: string, tags: readonly string[], local: readonly number[]): Promise<[Entry | null, number[]]> {
    const pipeline = redis.client.pipeline();
    pipeline.getBuffer(sharedKey(key));
    if (tags.length) pipeline.mget(...tags.map(counterKey));
    const results = (await pipeline.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    const raw = results[0]?.[1] as Buffer | null;
    const counters = tags.length ? (results[1]![1] as Array<string | null>).map(counterOf) : [];
    if (!raw) return [null, counters];
    const entry = decode(raw, local);
    if (!entry || !sameTags(entry.tags, tags) || !sameNumbers(entry.shared, counters) || this.now() - entry.storedAt >= entry.policy.ttl) return [null, counters];
    return [entry, counters];
  }

  /** How long the first level keeps an entry: its TTL and the longest stale window after it. */
  private keepFor(policy: CachePolicy): number {
    return policy.ttl + Math.max(policy.staleWhileRevalidate, policy.staleIfError);
  }
}

/** The Redis key of an entry: a hash, so that keys stay short whatever the request. */
function sharedKey(key: string): string {
  return `r:${createHash('sha256').update(key).digest('base64url')}`;
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

function sameNumbers(a: readonly number[] | null, b: readonly number[]): boolean {
  return a !== null && a.length === b.length && a.every((n, i) => n === b[i]);
}

interface Header {
  readonly etag: string;
  readonly contentType: string;
  readonly link: string | null;
  readonly tags: readonly string[];
  readonly shared: readonly number[] | null;
  readonly storedAt: number;
  readonly policy: CachePolicy;
}

/** An entry as bytes for Redis: a 4-byte length, a JSON header, the body. */
export function encode(entry: Entry): Buffer {
  const header: Header = { etag: entry.etag, contentType: entry.contentType, link: entry.link, tags: entry.tags, shared: entry.shared, storedAt: entry.storedAt, policy: entry.policy };
  const json = Buffer.from(JSON.stringify(header));
  const size = Buffer.alloc(4);
  size.writeUInt32BE(json.length);
  return Buffer.concat([size, json, Buffer.from(entry.body)]);
}

/** The entry `encode` wrote, with `local` as its local versions; null when the bytes are not one. */
export function decode(raw: Buffer, local: readonly number[]): Entry | null {
  try {
    const size = raw.readUInt32BE(0);
    const header = JSON.parse(raw.subarray(4, 4 + size).toString()) as Header;
    return { ...header, body: raw.subarray(4 + size).toString(), local };
  } catch {
    return null;
  }
}
