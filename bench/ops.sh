#!/usr/bin/env bash
# Benchmark of issue 5, one command:   npm run bench:ops   (or: bash bench/ops.sh)
#
# Targets (same run):
#   - rate limiting with Redis costs ≤ 10 % on `pk` versus no limits: Sluice N (no limits) and
#     Sluice L (two limits — per IP and per role — counted in Redis, high enough that nothing is
#     refused: every response must be a 200), both on peers.sh's pk (random ids over all orders);
#   - `--workers 2` on this 2-core machine ≥ 1.3 × one worker on a cached read: Sluice W1 and W2
#     (the in-process response cache, `GET /api/v1/orders/1` repeated: a hit), wrk on the same
#     two cores.
# N and L run as two processes each (N2, L2: same configuration): two identical processes differ
# by a few per cent (JIT decisions, memory layout), so each side is the sum of its two; N2 ÷ N says
# how far two identical servers differ in this harness, i.e. how fine a difference it can tell.
# All six run with Sluice's default operations settings (request logs, metrics) and as
# bench/run.sh starts Sluice (node flags, pool 16, anonymous full access). Each gets WARMUP s on
# /health/live first and one unmeasured run of its case. Then ROUNDS short rounds of the six in
# turn (every other round in reverse): a figure is the median of the ratios of its two
# cases within each round, measured back to back — on a machine whose speed drifts by tens of per
# cent from one minute to the next, many short adjacent pairs tell a small difference where a few
# long runs do not → bench/ops-report.mjs → bench/results/<stamp>-ops/ and the section between
# `<!-- ops:start -->` and `<!-- ops:end -->` of docs/benchmarks.md.
#
# Environment: DURATION (s per wrk run, default 3), ROUNDS (default 20), CONNECTIONS (default 32),
# WARMUP (s, default 10), DATABASE_URL (default postgres://postgres@127.0.0.1/sluice_shop, loaded by
# `npm run bench`), REDIS_URL (default redis://127.0.0.1:6379), SHARED_DIR, QUIET_WAIT / QUIET_BUSY
# (as bench/run.sh). All traffic goes to 127.0.0.1; every load run is bounded in time.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
DURATION=${DURATION:-3} ROUNDS=${ROUNDS:-20} CONNECTIONS=${CONNECTIONS:-32} WARMUP=${WARMUP:-10}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1/sluice_shop}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
QUIET_WAIT=${QUIET_WAIT:-300} QUIET_BUSY=${QUIET_BUSY:-20}
NODE=node_modules/.bin/node
PORT_N=3400 PORT_L=3401 PORT_W1=3402 PORT_W2=3403 PORT_N2=3404 PORT_L2=3405
source "$repo/bench/meta.sh"
bench_start bench:ops ops $PORT_N $PORT_L $PORT_W1 $PORT_W2 $PORT_N2 $PORT_L2
kv duration "$DURATION"; kv rounds "$ROUNDS"; kv connections "$CONNECTIONS"; kv warmup "$WARMUP"
PEERS=" " WORKLOADS=" " bash "$shared/bench/peers.sh" >"$out/data.log" 2>&1 || { cat "$out/data.log" >&2; exit 1; }
kv orders "$(psql "$DATABASE_URL" -tAc 'select count(*) from orders')"

