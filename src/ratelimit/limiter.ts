/**
 * The rate limiter a Sluice instance runs: the compiled rules, the store that decides (Redis when
 * configured, else in-process) and the fallback while Redis fails. A failed Redis decision is
 * decided by the local store, at each limit divided by `rateLimitFallback.instances` (so that the
 * instances together stay within the limit); from then on every decision is local, one warning is
 * logged and `onFallback(true)` is called, and a PING every `probeInterval` — never the requests
 * themselves — finds Redis back (`onFallback(false)`, one info line).
 */
import type { Decision } from './store.ts';
import { MemoryLimitStore } from './memory-store.ts';
import type { RedisLimitStore } from './redis-store.ts';
import type { Rule } from './rules.ts';

export interface LimiterLog {
  warn(obj: object, message: string): void;
  info(obj: object, message: string): void;
}

export interface RateLimiterOptions {
  readonly rules: readonly Rule[];
  /** The shared store; null: the in-process store decides alone. */
  readonly redis: RedisLimitStore | null;
  /** Instances sharing Redis: the local fallback admits limit ÷ instances (at least 1). */
  readonly instances?: number;
  /** Milliseconds between PINGs while Redis is failing (default 1000). */
  readonly probeInterval?: number;
  /** Memory bound of the in-process store (default 16 MiB). */
  readonly maxBytes?: number;
  /** The clock of the in-process store (tests). */
  readonly now?: () => number;
  readonly log?: LimiterLog;
  /** Called with true when the local fallback takes over from Redis, false when Redis is back. */
  readonly onFallback?: (active: boolean) => void;
  /** Called with the limit's name for every rejected request. */
  readonly onReject?: (limitName: string) => void;
}

/** @example const d = await limiter.decide(['sluice:rl:per-ip:10.0.0.1'], [perIp]); if (!d.admitted) reply.code(429) */
export class RateLimiter {
  readonly rules: readonly Rule[];
  private readonly redis: RedisLimitStore | null;
  private readonly local: MemoryLimitStore;
  private readonly options: RateLimiterOptions;
  private fallback = false;
  private probe: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  private probing = false;

  constructor(options: RateLimiterOptions) {
    this.options = options;
    this.rules = options.rules;
    this.redis = options.redis;
    this.local = new MemoryLimitStore({
      maxBytes: options.maxBytes,
      divisor: options.redis ? options.instances ?? 1 : 1,
      now: options.now,
    });
  }

  /** Waits for Redis (up to 2 s); when it does not answer, starts on the local fallback. */
  async start(): Promise<void> {
    if (!this.redis) return;
    try {
      await this.redis.connected();
    } catch (err) {
      this.enterFallback(err);
    }
  }

  /** True while the local store decides in place of Redis. */
  get fallbackActive(): boolean {
    return this.fallback;
  }

  /**
   * Decides one request: `keys[i]` is the caller's store key for `rules[i]`. Synchronous on the
   * in-process store; never rejects (a Redis failure is decided locally).
   */
  decide(keys: readonly string[], rules: readonly Rule[]): Decision | Promise<Decision> {
    let decided: Decision | undefined;
    let resolve: ((decision: Decision) => void) | undefined;
    this.decideWith(keys, rules, (decision) => (resolve ? resolve(decision) : (decided = decision)));
    return decided ?? new Promise((r) => (resolve = r));
  }

  /**
   * {@link decide} with a callback (at once on the in-process store): the request hook's path,
   * with no promise per request. `id`: the keys joined (CallerKeys.id), when the caller has it at hand.
   */
  decideWith(keys: readonly string[], rules: readonly Rule[], next: (decision: Decision) => void, id?: string): void {
    if (!this.redis || this.fallback) return next(this.counted(this.local.decide(keys, rules)));
    this.redis.decideWith(keys, rules, (err, decision) => {
      if (err) {
        this.enterFallback(err);
        return next(this.counted(this.local.decide(keys, rules)));
      }
      next(this.counted(decision!));
    }, id);
  }

  private counted(decision: Decision): Decision {
    if (!decision.admitted) this.options.onReject?.(decision.rule.name);
    return decision;
  }

  private enterFallback(err: unknown): void {
    if (this.fallback || this.closed) return;
    this.fallback = true;
    this.local.clear();
    const instances = this.options.instances ?? 1;
    this.options.log?.warn({ err: { message: (err as Error)?.message ?? String(err) } }, `redis unavailable: rate limits are enforced by each instance alone at limit ÷ ${instances} (rateLimitFallback.instances) until it is back`);
    this.options.onFallback?.(true);
    this.probe = setInterval(() => void this.tryRedis(), this.options.probeInterval ?? 1000);
    this.probe.unref();
  }

  private async tryRedis(): Promise<void> {
    if (!this.fallback || this.closed || this.probing) return;
    this.probing = true;
    try {
      await this.redis!.ping();
    } catch {
      return;
    } finally {
      this.probing = false;
    }
    if (!this.fallback || this.closed) return;
    this.fallback = false;
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    this.options.log?.info({}, 'redis is back: rate limits are shared by every instance again');
    this.options.onFallback?.(false);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    await this.local.close();
    await this.redis?.close();
  }
}
