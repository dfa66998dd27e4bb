/**
 * The Redis store, shared by every instance: one sliding log per key in a Redis list (newest at
 * the head), and one Lua script that decides requests against all their limits atomically, the
 * requests of one event-loop turn in one round trip (EVALSHA through ioredis `defineCommand`).
 * Time is the Redis server's (`TIME`), so instances with skewed clocks agree. Like the cache's
 * Redis client it fails fast — no offline queue, a short command timeout — and the limiter
 * (limiter.ts) decides locally when it does.
 *
 * Leases. A busy caller far from its limit need not go to Redis for every request: with the
 * requests it sends, an instance asks for a few slots more (about what the caller sends in half a
 * lease period), and Redis grants them when at least {@link LEASE_FLOOR} slots are free —
 * at most an eighth of those — writing them into the log stamped at the END of the lease period.
 * The instance admits the caller's next requests from them, without a round trip, until they run
 * out or 90 % of the period has passed; when a quarter of them is left, or 80 % of the period
 * has passed, it asks for the next lease (a script call with no request in it), so that a steady
 * caller's requests do not wait for Redis between leases. Every leased slot counts against the
 * limit on every instance from the moment it is granted and until a full window after the latest
 * moment it may be used, so no window-long interval ever holds more than `limit` admitted
 * requests; a slot left unused only makes the limit stricter for a while. Near the limit (fewer
 * free slots than the floor) every request is decided in Redis, exactly as without leases.
 */
import { Redis } from 'ioredis';
import type { Decision, LimitStore } from './store.ts';
import { callerId, type Rule } from './rules.ts';

