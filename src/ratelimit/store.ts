/**
 * The contract every rate-limit store keeps (in-process and Redis pass one shared test suite):
 * one call decides one request against all the limits that apply to it, all or nothing, with a
 * sliding log per key — a request is admitted when fewer than `limit` requests of that key were
 * admitted in the last `window` milliseconds, so no window-long interval ever holds more than
 * `limit` admitted requests. A rejected request is not counted.
 */
import type { Rule } from './rules.ts';

export interface Decision {
  readonly admitted: boolean;
  /**
   * The limit the headers describe: when admitted the one with the least remaining (the longest
   * reset on a tie); when rejected the refusing one that frees up last.
   */
  readonly rule: Rule;
  /** The limit this store enforced for `rule` (smaller than `rule.limit` in the Redis fallback). */
  readonly limit: number;
  readonly remaining: number;
  /**
   * Milliseconds until the oldest request in the window leaves it, i.e. until `remaining` grows;
   * when rejected, the time to wait before a retry can be admitted.
   */
  readonly resetMs: number;
}

export interface LimitStore {
  /**
   * Decides one request: `keys[i]` is the caller's key for `rules[i]`. Admitted only if every
   * rule admits it, and then counted in every one of them.
   * @example const d = await store.decide(['sluice:rl:per-ip:10.0.0.1'], [perIp])
   */
  decide(keys: readonly string[], rules: readonly Rule[]): Decision | Promise<Decision>;
  close(): Promise<void>;
}
