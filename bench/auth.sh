#!/usr/bin/env bash
# Benchmark of issue 3, one command:   npm run bench:auth   (or: bash bench/auth.sh)
#
# Target: `pk` and `list` with a customer JWT and a row policy reach ≥ 0.9 × the req/s of the same
# workloads with full access (authentication + policy cost ≤ 10 %). Only that cost differs between
# the two modes:
#   A (full access)   Sluice with { auth: { anonRole: anon }, roles: { anon: '*' } }; requests carry
#                     no token. pk = GET /api/v1/orders/<an order of customer c>;
#                     list = GET /api/v1/orders?customer_id=<c>&limit=25 (the rows the policy gives c).
#   B (JWT + policy)  Sluice with { auth: { jwt: { secret, algorithms: [HS256] } }, roles: { customer:
#                     { orders: { read: { filter: { customer_id: $auth.sub } } } } } }, no anonymous
#                     role; requests carry `Authorization: Bearer <c's token>`. pk = the same URL;
#                     list = GET /api/v1/orders?limit=25 (the policy adds customer_id = sub).
# N customers (AUTH_CUSTOMERS, default 200; a fixed pseudo-random choice) with one order each; one
# HS256 JWT per customer (sub = customer id, role = customer, expires in 1 h) signed with a random
# 32-byte secret made for this run (bench/auth-tokens.mjs). wrk (-t1, like ../shared/bench/peers.sh)
# runs bench/auth.lua, which rotates through the N requests of the mode.
#
# Steps: npm run build; pick the customers from PostgreSQL; mint the tokens; then ROUNDS rounds of
# A, B (A, B, A, B, …). For each mode of each round: wait until the machine is quiet, start a fresh
# Sluice exactly as bench/run.sh does (same node flags, pool 16, port, default log level) plus
# `--config <temp dir>/config-<mode>.json`, check correctness (one curl + jq, then every request of
# the mode once through bench/auth-check.mjs: 200s, only the token's customer's rows, the same rows
# in both modes, 404/401 where the policy must refuse), warm up (WARMUP s of each workload, not
# recorded), then wrk pk and wrk list for DURATION s each, while bench/sampler.mjs samples /proc.
# Any non-2xx response or socket error in a measured run stops the benchmark (exit 1) after the
# mode's requests have been replayed one by one to name the failing one. Median req/s per mode and
# workload → bench/auth-report.mjs → bench/results/<stamp>-auth/ and the section between
# `<!-- auth:start -->` and `<!-- auth:end -->` of docs/benchmarks.md (bench/report.mjs keeps it).
#
# Environment: DURATION (s per wrk run, default 8), ROUNDS (default 3), CONNECTIONS (default 32),
# AUTH_CUSTOMERS (default 200), WARMUP (s per workload after each start, default 2), DATABASE_URL
# (default postgres://postgres@127.0.0.1/sluice_shop, loaded by `npm run bench` or
# ../shared/bench/peers.sh), SLUICE_PORT (default 3400), SLUICE_POOL_MAX (default 16), QUIET_WAIT /
# QUIET_BUSY (before each mode of each round wait up to QUIET_WAIT s, default 300, until the machine
# is at most QUIET_BUSY % busy over 3 s, default 20), AUTH_DOCS (file to write the section into,
# default docs/benchmarks.md). All traffic goes to 127.0.0.1; every load run is bounded in time.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# --- settings ----------------------------------------------------------------------------------
DURATION=${DURATION:-8} ROUNDS=${ROUNDS:-3} CONNECTIONS=${CONNECTIONS:-32}
AUTH_CUSTOMERS=${AUTH_CUSTOMERS:-200} WARMUP=${WARMUP:-2}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1/sluice_shop}
QUIET_WAIT=${QUIET_WAIT:-300} QUIET_BUSY=${QUIET_BUSY:-20}
MAX_REST=${MAX_REST:-0.25} ROUND_RETRIES=${ROUND_RETRIES:-2}
SLUICE_PORT=${SLUICE_PORT:-3400} SLUICE_POOL_MAX=${SLUICE_POOL_MAX:-16}
AUTH_DOCS=${AUTH_DOCS:-$repo/docs/benchmarks.md}
NODE=node_modules/.bin/node
for v in DURATION ROUNDS CONNECTIONS AUTH_CUSTOMERS WARMUP SLUICE_PORT SLUICE_POOL_MAX QUIET_WAIT QUIET_BUSY ROUND_RETRIES; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench:auth: $v must be a whole number (got '${!v}')" >&2; exit 2; }
done
[[ $MAX_REST =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "bench:auth: MAX_REST must be a share of one core such as 0.25 (got '$MAX_REST')" >&2; exit 2; }
[ "$AUTH_CUSTOMERS" -ge 2 ] || { echo "bench:auth: AUTH_CUSTOMERS must be at least 2" >&2; exit 2; }
[ -x "$NODE" ] || { echo "bench:auth: $NODE missing; run npm install" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench:auth: wrk missing (apt-get install -y wrk)" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench:auth: jq missing (apt-get install -y jq)" >&2; exit 1; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$repo/bench/results/$stamp-auth
mkdir -p "$out/wrk" "$out/checks"
tmp=$(mktemp -d /tmp/sluice-bench-auth.XXXXXX)   # configs (with the secret) and tokens: not kept
pidfile=$out/sluice.pid phasefile=$out/phase
log() { printf '[bench:auth %s] %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$out/run.log" >&2; }
phase() { echo "$1" > "$phasefile"; }
kv() { printf '%s=%s\n' "$1" "$2" >> "$out/meta.env"; }   # values are single-line
: > "$out/meta.env"; : > "$out/runs.ndjson"; : > "$out/discarded.txt"; phase setup

# --- cleanup: only processes this script started, by PID ---------------------------------------
sampler_pid="" spid=""
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null || true
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
port_busy() { ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }
if port_busy "$SLUICE_PORT"; then
  echo "bench:auth: port $SLUICE_PORT is already in use; stop that server first (a stale server would falsify the figures)" >&2
  ss -ltnpH "sport = :$SLUICE_PORT" >&2 || true
  exit 1
fi
started=$(date +%s)

# --- build and metadata ------------------------------------------------------------------------
log "results in ${out#"$repo"/}"
log "building (npm run build)"
npm run build >"$out/build.log" 2>&1 || { tail -20 "$out/build.log" >&2; exit 1; }
psq() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -tAc "$1"; }
psq "select to_regclass('public.orders') is not null and to_regclass('public.customers') is not null" 2>/dev/null | grep -q t \
  || { echo "bench:auth: $DATABASE_URL has no shop tables; load them first (npm run bench, or ../shared/bench/peers.sh with PEERS=\" \" WORKLOADS=\" \")" >&2; exit 1; }
source "$repo/bench/meta.sh"
record_machine
kv wrk "$(wrk -v 2>&1 | head -1 | cut -c1-60 || true)"
kv postgres "$(psq 'show server_version')"
kv orders "$(psq 'select count(*) from orders')"
kv customers_total "$(psq 'select count(*) from customers')"
kv duration "$DURATION"; kv rounds "$ROUNDS"; kv connections "$CONNECTIONS"; kv warmup "$WARMUP"
kv customers "$AUTH_CUSTOMERS"; kv port "$SLUICE_PORT"; kv pool "$SLUICE_POOL_MAX"; kv database_url "$DATABASE_URL"
kv threshold 0.9; kv quiet_busy "$QUIET_BUSY"; kv quiet_wait "$QUIET_WAIT"; kv max_rest "$MAX_REST"; kv round_retries "$ROUND_RETRIES"

# --- customers, configs, tokens ------------------------------------------------------------------
# N customers that have orders, in a fixed pseudo-random order (md5 of the id); for each, its
# lowest order id and its number of orders (the list check expects min(25, orders) rows).
log "picking $AUTH_CUSTOMERS customers with orders"
psq "select customer_id, min(id), count(*) from orders group by customer_id order by md5(customer_id::text) limit $AUTH_CUSTOMERS" \
  | tr '|' '\t' > "$out/customers.tsv"
[ "$(wc -l < "$out/customers.tsv")" -eq "$AUTH_CUSTOMERS" ] || { echo "bench:auth: fewer than $AUTH_CUSTOMERS customers with orders" >&2; exit 1; }
kv customer_orders "$(awk -F'\t' '{n+=$3; if($3>m)m=$3; if(!mn||$3<mn)mn=$3} END{if(mn==m) printf "%d orders, %d per customer", n, m; else printf "%d orders, %d to %d per customer", n, mn, m}' "$out/customers.tsv")"
secret=$("$NODE" -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64url"))')   # 43 bytes
write_configs() { # write_configs DIR SECRET
  cat > "$1/config-A.json" <<EOF
{ "auth": { "anonRole": "anon" },
  "roles": { "anon": "*" } }
EOF
  cat > "$1/config-B.json" <<EOF
{ "auth": { "jwt": { "secret": "$2", "algorithms": ["HS256"] } },
  "roles": { "customer": { "orders": { "read": { "filter": { "customer_id": "\$auth.sub" } } } } } }
EOF
}
write_configs "$tmp" "$secret"
write_configs "$out" "<random 32 bytes, base64url, made for this run and not kept>"
AUTH_SECRET=$secret "$NODE" bench/auth-tokens.mjs "$out/customers.tsv" "$tmp" | tee -a "$out/run.log" >&2
for f in pk-A list-A pk-B list-B; do cut -f1 "$tmp/$f.targets" > "$out/$f.paths"; done   # without the tokens

# --- helpers -------------------------------------------------------------------------------------
sluice_cmd="env SLUICE_SERVER_DRAIN_DELAY=0s SLUICE_DATABASE_POOL_MAX=$SLUICE_POOL_MAX $NODE --max-semi-space-size=4 dist/cli/main.js serve --db $DATABASE_URL --port $SLUICE_PORT"
kv sluice_cmd "$sluice_cmd --config <tmp>/config-{A,B}.json"
base=http://127.0.0.1:$SLUICE_PORT
# busy_pct and wait_quiet NAME (QUIET_WAIT, QUIET_BUSY; logs with log and kv).
source "$repo/bench/quiet.sh"
# CPU ticks (utime + stime) of a process or thread from its stat file.
ticks() { local s; s=$(cat "$1" 2>/dev/null) || { echo 0; return; }; s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }
start_sluice() { # start_sluice MODE ROUND
  bash -c "echo \$\$ > '$pidfile' && exec $sluice_cmd --config '$tmp/config-$1.json'" >"$out/sluice-$1-r$2.log" 2>&1 &
  spid=$!
  for _ in $(seq 1 120); do
    curl -sf -o /dev/null "$base/health/live" && return 0
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.5
  done
  log "Sluice ($1, round $2) did not start:"; tail -20 "$out/sluice-$1-r$2.log" >&2; exit 1
}
stop_sluice() {
  kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; spid=""
  for _ in $(seq 1 20); do port_busy "$SLUICE_PORT" || return 0; sleep 0.25; done
  log "port $SLUICE_PORT still busy after stopping Sluice"; exit 1
}
# check MODE ROUND: one curl (asserted with jq) and every request of the mode once (auth-check.mjs).
check() {
  local mode=$1 r=$2 c n path token code f=$out/checks/curl-$1-r$2
  IFS=$'\t' read -r c _ n < "$out/customers.tsv"
  IFS=$'\t' read -r path token < "$tmp/list-$mode.targets"
  if [ -n "$token" ]; then
    code=$(curl -s -o "$f.json" -w '%{http_code}' -H "Authorization: Bearer $token" "$base$path")
    echo "curl -s -H 'Authorization: Bearer <token of customer $c>' '$base$path' → HTTP $code" > "$f.txt"
  else
    code=$(curl -s -o "$f.json" -w '%{http_code}' "$base$path")
    echo "curl -s '$base$path' → HTTP $code" > "$f.txt"
  fi
  local expect=$(( n < 25 ? n : 25 ))
  if [ "$code" = 200 ] && jq -e --argjson c "$c" --argjson n "$expect" '(.data | length) == $n and all(.data[]; .customer_id == $c)' "$f.json" >/dev/null; then
    echo "jq: $expect rows, all with customer_id $c: ok" >> "$f.txt"
  else
    echo "jq: expected HTTP 200 and $expect rows, all with customer_id $c: FAILED; body: $(head -c 1500 "$f.json")" >> "$f.txt"
    cat "$f.txt" >&2; log "correctness check failed ($mode, round $r)"; exit 1
  fi
  log "check $mode: $(head -1 "$f.txt") ($(tail -1 "$f.txt"))"
  "$NODE" bench/auth-check.mjs "$mode" "$base" "$tmp" "$out/customers.tsv" "$tmp/bodies-A.json" > "$out/checks/all-$mode-r$r.txt" 2>&1 \
    || { cat "$out/checks/all-$mode-r$r.txt" >&2; log "correctness check failed ($mode, round $r)"; exit 1; }
  log "check $mode: $(cat "$out/checks/all-$mode-r$r.txt")"
}
# errors in a wrk output: non-2xx (or 3xx) responses + socket errors (connect, read, write, timeout).
wrk_errors() { awk '/Non-2xx/{n+=$NF} /Socket errors/{gsub(/[^0-9 ]/," "); for(i=1;i<=NF;i++) n+=$i} END{print n+0}' "$1"; }
measure() { # measure MODE WORKLOAD ROUND ATTEMPT
  local mode=$1 w=$2 r=$3 a=$4 name c0 m0 c1 m1 t0 t1 rc=0 err f
  name=$mode-$w-r$r; [ "$a" -gt 1 ] && name=$name-a$a
  f=$out/wrk/$name.txt
  c0=$(ticks "/proc/$spid/stat"); m0=$(ticks "/proc/$spid/task/$spid/stat"); t0=$(date +%s%N)
  phase "$name"
  AUTH_TARGETS=$tmp/$w-$mode.targets wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/auth.lua "$base" > "$f" 2>&1 || rc=$?
  phase between
  t1=$(date +%s%N); c1=$(ticks "/proc/$spid/stat"); m1=$(ticks "/proc/$spid/task/$spid/stat")
  err=$(wrk_errors "$f")
  printf '{"mode":"%s","workload":"%s","round":%s,"attempt":%s,"phase":"%s","file":"wrk/%s","sluice_cpu_ticks":%s,"sluice_main_ticks":%s,"wall_ns":%s,"errors":%s,"wrk_rc":%s}\n' \
    "$mode" "$w" "$r" "$a" "$name" "${f##*/}" "$((c1 - c0))" "$((m1 - m0))" "$((t1 - t0))" "$err" "$rc" >> "$out/runs.ndjson"
  log "$name: $(awk '/Requests\/sec/{print $2}' "$f") req/s, p99 $(awk '$1=="99%"{print $2}' "$f"), errors $err"
  if [ "$rc" -ne 0 ] || [ "$err" -ne 0 ] || ! grep -q 'Requests/sec' "$f"; then
    log "FAILED: wrk exit $rc, $err non-2xx responses or socket errors in ${f#"$repo"/}:"; cat "$f" >&2
    log "replaying every request of mode $mode once to find the failing one:"
    "$NODE" bench/auth-check.mjs "$mode" "$base" "$tmp" "$out/customers.tsv" "$tmp/bodies-A.json" >&2 || true
    tail -20 "$out/sluice-$mode-r$r${name##*-r$r}.log" >&2
    exit 1
  fi
}

# --- measured rounds -----------------------------------------------------------------------------
dbname=${DATABASE_URL##*/}; dbname=${dbname%%\?*}
"$NODE" bench/sampler.mjs --out "$out/samples.ndjson" --pidfile "$pidfile" --phase-file "$phasefile" --db "$dbname" \
  --processes "$out/processes.ndjson" --interval 500 &
sampler_pid=$!
log "rounds: $ROUNDS of A (full access) and B (customer JWT + row policy); wrk -t1 -c$CONNECTIONS -d${DURATION}s per workload, $AUTH_CUSTOMERS customers"
for r in $(seq 1 "$ROUNDS"); do
  for a in $(seq 1 $((ROUND_RETRIES + 1))); do
    suffix=""; [ "$a" -gt 1 ] && suffix=-a$a
    for mode in A B; do
      phase between
      wait_quiet "$mode-r$r$suffix"
      start_sluice "$mode" "$r$suffix"
      check "$mode" "$r$suffix"
      phase warmup
      for w in pk list; do AUTH_TARGETS=$tmp/$w-$mode.targets wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s bench/auth.lua "$base" >/dev/null 2>&1 || true; done
      phase between
      for w in pk list; do measure "$mode" "$w" "$r" "$a"; done
      kv "rss_after_$mode-r$r${suffix}_kb" "$(awk '/^VmRSS/{print $2}' "/proc/$spid/status")"
      stop_sluice
    done
    # Other work (tests, builds of other sessions) during any of the round's four runs: repeat it.
    sleep 0.6   # one more sampler tick
    disturbed=$("$NODE" bench/auth-usage.mjs "$out" "$MAX_REST" {A,B}-{pk,list}-r"$r$suffix")
    [ -z "$disturbed" ] && break
    if [ "$a" -gt "$ROUND_RETRIES" ]; then
      log "round $r: still disturbed after $ROUND_RETRIES repeats, keeping it: $(tr '\n' ';' <<<"$disturbed")"; break
    fi
    log "round $r: other work during the round (phase, share of a core: $(tr '\n' ';' <<<"$disturbed")); repeating it"
    echo "round $r attempt $a: $(echo {A,B}-{pk,list}-r"$r$suffix") (other work: $(tr '\n' ';' <<<"$disturbed" | sed 's/;$//; s/;/; /g'))" >> "$out/discarded.txt"
  done
done
phase done
sleep 0.6
kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
kv elapsed_s "$(( $(date +%s) - started ))"

# --- report --------------------------------------------------------------------------------------
"$NODE" bench/auth-report.mjs "$out" "$AUTH_DOCS" | tee -a "$out/run.log"
log "raw outputs in ${out#"$repo"/}; section written to ${AUTH_DOCS#"$repo"/}"