/**
 * Decides a batch of requests in order, each as if alone (a key several requests share is read
 * once and written once per batch). KEYS: the distinct logs the batch touches. ARGV[1]: the time
 * in ms ('' = the server's clock; tests pass a fake one); ARGV[2]: the number m of distinct rules,
 * then m pairs of limit and window (ms); then the lease floor (free slots needed to grant a
 * lease); then the number of requests and the number of groups; then the groups: requests with
 * the same limits (consecutive requests of one caller), each its size c (0: a lease only), its
 * number of limits n and n pairs (index in KEYS, index of the rule), 1-based, then the slots
 * wanted for a lease and the lease period (ms).
 * Returns per request { admitted (1|0), which of its limits the headers describe (1-based),
 * remaining, reset ms } and after each group { slots leased, and when some were: the limit the
 * headers describe, its remaining with every slot used, reset ms }, flattened. A group of size 0
 * only asks for a lease.
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
local floor_free = tonumber(ARGV[3 + 2 * m])
local chunk = math.max(4, math.min(64, tonumber(ARGV[4 + 2 * m]) + 2))
for j = 1, m do
  limits[j], windows[j] = tonumber(ARGV[1 + 2 * j]), tonumber(ARGV[2 + 2 * j])
end
-- An entry of a log: 'stamp:weight:total' — weight requests (or leased slots) at stamp (ms, 15
-- digits with leading zeros: an entry's first 15 characters are its stamp) and total, the weights
-- pushed to this log so far, this entry's included: the slots in the window are the newest
-- entry's total minus the total before the oldest entry in the window. One entry per call and
-- stamp, however many requests or slots it holds.
local function parse(e)
  local stamp, weight, total = string.match(e, '^(%d+):(%d+):(%d+)$')
  if not stamp then return nil end
  return tonumber(stamp), tonumber(weight), tonumber(total)
end
-- Per key touched by the batch: slots in the window, the oldest and newest stamps in it, the total
-- so far, and the entries this batch adds (pushed together at the end). Each key is read and
-- trimmed once.
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
  local newest, total = nil, 0
  if len > 0 then
    local stamp, _, t = parse(redis.call('LINDEX', key, 0))
    if stamp == nil then
      -- Not a log of this format (written by an earlier version): it starts afresh.
      redis.call('DEL', key)
      len = 0
    else
      newest, total = stamp, t
    end
  end
  -- The oldest entries, a few more than this call adds (a busy key loses about as many per call
  -- as it gains), oldest last: those that left the window go in one LTRIM. After a quiet spell
  -- more may have left: then twice as many at each step, and a log whose newest entry left is
  -- dropped whole.
  if len > chunk and newest <= edge then
    redis.call('DEL', key)
    len = 0
    newest, total = nil, 0
  end
  local oldest, count = nil, 0
  local step = chunk
  while len > 0 do
    local tail = redis.call('LRANGE', key, -step, -1)
    step = math.min(step * 2, 4096)
    local n = #tail
    local expired = 0
    for j = n, 1, -1 do
      if tonumber(string.sub(tail[j], 1, 15)) > edge then break end
      expired = expired + 1
    end
    if expired >= len then
      redis.call('DEL', key)
      newest, total = nil, 0
    elseif expired > 0 then
      redis.call('LTRIM', key, 0, -(expired + 1))
    end
    len = len - expired
    if expired < n then
      local stamp, weight, t = parse(tail[n - expired])
      oldest, count = stamp, total - t + weight
      break
    end
  end
  s = { len = count, oldest = oldest, newest = newest, total = total, added = 0, entries = {}, window = window }
  state[key] = s
  touched[#touched + 1] = key
  return s
end
-- A stamp is never older than the newest in its log: the log stays ordered, oldest at the tail.
local function add(s, stamp, weight)
  if s.newest ~= nil and s.newest > stamp then stamp = s.newest end
  s.newest = stamp
  s.added = s.added + weight
  local last = s.entries[#s.entries]
  if last ~= nil and last[1] == stamp then
    last[2] = last[2] + weight
  else
    s.entries[#s.entries + 1] = { stamp, weight }
  end
  if s.oldest == nil then s.oldest = stamp end
end
local out = {}
local a0 = 6 + 2 * m
for _ = 1, tonumber(ARGV[5 + 2 * m]) do
  local c, n = tonumber(ARGV[a0]), tonumber(ARGV[a0 + 1])
  local want, period = tonumber(ARGV[a0 + 2 + 2 * n]), tonumber(ARGV[a0 + 3 + 2 * n])
  local states, rules = {}, {}
  for i = 1, n do
    local rule = tonumber(ARGV[a0 + 1 + 2 * i])
    rules[i] = rule
    states[i] = open(KEYS[tonumber(ARGV[a0 + 2 * i])], limits[rule], windows[rule])
  end
  local all_admitted = true
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
    all_admitted = false
    out[#out + 1] = 0; out[#out + 1] = refused; out[#out + 1] = 0; out[#out + 1] = wait
  else
    local pick, pick_remaining, pick_reset = 0, 0, 0
    for i = 1, n do
      local limit, window = limits[rules[i]], windows[rules[i]]
      local s = states[i]
      local before = s.len + s.added
      add(s, now, 1)
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
  -- A lease: slots for the caller's next requests, stamped at the end of the lease period. A
  -- group of no request (c = 0) only asks for one: the caller still holds slots, running low.
  local granted, pick, pick_remaining, pick_reset = 0, 0, 0, 0
  if want > 0 and all_admitted then
    local free = nil
    for i = 1, n do
      local f = limits[rules[i]] - states[i].len - states[i].added
      if free == nil or f < free then free = f end
    end
    if free >= floor_free then
      granted = math.min(want, math.floor(free / 8))
      for i = 1, n do add(states[i], now + period, granted) end
      -- What the headers say once the slots are used: the limit with the least left.
      for i = 1, n do
        local s = states[i]
        local remaining = limits[rules[i]] - s.len - s.added
        local reset = s.oldest + windows[rules[i]] - now
        if pick == 0 or remaining < pick_remaining or (remaining == pick_remaining and reset > pick_reset) then
          pick, pick_remaining, pick_reset = i, remaining, reset
        end
      end
    end
  end
  out[#out + 1] = granted; out[#out + 1] = pick; out[#out + 1] = pick_remaining; out[#out + 1] = pick_reset
  a0 = a0 + 4 + 2 * n
end
for _, key in ipairs(touched) do
  local s = state[key]
  if s.added > 0 then
    local total, lines = s.total, {}
    for i, e in ipairs(s.entries) do
      total = total + e[2]
      lines[i] = string.format('%015d:%d:%d', e[1], e[2], total)
    end
    for i = 1, #lines, 1000 do
      redis.call('LPUSH', key, unpack(lines, i, math.min(i + 999, #lines)))
    end
    redis.call('PEXPIRE', key, s.newest - now + s.window)
  end
end
return out
`;

/** Requests decided by one script call at most (the script holds Redis while it runs). */
const MAX_BATCH = 64;
/** Free slots a limit must have for Redis to grant a lease (below it, every request goes to Redis). */
export const LEASE_FLOOR = 512;
/** Most slots in one lease. */
const MAX_LEASE = 2048;
/** Lease period: a tenth of the shortest window of the caller's limits, at most a second. */
const leasePeriod = (rules: readonly Rule[]) => Math.min(1000, Math.floor(Math.min(...rules.map((r) => r.window)) / 10));

