/**
 * The in-process store: one sliding log per key in a ring buffer of admission times, kept in an
 * LRU bounded in bytes (the least recently used keys go first). A decision is O(1) amortized and
 * allocates nothing once a key's ring has grown to its limit. Serves alone without Redis and in
 * place of Redis while it fails (then with each limit divided by the number of instances).
 */
import { LRUCache } from 'lru-cache';
import type { Decision, LimitStore } from './store.ts';
import type { Rule } from './rules.ts';

export interface MemoryStoreOptions {
  /** Upper bound of the memory the logs take (default 16 MiB). */
  readonly maxBytes?: number;
  /** Each limit is divided by this (at least 1 request admitted): the share of one instance. */
  readonly divisor?: number;
  /** Milliseconds on a monotonic clock (tests pass a fake one). */
  readonly now?: () => number;
}

/** Admission times of one key, oldest first, in a ring that grows up to the limit. */
class Log {
  times: Float64Array;
  /** Index of the oldest entry. */
  start = 0;
  size = 0;

  constructor(capacity: number) {
    this.times = new Float64Array(capacity);
  }

  oldest(): number {
    return this.times[this.start]!;
  }

  /** Forgets the admissions at or before `edge` (they left the window). */
  expire(edge: number): void {
    const cap = this.times.length;
    while (this.size > 0 && this.times[this.start]! <= edge) {
      this.start = (this.start + 1) % cap;
      this.size--;
    }
  }

  /** Keeps the newest `limit` entries (a log never holds more than its limit). */
  push(time: number, limit: number): void {
    let cap = this.times.length;
    if (this.size === cap && cap < limit) this.grow(Math.min(limit, cap * 2));
    cap = this.times.length;
    if (this.size === cap) {
      this.start = (this.start + 1) % cap;
      this.size--;
    }
    this.times[(this.start + this.size) % cap] = time;
    this.size++;
  }

  private grow(capacity: number): void {
    const next = new Float64Array(capacity);
    for (let i = 0; i < this.size; i++) next[i] = this.times[(this.start + i) % this.times.length]!;
    this.times = next;
    this.start = 0;
  }
}

const OVERHEAD = 120; // bytes of a Log, its typed array header and the LRU entry, roughly
const sizeOf = (log: Log) => log.times.byteLength + OVERHEAD;

/** @example const store = new MemoryLimitStore({ maxBytes: 16 << 20 }); store.decide([key], [rule]) */
export class MemoryLimitStore implements LimitStore {
  private readonly logs: LRUCache<string, Log>;
  private readonly divisor: number;
  private readonly now: () => number;
  private readonly found: Array<Log | undefined> = [];

  constructor(options: MemoryStoreOptions = {}) {
    this.logs = new LRUCache<string, Log>({ maxSize: options.maxBytes ?? 16 * 1024 * 1024, sizeCalculation: sizeOf });
    this.divisor = Math.max(1, options.divisor ?? 1);
    this.now = options.now ?? (() => performance.now());
  }

  /** The limit this store enforces for `rule`. */
  limitOf(rule: Rule): number {
    return this.divisor === 1 ? rule.limit : Math.max(1, Math.floor(rule.limit / this.divisor));
  }

  decide(keys: readonly string[], rules: readonly Rule[]): Decision {
    const now = this.now();
    const found = this.found;
    found.length = 0;
    let refused = -1;
    let wait = 0;
    for (let i = 0; i < keys.length; i++) {
      const rule = rules[i]!;
      const log = this.logs.get(keys[i]!);
      if (log) log.expire(now - rule.window);
      found.push(log);
      if (log && log.size >= this.limitOf(rule)) {
        const until = log.oldest() + rule.window - now;
        if (refused < 0 || until > wait) {
          refused = i;
          wait = until;
        }
      }
    }
    if (refused >= 0) {
      const rule = rules[refused]!;
      found.length = 0;
      return { admitted: false, rule, limit: this.limitOf(rule), remaining: 0, resetMs: wait };
    }
    let pick = -1;
    let pickRemaining = 0;
    let pickReset = 0;
    for (let i = 0; i < keys.length; i++) {
      const rule = rules[i]!;
      const limit = this.limitOf(rule);
      let log = found[i];
      const before = log?.size ?? 0;
      const reset = before === 0 ? rule.window : log!.oldest() + rule.window - now;
      if (!log) {
        log = new Log(Math.min(limit, 8));
        log.push(now, limit);
        this.logs.set(keys[i]!, log);
      } else {
        const capacity = log.times.length;
        log.push(now, limit);
        // A grown ring is set again so that the LRU counts its new size.
        if (log.times.length !== capacity) this.logs.set(keys[i]!, log);
      }
      const remaining = limit - before - 1;
      if (pick < 0 || remaining < pickRemaining || (remaining === pickRemaining && reset > pickReset)) {
        pick = i;
        pickRemaining = remaining;
        pickReset = reset;
      }
    }
    found.length = 0;
    const rule = rules[pick]!;
    return { admitted: true, rule, limit: this.limitOf(rule), remaining: pickRemaining, resetMs: pickReset };
  }

  /** Bytes the logs take now (at most `maxBytes`). */
  get bytes(): number {
    return this.logs.calculatedSize;
  }

  /** Forgets every log (the fallback starts afresh each time Redis fails). */
  clear(): void {
    this.logs.clear();
  }

  async close(): Promise<void> {
    this.logs.clear();
  }
}
