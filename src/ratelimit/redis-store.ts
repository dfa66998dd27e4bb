/**
 * The Redis store, shared by every instance: one sliding log per key in a Redis list (newest at
 * the head), and one Lua script that decides requests against all their limits atomically, the
 * requests of one event-loop turn in one round trip (EVALSHA through ioredis `defineCommand`).
 * Time is the Redis server's (`TIME`), so instances with skewed clocks agree. Like the cache's
 * Redis client it fails fast — no offline queue, a short command timeout — and the limiter
 * (limiter.ts) decides locally when it does.
 */
import { Redis } from 'ioredis';
import type { Decision, LimitStore } from './store.ts';
import type { Rule } from './rules.ts';

/**
 * Decides a batch of requests in order, each as if alone (a key several requests share is read
 * once and written once per batch). KEYS: the distinct logs the batch touches. ARGV[1]: the time
 * in ms ('' = the server's clock; tests pass a fake one); ARGV[2]: the number m of distinct rules,
 * then m pairs of limit and window (ms); then the number of requests; then groups of requests
 * with the same limits (consecutive requests of one caller): the group's size c, its number of
 * limits n and n pairs (index in KEYS, index of the rule), 1-based. Returns per request
 * { admitted (1|0), which of its limits the headers describe (1-based), remaining, reset ms },
 * flattened.
 */
export const DECIDE_SCRIPT = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local limits, windows = {}, {}
local m = tonumber(ARGV[2])
local chunk = math.max(4, math.min(64, tonumber(ARGV[3 + 2 * m]) + 2))
for j = 1, m do
  limits[j], windows[j] = tonumber(ARGV[1 + 2 * j]), tonumber(ARGV[2 + 2 * j])