/**
 * What an instance knows of one caller's limits (its keys): the slots leased to it and how busy
 * it has been, which sizes the next lease. A caller running low asks for its next lease while it
 * still holds slots, so that a steady caller's requests never wait for Redis: the new slots wait
 * in `next` until the current ones are used or expire.
 */
interface Lease {
  /** Slots left to admit requests from. */
  permits: number;
  /** Local clock (ms): after this the slots are not used. */
  expires: number;
  /** Slots of the next lease, granted while the current ones lasted, and when they expire. */
  next: number;
  nextExpires: number;
  /** Below this many permits, or after `refreshAt` (local clock), the next lease is asked for. */
  lowWater: number;
  refreshAt: number;
  /**
   * The decision of the latest lease: the rule the headers describe and its remaining with every
   * leased slot used (so a request reports it plus the slots still unused).
   */
  decision: Decision | null;
  /** Requests of this caller since `since` (local clock, ms). */
  demand: number;
  since: number;
  /** A lease was asked for and not answered yet. */
  asking: boolean;
}
/**
 * Callers remembered for leases at most; past it the one first seen goes (not the least recently
 * seen: that would cost a delete and set per request). A busy caller dropped so loses its unused
 * slots — which only keeps them counted against its limit until they expire — and starts over.
 */
const MAX_LEASES = 10_000;

/** Called with the decision, or with the error when Redis did not decide. */
export type Decided = (err: Error | null, decision?: Decision) => void;

interface Pending {
  readonly keys: readonly string[];
  readonly rules: readonly Rule[];
  /** The request's callback; null: no request, the caller's next lease only. */
  readonly done: Decided | null;
  /** The caller's lease record. */
  readonly lease: Lease;
}