# --- processes -----------------------------------------------------------------------------------
prefix="sluice-bench-$stamp:"
base='auth: { anonRole: anon }\nroles: { anon: "*" }\n'
printf "$base" > "$out/config-n.yaml"
# 100,000 per 3 s per IP and per role: far above what this machine serves, so nothing is refused
# (checked: wrk must see no non-2xx), while every request is decided in Redis against both logs.
printf "${base}redis: { url: \"%s\", prefix: \"%s\" }\nrateLimits:\n  - { name: per-ip, key: ip, limit: 100000, window: 3s }\n  - { name: per-role, key: role, limit: 100000, window: 3s }\n" "$REDIS_URL" "$prefix" > "$out/config-l.yaml"
printf "${base}cache: { ttl: 10m }\n" > "$out/config-w.yaml"
start_sluice() { # PORT CONFIG LOG [extra args]
  local port=$1 config=$2 logf=$3; shift 3
  env SLUICE_SERVER_DRAIN_DELAY=0s SLUICE_DATABASE_POOL_MAX=16 "$NODE" --max-semi-space-size=4 dist/cli/main.js serve --db "$DATABASE_URL" --port "$port" --config "$config" "$@" >"$logf" 2>&1 &
  pids+=($!)
}
start_sluice $PORT_N "$out/config-n.yaml" "$out/sluice-n.log"
start_sluice $PORT_L "$out/config-l.yaml" "$out/sluice-l.log"
start_sluice $PORT_W1 "$out/config-w.yaml" "$out/sluice-w1.log" --workers 1
start_sluice $PORT_W2 "$out/config-w.yaml" "$out/sluice-w2.log" --workers 2
start_sluice $PORT_N2 "$out/config-n.yaml" "$out/sluice-n2.log"
start_sluice $PORT_L2 "$out/config-l.yaml" "$out/sluice-l2.log"
kv sluice_cmd "env SLUICE_SERVER_DRAIN_DELAY=0s SLUICE_DATABASE_POOL_MAX=16 $NODE --max-semi-space-size=4 dist/cli/main.js serve --db $DATABASE_URL --port <port> --config <config> [--workers N]"
for port in $PORT_N $PORT_L $PORT_W1 $PORT_W2 $PORT_N2 $PORT_L2; do
  url="http://127.0.0.1:$port/health/live"
  for _ in $(seq 1 120); do curl -sf -o /dev/null "$url" && break; sleep 0.5; done
  curl -sf -o /dev/null "$url" || { log "$url did not come up"; tail "$out"/*.log >&2; exit 1; }
done

orders=$(psql "$DATABASE_URL" -tAc 'select max(id) from orders')
cat > "$out/random.lua" <<LUA
math.randomseed(42)
request = function() return wrk.format("GET", string.format(wrk.path, math.random(1, $orders))) end
LUA
declare -A CASE=(
  [pk-nolimits]="http://127.0.0.1:$PORT_N/api/v1/orders/%d"
  [pk-nolimits-twin]="http://127.0.0.1:$PORT_N2/api/v1/orders/%d"
  [pk-redis-limits-twin]="http://127.0.0.1:$PORT_L2/api/v1/orders/%d"
  [pk-redis-limits]="http://127.0.0.1:$PORT_L/api/v1/orders/%d"
  [hit-1-worker]="http://127.0.0.1:$PORT_W1/api/v1/orders/1"
  [hit-2-workers]="http://127.0.0.1:$PORT_W2/api/v1/orders/1"
)
declare -A SCRIPT=([pk-nolimits]="$out/random.lua" [pk-nolimits-twin]="$out/random.lua" [pk-redis-limits]="$out/random.lua" [pk-redis-limits-twin]="$out/random.lua")
order="pk-nolimits pk-redis-limits pk-redis-limits-twin pk-nolimits-twin hit-1-worker hit-2-workers"

# --- correctness of what will be measured ------------------------------------------------------------
curl -s -D "$out/check-limits.headers" -o /dev/null "http://127.0.0.1:$PORT_L/api/v1/orders/1"
grep -qi '^ratelimit-limit: 100000' "$out/check-limits.headers" || { log "check: L does not answer with RateLimit headers"; cat "$out/check-limits.headers" >&2; exit 1; }
for port in $PORT_W1 $PORT_W2; do
  for _ in 1 2 3 4; do curl -s -o /dev/null "http://127.0.0.1:$port/api/v1/orders/1"; done
  curl -s -D "$out/check-w$port.headers" -o /dev/null "http://127.0.0.1:$port/api/v1/orders/1"
  grep -qi '^x-cache: HIT' "$out/check-w$port.headers" || { log "check: port $port does not answer from its cache"; cat "$out/check-w$port.headers" >&2; exit 1; }
done
workers=$(pgrep -P "${pids[3]}" | wc -l)
kv w2_worker_processes "$workers"

# --- warm-up and measured rounds -------------------------------------------------------------------
source "$repo/bench/quiet.sh"
wait_quiet ops
log "warm-up: $WARMUP s on /health/live of each, and one unmeasured run of each case"
for port in $PORT_N $PORT_L $PORT_W1 $PORT_W2 $PORT_N2 $PORT_L2; do wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$port/health/live" >/dev/null 2>&1; done
for c in $order; do
  args=(-t1 -c"$CONNECTIONS" -d"${WARMUP}s"); [ -n "${SCRIPT[$c]:-}" ] && args+=(-s "${SCRIPT[$c]}")
  wrk "${args[@]}" "${CASE[$c]}" >/dev/null 2>&1 || true
done
# Each round measures the cases back to back, N L L2 N2 W1 W2, then L N N2 L2 W2 W1 in the next
# round, …: the report takes each comparison's ratio within its round, so that a machine that
# speeds up or slows down meanwhile treats both sides alike.
reversed="pk-redis-limits pk-nolimits pk-nolimits-twin pk-redis-limits-twin hit-2-workers hit-1-worker"
measure_rounds "$order" "$reversed"
redis-cli -u "$REDIS_URL" info commandstats | grep -E 'cmdstat_(evalsha|eval):' > "$out/redis-commandstats.txt" || true
cleanup; pids=()
redis-cli -u "$REDIS_URL" --scan --pattern "${prefix}*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null || true

"$NODE" bench/ops-report.mjs "$out" "$repo/docs/benchmarks.md"
log "wrote the ops section of docs/benchmarks.md (raw outputs in ${out#"$repo"/})"