end
-- Per key touched by the batch: entries in the window, the oldest of them, and the admissions of
-- this batch (all at 'now', pushed together at the end). Each key is read and trimmed once.
local state, touched = {}, {}
local function open(key, limit, window)
  local s = state[key]
  if s then return s end
  local edge = now - window
  local len = redis.call('LLEN', key)
  if len > limit then
    redis.call('LTRIM', key, 0, limit - 1)
    len = limit
  end
  -- The oldest entries, a few more than this call adds (a busy key loses about as many per call
  -- as it gains), oldest last: those that left the window go in one LTRIM. After a quiet spell
  -- more may have left: then twice as many at each step, and a log whose newest entry left is
  -- dropped whole.
  if len > chunk and tonumber(redis.call('LINDEX', key, 0)) <= edge then
    redis.call('DEL', key)
    len = 0
  end
  local oldest = nil
  local step = chunk
  while len > 0 do
    local tail = redis.call('LRANGE', key, -step, -1)
    step = math.min(step * 2, 4096)
    local n = #tail
    local expired = 0
    for j = n, 1, -1 do
      if tonumber(tail[j]) > edge then break end
      expired = expired + 1
    end
    if expired >= len then
      redis.call('DEL', key)
    elseif expired > 0 then
      redis.call('LTRIM', key, 0, -(expired + 1))
    end
    len = len - expired
    if expired < n then
      oldest = tonumber(tail[n - expired])
      break
    end
  end
  s = { len = len, oldest = oldest, added = 0, window = window }
  state[key] = s
  touched[#touched + 1] = key
  return s
end
local out = {}
local a0 = 4 + 2 * m
local left = tonumber(ARGV[3 + 2 * m])
while left > 0 do
  local c, n = tonumber(ARGV[a0]), tonumber(ARGV[a0 + 1])
  local states, rules = {}, {}
  for i = 1, n do
    local rule = tonumber(ARGV[a0 + 1 + 2 * i])
    rules[i] = rule
    states[i] = open(KEYS[tonumber(ARGV[a0 + 2 * i])], limits[rule], windows[rule])
  end
  for _ = 1, c do
  local refused, wait = 0, 0
  for i = 1, n do
    local limit, window = limits[rules[i]], windows[rules[i]]
    local s = states[i]
    if s.len + s.added >= limit then
      local until_free = (s.oldest or now) + window - now
      if refused == 0 or until_free > wait then
        refused, wait = i, until_free
      end
    end
  end
  if refused > 0 then
    out[#out + 1] = 0; out[#out + 1] = refused; out[#out + 1] = 0; out[#out + 1] = wait
  else
    local pick, pick_remaining, pick_reset = 0, 0, 0
    for i = 1, n do
      local limit, window = limits[rules[i]], windows[rules[i]]
      local s = states[i]
      local before = s.len + s.added
      s.added = s.added + 1
      if s.oldest == nil then s.oldest = now end
      local remaining = limit - before - 1
      local reset = window
      if before > 0 then reset = s.oldest + window - now end
      if pick == 0 or remaining < pick_remaining or (remaining == pick_remaining and reset > pick_reset) then
        pick, pick_remaining, pick_reset = i, remaining, reset
      end
    end
    out[#out + 1] = 1; out[#out + 1] = pick; out[#out + 1] = pick_remaining; out[#out + 1] = pick_reset
  end
  end
  left = left - c
  a0 = a0 + 2 + 2 * n
end
for _, key in ipairs(touched) do
  local s = state[key]
  if s.added > 0 then
    local stamps = {}
    for j = 1, s.added do stamps[j] = now end
    redis.call('LPUSH', key, unpack(stamps))
    redis.call('PEXPIRE', key, s.window)
  end
end
return out
`;

/** Requests decided by one script call at most (the script holds Redis while it runs). */
const MAX_BATCH = 64;

/** Called with the decision, or with the error when Redis did not decide. */
export type Decided = (err: Error | null, decision?: Decision) => void;

interface Pending {
  readonly keys: readonly string[];
  readonly rules: readonly Rule[];
  readonly done: Decided;
}

/** One request's callback; a callback that throws must not keep the rest of its batch waiting. */
function settle(p: Pending, err: Error | null, decision?: Decision): void {
  try {
    p.done(err, decision);
  } catch (thrown) {
    process.emitWarning(thrown as Error);
  }
}

/** Whether two requests go to the same logs under the same rules (one group of the script's input). */
const sameLimits = (a: Pending, b: Pending) => a.rules.length === b.rules.length && a.rules.every((r, i) => r === b.rules[i] && a.keys[i] === b.keys[i]);

export interface RedisLimitStoreOptions {
  readonly url: string;
  /** Milliseconds a decision may take before it fails (default 250). */
  readonly commandTimeout?: number;
  /** A fake clock in milliseconds for tests; the Redis server's clock otherwise. */
  readonly now?: () => number;
  /** Connection errors (ioredis keeps reconnecting). */
  readonly onError?: (err: Error) => void;
}

interface WithDecide {
  sluiceRateLimit(...args: Array<string | number>): Promise<number[]>;
}

/** @example const store = new RedisLimitStore({ url: 'redis://127.0.0.1:6379' }); await store.decide([key], [rule]) */
export class RedisLimitStore implements LimitStore {
  readonly client: Redis;
  private readonly now: (() => number) | undefined;
  /** Requests waiting for the next script call (sent once the event loop has read what is ready). */
  private queue: Pending[] = [];
  private readonly flush = () => this.send();

  constructor(options: RedisLimitStoreOptions) {
    this.now = options.now;
    this.client = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeout ?? 250,
      connectTimeout: 2000,
      // The store batches the decisions of one event-loop turn itself (send()): ioredis's own
      // auto-pipelining would only add a Pipeline object per call.
      enableAutoPipelining: false,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
    });
    this.client.on('error', (err: Error) => options.onError?.(err));
    this.client.defineCommand('sluiceRateLimit', { lua: DECIDE_SCRIPT });
  }

  /** True when commands can be sent now. */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Resolves once connected, or rejects after `timeout` ms. */
  async connected(timeout = 2000): Promise<void> {
    if (this.ready) return;
    await new Promise<void>((resolve, reject) => {
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        reject(new Error('Redis is not reachable'));
      }, timeout);
      this.client.once('ready', onReady);
    });
  }

  /** One PING: resolves when Redis answers. */
  async ping(): Promise<void> {
    await this.client.ping();
  }

  /**
   * Decides one request. The requests of one turn of the event loop (every socket that was ready)
   * go to Redis in one script call: a Redis call per request cost more than half of a
   * primary-key GET's throughput, one per batch costs a few percent. Each request is still
   * decided on its own, in arrival order, atomically.
   */
  decide(keys: readonly string[], rules: readonly Rule[]): Promise<Decision> {
    return new Promise((resolve, reject) => this.decideWith(keys, rules, (err, d) => (err ? reject(err) : resolve(d!))));
  }

  /** {@link decide} with a callback: no promise per request on the hot path. */
  decideWith(keys: readonly string[], rules: readonly Rule[], done: Decided): void {
    if (this.queue.length === 0) setImmediate(this.flush);
    this.queue.push({ keys, rules, done });
  }

  private send(): void {
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) this.sendBatch(all.slice(i, i + MAX_BATCH));
  }

  /**
   * Keys and rules go once per call, requests name them by index, and consecutive requests with
   * the same keys and rules (one busy caller) go as one group with a count.
   */
  private sendBatch(batch: readonly Pending[]): void {
    const keys = new Map<string, number>();
    const rules = new Map<Rule, number>();
    const perRequest: number[] = [batch.length];
    let count = 0;
    batch.forEach((p, j) => {
      if (j > 0 && sameLimits(p, batch[j - 1]!)) {
        perRequest[count]!++;
        return;
      }
      count = perRequest.length;
      perRequest.push(1, p.rules.length);
      p.rules.forEach((rule, i) => {
        const key = p.keys[i]!;
        let k = keys.get(key);
        if (k === undefined) keys.set(key, (k = keys.size + 1));
        let r = rules.get(rule);
        if (r === undefined) rules.set(rule, (r = rules.size + 1));
        perRequest.push(k, r);
      });
    });
    const args: Array<string | number> = [keys.size, ...keys.keys(), this.now ? Math.floor(this.now()) : '', rules.size];
    for (const rule of rules.keys()) args.push(rule.limit, rule.window);
    (this.client as unknown as WithDecide).sluiceRateLimit(...args, ...perRequest).then((reply) => {
      batch.forEach((p, i) => {
        const rule = p.rules[reply[4 * i + 1]! - 1]!;
        settle(p, null, { admitted: reply[4 * i] === 1, rule, limit: rule.limit, remaining: reply[4 * i + 2]!, resetMs: reply[4 * i + 3]! });
      });
    }, (err: Error) => {
      for (const p of batch) settle(p, err);
    });
  }

  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
