/**
 * The one key-value interface of Sluice's shared state, and its in-process implementation: an LRU
 * bounded by bytes (lru-cache). Redis implements the same interface (redis-store.ts); one contract
 * suite runs against both. Values are bytes; the in-process store also keeps plain objects for the
 * response cache's first level, where a hit must not pay for decoding.
 */
import { LRUCache } from 'lru-cache';

export interface KvStore<V = Buffer> {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<V | undefined>;
  /** Stores `value` for `ttl` milliseconds (at least 1). */
  set(key: string, value: V, ttl: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Adds 1 to the counter `key` (0 when missing) and returns the new value, atomically. */
  incr(key: string): Promise<number>;
  /** The counters' values, 0 for a missing one, in the order asked. */
  counters(keys: readonly string[]): Promise<number[]>;
  close(): Promise<void>;
}

export interface MemoryStoreOptions<V extends object> {
  /** Upper bound of the stored values' sizes together. */
  readonly maxBytes: number;
  /** Size of a value in bytes (Buffers: their length). */
  readonly sizeOf?: (value: V) => number;
}

/** Bytes counted for a key and the bookkeeping around an entry, on top of its value. */
const OVERHEAD = 64;

/** @example const store = new MemoryStore<Buffer>({ maxBytes: 64 << 20 }) */
export class MemoryStore<V extends object = Buffer> implements KvStore<V> {
  readonly kind = 'memory' as const;
  private readonly lru: LRUCache<string, V & object>;
  private readonly numbers = new Map<string, number>();

  constructor(options: MemoryStoreOptions<V>) {
    const sizeOf = options.sizeOf ?? ((v: V) => (v as unknown as Buffer).length);
    this.lru = new LRUCache<string, V & object>({
      maxSize: Math.max(1, options.maxBytes),
      sizeCalculation: (value, key) => Math.max(1, sizeOf(value) + key.length + OVERHEAD),
      ttlAutopurge: false,
    });
  }

  /** The value, synchronously (the response cache's hit path). */
  peek(key: string): V | undefined {
    return this.lru.get(key);
  }

  /** Stores synchronously; a value larger than the whole store is not kept. */
  put(key: string, value: V, ttl: number): void {
    this.lru.set(key, value as V & object, { ttl: Math.max(1, Math.ceil(ttl)) });
  }

  async get(key: string): Promise<V | undefined> {
    return this.peek(key);
  }

  async set(key: string, value: V, ttl: number): Promise<void> {
    this.put(key, value, ttl);
  }

  async delete(key: string): Promise<void> {
    this.lru.delete(key);
    this.numbers.delete(key);
  }

  async incr(key: string): Promise<number> {
    const next = (this.numbers.get(key) ?? 0) + 1;
    this.numbers.set(key, next);
    return next;
  }

  async counters(keys: readonly string[]): Promise<number[]> {
    return keys.map((k) => this.numbers.get(k) ?? 0);
  }

  /** Bytes held now (values, keys and overhead). */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }

  async close(): Promise<void> {
    this.lru.clear();
  }
}
