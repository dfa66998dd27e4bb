#!/usr/bin/env bash
# Benchmark of issue 4, one command:   npm run bench:cache   (or: bash bench/cache.sh)
#
# Targets (same run):
#   - a cache hit (the pk and list URLs repeated) ≥ 0.7 × the `hello` ceiling of peers.sh (the
#     hand-written Fastify baseline answering {"hello":"world"});
#   - a hot-key mix (90 % of requests on 1 % of the ids, the rest uniform over all ids) ≥ 3 × the
#     throughput of uncached pk (random ids over all orders, the peers.sh pk workload), measured
#     with the default admission (every response stored, Sluice A) and with `cache.minUses: 2`
#     (Sluice C: the long tail of one-off ids is not stored), both reported;
#   - p99 latency of a cache hit ≤ 5 ms at CONNECTIONS (32) connections.
#
# Processes: the baseline of ../shared/bench (installed by peers.sh), Sluice A with the response
# cache on and Redis (`cache: { ttl: 10m }`, `redis.url`, as a scaled-out deployment runs it) and
# Sluice B with no cache, Sluice C as A with `cache.minUses: 2`; all as bench/run.sh starts Sluice (node flags, pool 16, anonymous full
# access). And bench/bytes-server.mjs: node:http answering with the very bytes of A's pk hit and
# doing nothing else — the floor of a hit's cost in Node, which bounds what the hot-key mix can
# reach. Each gets the same warm-up (WARMUP s on its cheapest route: /hello, /, /health/live); A's
# hot-key mix is run once unmeasured first, so the hot keys are in the cache (a cold cache is a
# different figure: every first request is a miss).
# Then ROUNDS short rounds of: A pk-hit (GET /api/v1/orders/1 repeated), baseline hello, A list-hit
# (GET /api/v1/orders?status=paid&limit=25&sort=id repeated), A hot-key mix, B pk uncached (random
# ids), C hot-key mix, the bytes server — every other round in reverse, so that the two sides of
# each comparison run back to back. Each response of A's runs is checked once beforehand (status, X-Cache: HIT, the row
# asked). A figure is the median over the rounds of its ratio within the round (the machine's speed
# drifts by tens of per cent between minutes; adjacent short runs share it) → bench/cache-report.mjs → bench/results/<stamp>-cache/ and the section
# between `<!-- cache:start -->` and `<!-- cache:end -->` of docs/benchmarks.md.
#
# Environment: DURATION (s per wrk run, default 3), ROUNDS (default 20), CONNECTIONS (default 32),
# WARMUP (s, default 20), DATABASE_URL (default postgres://postgres@127.0.0.1/sluice_shop, loaded by
# `npm run bench`), REDIS_URL (default redis://127.0.0.1:6379), PEERS_DIR (default
# /tmp/sluice-peers), SHARED_DIR, QUIET_WAIT / QUIET_BUSY (as bench/run.sh). All traffic goes to
# 127.0.0.1; every load run is bounded in time.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
DURATION=${DURATION:-3} ROUNDS=${ROUNDS:-20} CONNECTIONS=${CONNECTIONS:-32} WARMUP=${WARMUP:-20}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1/sluice_shop}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export PEERS_DIR=${PEERS_DIR:-/tmp/sluice-peers}
QUIET_WAIT=${QUIET_WAIT:-300} QUIET_BUSY=${QUIET_BUSY:-20}
NODE=node_modules/.bin/node
PORT_BASE=3100 PORT_A=3400 PORT_B=3401 PORT_C=3402 PORT_BYTES=3403
source "$repo/bench/meta.sh"
bench_start bench:cache cache $PORT_BASE $PORT_A $PORT_B $PORT_C $PORT_BYTES
kv duration "$DURATION"; kv rounds "$ROUNDS"; kv connections "$CONNECTIONS"; kv warmup "$WARMUP"