/** One request's callback; a callback that throws must not keep the rest of its batch waiting. */
function settle(p: Pending, err: Error | null, decision?: Decision): void {
  if (!p.done) return;
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
  /** Per caller (its keys), in the order first seen. */
  private readonly leases = new Map<string, Lease>();
  private readonly clock: () => number;

  constructor(options: RedisLimitStoreOptions) {
    this.now = options.now;
    this.clock = options.now ?? (() => performance.now());
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

  /**
   * {@link decide} with a callback: no promise per request on the hot path. A request of a caller
   * holding leased slots is decided at once, without Redis.
   */
  decideWith(keys: readonly string[], rules: readonly Rule[], done: Decided, id = callerId(keys)): void {
    const now = this.clock();
    let lease = this.leases.get(id);
    if (lease) {
      lease.demand++;
      if ((lease.permits <= 0 || now >= lease.expires) && lease.next > 0 && now < lease.nextExpires) {
        lease.permits = lease.next;
        lease.expires = lease.nextExpires;
        lease.next = 0;
      }
      if (lease.permits > 0 && now < lease.expires) {
        lease.permits--;
        if (!lease.asking && lease.next === 0 && (lease.permits < lease.lowWater || now >= lease.refreshAt)) {
          lease.asking = true;
          this.enqueue({ keys, rules, done: null, lease });
        }
        const d = lease.decision!;
        return done(null, { admitted: true, rule: d.rule, limit: d.limit, remaining: d.remaining + lease.permits + lease.next, resetMs: d.resetMs });
      }
    } else {
      if (this.leases.size >= MAX_LEASES) this.leases.delete(this.leases.keys().next().value!);
      lease = { permits: 0, expires: 0, next: 0, nextExpires: 0, lowWater: 0, refreshAt: 0, decision: null, demand: 1, since: now, asking: false };
      this.leases.set(id, lease);
    }
    this.enqueue({ keys, rules, done, lease });
  }

  private enqueue(p: Pending): void {
    if (this.queue.length === 0) setImmediate(this.flush);
    this.queue.push(p);
  }

  private send(): void {
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) this.sendBatch(all.slice(i, i + MAX_BATCH));
  }

  /**
   * Keys and rules go once per call, requests name them by index, and consecutive requests with
   * the same keys and rules (one busy caller) go as one group with a count. The first group of a
   * caller asks for a lease sized by what the caller sent in the last lease period.
   */
  private sendBatch(batch: readonly Pending[]): void {
    const keys = new Map<string, number>();
    const rules = new Map<Rule, number>();
    const perRequest: number[] = [];
    /** Per group: its first request, its size (and where the script reads it), the lease it asks for. */
    const groups: Array<{ first: number; size: number; at: number; rules: readonly Rule[]; lease: Lease | null; period: number }> = [];
    const now = this.clock();
    batch.forEach((p, j) => {
      if (p.done && j > 0 && sameLimits(p, batch[j - 1]!)) {
        const g = groups.at(-1)!;
        g.size++;
        perRequest[g.at]!++;
        return;
      }
      const at = perRequest.length;
      // A caller's next lease alone is a group of no request (the requests after it may join it).
      const size = p.done ? 1 : 0;
      perRequest.push(size, p.rules.length);
      p.rules.forEach((rule, i) => {
        const key = p.keys[i]!;
        let k = keys.get(key);
        if (k === undefined) keys.set(key, (k = keys.size + 1));
        let r = rules.get(rule);
        if (r === undefined) rules.set(rule, (r = rules.size + 1));
        perRequest.push(k, r);
      });
      const period = leasePeriod(p.rules);
      let want = 0;
      if (period >= 50 && (!p.done || !p.lease.asking)) {
        p.lease.asking = true;
        // The caller's rate since it last asked (measured over at least a tenth of the period: one
        // burst is not a rate) over half a lease period: used up well before the period ends, so
        // that none is left unused when the caller keeps its pace, and asked for again ahead.
        const elapsed = Math.max(now - p.lease.since, period / 10);
        want = Math.min(MAX_LEASE, Math.ceil((p.lease.demand * period * 0.5) / elapsed));
        p.lease.demand = 0;
        p.lease.since = now;
      }
      perRequest.push(want, period);
      groups.push({ first: j + 1 - size, size, at, rules: p.rules, lease: want > 0 || !p.done ? p.lease : null, period });
    });
    const args: Array<string | number> = [keys.size, ...keys.keys(), this.now ? Math.floor(this.now()) : '', rules.size];
    for (const rule of rules.keys()) args.push(rule.limit, rule.window);
    args.push(LEASE_FLOOR, batch.filter((p) => p.done).length, groups.length);
    (this.client as unknown as WithDecide).sluiceRateLimit(...args, ...perRequest).then((reply) => {
      let at = 0;
      for (const g of groups) {
        for (let i = g.first; i < g.first + g.size; i++) {
          const p = batch[i]!;
          const rule = p.rules[reply[at + 1]! - 1]!;
          at += 4;
          settle(p, null, { admitted: reply[at - 4] === 1, rule, limit: rule.limit, remaining: reply[at - 2]!, resetMs: reply[at - 1]! });
        }
        const granted = reply[at]!, pick = reply[at + 1]!, remaining = reply[at + 2]!, resetMs = reply[at + 3]!;
        at += 4;
        const lease = g.lease;
        if (!lease) continue;
        lease.asking = false;
        if (granted <= 0) {
          // Too few free slots to lease: no more asking ahead until these slots are used (the
          // requests after them are decided in Redis one by one, and ask again).
          lease.lowWater = -1;
          lease.refreshAt = Infinity;
          continue;
        }
        // The slots are stamped at the end of the period on Redis's clock, counted from after this
        // call was sent: used until 90 % of it on this instance's clock, they are never late. Slots
        // still held from the lease before are used first, until their own (earlier) end.
        const expires = now + g.period * 0.9;
        if (lease.permits > 0 && this.clock() < lease.expires) {
          lease.next = granted;
          lease.nextExpires = expires;
        } else {
          lease.permits = granted;
          lease.expires = expires;
          lease.next = 0;
        }
        lease.lowWater = Math.floor(granted / 4);
        lease.refreshAt = now + g.period * 0.8;
        const rule = g.rules[pick - 1]!;
        lease.decision = { admitted: true, rule, limit: rule.limit, remaining, resetMs };
      }
    }, (err: Error) => {
      for (const g of groups) if (g.lease) g.lease.asking = false;
      for (const p of batch) settle(p, err);
    });
  }

  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