# The data set and the baseline's install (peers.sh does both when missing).
PEERS=" " WORKLOADS=" " bash "$shared/bench/peers.sh" >"$out/data.log" 2>&1 || { cat "$out/data.log" >&2; exit 1; }
PEERS=baseline WORKLOADS=" " bash "$shared/bench/peers.sh" >"$out/install.log" 2>&1 || { cat "$out/install.log" >&2; exit 1; }
kv orders "$(psql "$DATABASE_URL" -tAc 'select count(*) from orders')"

# --- processes -----------------------------------------------------------------------------------
cp "$shared/bench/baseline.mjs" "$PEERS_DIR/n24/baseline.mjs"
DATABASE_URL=$DATABASE_URL PORT=$PORT_BASE "$PEERS_DIR/n24/node_modules/.bin/node" "$PEERS_DIR/n24/baseline.mjs" >"$out/baseline.log" 2>&1 &
pids+=($!)
prefix="sluice-bench-$stamp:"
# No log line per request, like the baseline (`logger: false`) whose /hello is the ceiling; see bench/run.sh.
printf 'auth: { anonRole: anon }\nroles: { anon: "*" }\nlog: { requests: false }\ncache: { ttl: 10m, maxBytes: 64mb }\nredis: { url: "%s", prefix: "%s" }\n' "$REDIS_URL" "$prefix" > "$out/config-a.yaml"
printf 'auth: { anonRole: anon }\nroles: { anon: "*" }\nlog: { requests: false }\n' > "$out/config-b.yaml"
printf 'auth: { anonRole: anon }\nroles: { anon: "*" }\nlog: { requests: false }\ncache: { ttl: 10m, maxBytes: 64mb, minUses: 2 }\nredis: { url: "%s", prefix: "%sc:" }\n' "$REDIS_URL" "$prefix" > "$out/config-c.yaml"
start_sluice() { # PORT CONFIG LOG
  env SLUICE_SERVER_DRAIN_DELAY=0s SLUICE_DATABASE_POOL_MAX=16 "$NODE" --max-semi-space-size=4 dist/cli/main.js serve --db "$DATABASE_URL" --port "$1" --config "$2" >"$3" 2>&1 &
  pids+=($!)
}
start_sluice $PORT_A "$out/config-a.yaml" "$out/sluice-a.log"
start_sluice $PORT_B "$out/config-b.yaml" "$out/sluice-b.log"
start_sluice $PORT_C "$out/config-c.yaml" "$out/sluice-c.log"
kv sluice_cmd "env SLUICE_SERVER_DRAIN_DELAY=0s SLUICE_DATABASE_POOL_MAX=16 $NODE --max-semi-space-size=4 dist/cli/main.js serve --db $DATABASE_URL --port <port> --config <config>"
for url in "http://127.0.0.1:$PORT_BASE/hello" "http://127.0.0.1:$PORT_A/health/live" "http://127.0.0.1:$PORT_B/health/live" "http://127.0.0.1:$PORT_C/health/live"; do
  for _ in $(seq 1 120); do curl -sf -o /dev/null "$url" && break; sleep 0.5; done
  curl -sf -o /dev/null "$url" || { log "$url did not come up"; tail "$out"/*.log >&2; exit 1; }
done

# --- wrk scripts -------------------------------------------------------------------------------------
# Random ids over all orders (peers.sh's pk), and the hot-key mix: 90 % on the first 1 % of ids.
orders=$(psql "$DATABASE_URL" -tAc 'select max(id) from orders')
hot=$(( orders / 100 ))
cat > "$out/random.lua" <<EOF
math.randomseed(42)
request = function() return wrk.format("GET", string.format(wrk.path, math.random(1, $orders))) end
EOF
cat > "$out/hot.lua" <<EOF
math.randomseed(7)
request = function()
  local id
  if math.random() < 0.9 then id = math.random(1, $hot) else id = math.random(1, $orders) end
  return wrk.format("GET", string.format(wrk.path, id))
end
EOF
kv hot_ids "$hot"; kv all_ids "$orders"

A=http://127.0.0.1:$PORT_A/api/v1
declare -A CASE=(
  [baseline-hello]="http://127.0.0.1:$PORT_BASE/hello"
  [hit-pk]="$A/orders/1"
  [hit-list]="$A/orders?status=paid&limit=25&sort=id"
  [hot-mix]="$A/orders/%d"
  [hot-mix-admit]="http://127.0.0.1:$PORT_C/api/v1/orders/%d"
  [uncached-pk]="http://127.0.0.1:$PORT_B/api/v1/orders/%d"
  [node-bytes]="http://127.0.0.1:$PORT_BYTES/"
)
declare -A SCRIPT=([hot-mix]="$out/hot.lua" [hot-mix-admit]="$out/hot.lua" [uncached-pk]="$out/random.lua")
order="hit-pk baseline-hello hit-list hot-mix uncached-pk hot-mix-admit node-bytes"
reversed="node-bytes hot-mix-admit uncached-pk hot-mix hit-list baseline-hello hit-pk"

# --- correctness: what the measured runs will get --------------------------------------------------
check() { # NAME URL EXPECT_JQ
  curl -s -D "$out/check-$1.headers" -o "$out/check-$1.body" "$2"
  grep -qi '^x-cache: HIT' "$out/check-$1.headers" || { log "check $1: no X-Cache: HIT"; cat "$out/check-$1.headers" >&2; exit 1; }
  jq -e "$3" "$out/check-$1.body" >/dev/null || { log "check $1: unexpected body"; head -c 400 "$out/check-$1.body" >&2; exit 1; }
}
curl -s -o /dev/null "$A/orders/1"; curl -s -o /dev/null "$A/orders?status=paid&limit=25&sort=id"
check hit-pk "$A/orders/1" '.data.id == 1'
check hit-list "$A/orders?status=paid&limit=25&sort=id" '(.data | length) == 25 and all(.data[]; .status == "paid")'

# The floor of a hit's cost: node:http sending the pk hit's response just checked, doing nothing else.
PORT=$PORT_BYTES "$NODE" bench/bytes-server.mjs "$out/check-hit-pk.headers" "$out/check-hit-pk.body" >"$out/bytes.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 40); do curl -sf -o /dev/null "http://127.0.0.1:$PORT_BYTES/" && break; sleep 0.25; done
cmp -s <(curl -s "http://127.0.0.1:$PORT_BYTES/") "$out/check-hit-pk.body" || { log "the bytes server does not answer with the hit's body"; exit 1; }

# --- warm-up (not recorded) ----------------------------------------------------------------------
source "$repo/bench/quiet.sh"
wait_quiet cache
log "warm-up: $WARMUP s each on /hello (baseline), the bytes server and /health/live (Sluice A, B, C); then the hot-key mix on A and C"
wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$PORT_BASE/hello" >/dev/null 2>&1
wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$PORT_BYTES/" >/dev/null 2>&1
wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$PORT_A/health/live" >/dev/null 2>&1
wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$PORT_B/health/live" >/dev/null 2>&1
wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$PORT_C/health/live" >/dev/null 2>&1
wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$out/hot.lua" "$A/orders/%d" > "$out/warmup-hot-mix.txt" 2>&1
wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$out/hot.lua" "http://127.0.0.1:$PORT_C/api/v1/orders/%d" > "$out/warmup-hot-mix-admit.txt" 2>&1
kv warmup_hot_mix "$(awk '/Requests\/sec/{print $2}' "$out/warmup-hot-mix.txt") req/s"
kv warmup_hot_mix_admit "$(awk '/Requests\/sec/{print $2}' "$out/warmup-hot-mix-admit.txt") req/s"

# --- measured rounds -------------------------------------------------------------------------------
measure_rounds "$order" "$reversed"
redis-cli -u "$REDIS_URL" --scan --pattern "${prefix}*" | head -1 > "$out/redis-sample.txt" || true
kv redis_keys "$(redis-cli -u "$REDIS_URL" --scan --pattern "${prefix}*" | wc -l)"
cleanup; pids=()
redis-cli -u "$REDIS_URL" --scan --pattern "${prefix}*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null || true

"$NODE" bench/cache-report.mjs "$out" "$repo/docs/benchmarks.md"
log "wrote the cache section of docs/benchmarks.md (raw outputs in ${out#"$repo"/})"
