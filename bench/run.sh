#!/usr/bin/env bash
# Benchmarks of issue 2, one command:   npm run bench   (or: bash bench/run.sh)
#
#  1. builds Sluice (npm run build);
#  2. makes sure the PostgreSQL shop data set is loaded (scale 1: 1M orders, 2.5M items) by running the
#     shared ../shared/bench/peers.sh with no peers and no workloads (it creates and loads the database
#     when its tables are missing);
#  3. starts every peer alone once (preflight); a peer that cannot install or start is left out of the
#     measured run, with the reason written to the results;
#  4. starts Sluice (port 3400), warms it up as peers.sh's hello warms the baseline, runs peers.sh with
#     SLUICE_URL set beside the hand-written baseline and the
#     peers that passed the preflight, while bench/sampler.mjs samples /proc every 0.5 s (Sluice RSS,
#     CPU of Sluice, the peers, PostgreSQL and wrk);
#  5. starts Sluice again and measures: streaming all orders as NDJSON and CSV (time, lines, peak RSS);
#     keyset pagination page 1 vs page 40,000 (sort=id and sort=-created_at) and, for contrast, offset
#     pagination at offset 999,975, all with wrk;
#  6. writes raw outputs to bench/results/<UTC timestamp>/ and docs/benchmarks.md (bench/report.mjs).
#
# Environment: DURATION (s per wrk run, default 8), ROUNDS (default 3: the median of three rounds
# is steadier on this noisy machine than peers.sh's default of two), CONNECTIONS (default 32), PEERS
# (default "baseline platformatic directus"), WORKLOADS (default all of peers.sh), DATABASE_URL
# (default postgres://postgres@127.0.0.1/sluice_shop), SHARED_DIR (folder holding bench/peers.sh;
# default: the "shared" folder next to the repository), PEERS_DIR (default /tmp/sluice-peers),
# SLUICE_POOL_MAX (Sluice's pool, default 16 like the baseline and the peers),
# KEYSET_DURATION (s per pagination wrk run, default 5), KEYSET_ROUNDS (default 3), SLUICE_PORT
# (default 3400), QUIET_WAIT / QUIET_BUSY (before each measured part, wait up to QUIET_WAIT s, default
# 300, until the machine is at most QUIET_BUSY % busy, default 20: other work on the machine skews
# the figures; the report says how busy it was).
# All traffic goes to 127.0.0.1; every load run is bounded in time.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# --- settings ----------------------------------------------------------------------------------
export DURATION=${DURATION:-8} ROUNDS=${ROUNDS:-3} CONNECTIONS=${CONNECTIONS:-32}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1/sluice_shop}
export PEERS_DIR=${PEERS_DIR:-/tmp/sluice-peers}
PEERS=${PEERS:-"baseline platformatic directus"}
KEYSET_DURATION=${KEYSET_DURATION:-5}
KEYSET_ROUNDS=${KEYSET_ROUNDS:-3}
QUIET_WAIT=${QUIET_WAIT:-300} QUIET_BUSY=${QUIET_BUSY:-20}
SLUICE_PORT=${SLUICE_PORT:-3400}
NODE=node_modules/.bin/node
unset SLUICE_START SLUICE_URL   # SLUICE_URL is set below for the measured run only
PAGE=40000 LIMIT=25

find_shared() {
  local c
  for c in "${SHARED_DIR:-}" "$repo/../shared" \
           "$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)/../../shared"; do
    [ -n "$c" ] && [ -f "$c/bench/peers.sh" ] && { (cd "$c" && pwd); return 0; }
  done
  # walk up from the repository: any ancestor's "shared/bench/peers.sh"
  c=$repo
  while [ "$c" != / ]; do
    c=$(dirname "$c")
    [ -f "$c/shared/bench/peers.sh" ] && { echo "$c/shared"; return 0; }
  done
  return 1
}
shared=$(find_shared) || { echo "bench: cannot find shared/bench/peers.sh; set SHARED_DIR" >&2; exit 1; }
PEERS_SH=$shared/bench/peers.sh
[ -x "$NODE" ] || { echo "bench: $NODE missing; run npm install" >&2; exit 1; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$repo/bench/results/$stamp
mkdir -p "$out/keyset" "$out/peer-logs" "$repo/docs"
pidfile=$out/sluice.pid phasefile=$out/phase
log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$out/run.log" >&2; }
phase() { echo "$1" > "$phasefile"; }
kv() { printf '%s=%s\n' "$1" "$2" >> "$out/meta.env"; }   # values are single-line
: > "$out/meta.env"; phase setup

# --- cleanup: only processes this script started, by PID ---------------------------------------
own_pids=()
cleanup() {
  local p
  for p in "${own_pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
ports="3100 3200 3300 $SLUICE_PORT"
port_busy() { ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }
# After a peers.sh run every port must be free again. Anything still listening was started by this
# run (the ports were checked free at the start): end it by PID and say so.
reap_ports() {
  local port pid
  for port in $ports; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do port_busy "$port" || break; sleep 0.5; done
    port_busy "$port" || continue
    for pid in $(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
      log "port $port still held after peers.sh by pid $pid ($(tr '\0' ' ' < "/proc/$pid/cmdline" | cut -c1-120)); ending it"
      kill "$pid" 2>/dev/null || true
    done
    sleep 1
  done
}
for port in $ports; do
  if port_busy "$port"; then
    echo "bench: port $port is already in use; stop that server first (a stale server would falsify the figures)" >&2
    ss -ltnpH "sport = :$port" >&2 || true
    exit 1
  fi
done
started=$(date +%s)

# --- 1. build ----------------------------------------------------------------------------------
log "results in ${out#"$repo"/}"
log "building (npm run build)"
npm run build >"$out/build.log" 2>&1 || { tail -20 "$out/build.log" >&2; exit 1; }

# --- machine and run metadata ------------------------------------------------------------------
source "$repo/bench/meta.sh"
record_machine
kv shared "$shared"
kv peers_requested "$PEERS"
kv duration "$DURATION"; kv rounds "$ROUNDS"; kv connections "$CONNECTIONS"
kv workloads "${WORKLOADS:-hello pk list embed1 embed2}"
kv keyset_duration "$KEYSET_DURATION"; kv keyset_rounds "$KEYSET_ROUNDS"; kv port "$SLUICE_PORT"; kv page "$PAGE"; kv limit "$LIMIT"
kv database_url "$DATABASE_URL"

# --- 2. data set (peers.sh creates and loads it when missing) ------------------------------------
log "checking the data set in $DATABASE_URL (peers.sh loads it when missing: about 2 minutes)"
PEERS=" " WORKLOADS=" " bash "$PEERS_SH" >"$out/data.log" 2>&1 || { cat "$out/data.log" >&2; exit 1; }
kv wrk "$(wrk -v 2>&1 | head -1 | cut -c1-60 || true)"   # peers.sh installs wrk when missing
kv postgres "$(psql "$DATABASE_URL" -tAc 'show server_version')"
kv orders "$(psql "$DATABASE_URL" -tAc 'select count(*) from orders')"
kv order_items "$(psql "$DATABASE_URL" -tAc 'select count(*) from order_items')"
kv peers_node "$("$PEERS_DIR/n24/node_modules/.bin/node" --version 2>/dev/null || echo '?')"

# --- 3. preflight: which peers can run here -----------------------------------------------------
peer_log() { case $1 in baseline) echo baseline.log ;; platformatic) echo plt.log ;; directus) echo dx.log ;; *) echo "$1.log" ;; esac; }
peer_of_port() { case $1 in 3100) echo baseline ;; 3200) echo platformatic ;; 3300) echo directus ;; "$SLUICE_PORT") echo sluice ;; esac; }
# why_failed PEER FILE: a few lines that say why (peers.sh hides npm's and directus bootstrap's
# output, so look for their traces and, for Directus, rerun its bootstrap to get the message).
why_failed() (
  set +e +o pipefail
  p=$1 err=$2
  lf=$PEERS_DIR/$(peer_log "$p")
  grep -v '^system ' "$err" | tail -3 | sed 's/^/peers.sh: /'
  case $p in
    directus)
      dx=$PEERS_DIR/dx
      if [ ! -x "$dx/node_modules/.bin/directus" ]; then
        echo "install failed: $dx/node_modules/.bin/directus missing after 'npm install node@22 directus'"
      else
        if [ -d "$dx/node_modules/isolated-vm" ] && ! find "$dx/node_modules/isolated-vm" -name '*.node' | grep -q .; then
          echo "native add-on isolated-vm has no compiled binary ('npm rebuild isolated-vm' failed)"
        fi
        echo "directus bootstrap, rerun to show its message:"
        (cd "$dx" && PATH=$PWD/node_modules/.bin:$PATH timeout 120 directus bootstrap 2>&1) | grep -v '^\s*$' | tail -6 | cut -c1-300 | sed 's/^/  /'
      fi ;;
    platformatic) [ -x "$PEERS_DIR/n24/node_modules/.bin/plt-db" ] || echo "install failed: plt-db missing in $PEERS_DIR/n24" ;;
    baseline) [ -x "$PEERS_DIR/n24/node_modules/.bin/node" ] || echo "install failed: node@24 missing in $PEERS_DIR/n24" ;;
  esac
  if [ -s "$lf" ]; then grep -v '^\s*$' "$lf" | tail -8 | cut -c1-300 | sed "s/^/$(peer_log "$p"): /"; else echo "$(peer_log "$p"): (empty or missing)"; fi
  exit 0
)
ok_peers=""
: > "$out/peer-failures.txt"
for p in $PEERS; do
  log "preflight: starting $p alone"
  rc=0; PEERS=$p WORKLOADS=" " timeout 1200 bash "$PEERS_SH" >"$out/preflight-$p.out" 2>"$out/preflight-$p.err" || rc=$?
  reap_ports
  if [ "$rc" -eq 0 ]; then ok_peers="$ok_peers $p"; continue; fi
  log "preflight: $p could not run (exit $rc); leaving it out"
  { echo "## $p (preflight exit $rc)"; why_failed "$p" "$out/preflight-$p.err"; echo; } >> "$out/peer-failures.txt"
  cp "$PEERS_DIR/$(peer_log "$p")" "$out/peer-logs/preflight-$(peer_log "$p")" 2>/dev/null || true
done
ok_peers=${ok_peers# }

# --- 4. peers.sh with Sluice, sampled ----------------------------------------------------------
dbname=${DATABASE_URL##*/}; dbname=${dbname%%\?*}
"$NODE" bench/sampler.mjs --out "$out/samples.ndjson" --pidfile "$pidfile" --phase-file "$phasefile" --db "$dbname" \
  --processes "$out/processes.ndjson" --interval 500 &
own_pids+=($!)
# Started here, not by peers.sh, so that it gets the warm-up the baseline gets: peers.sh measures
# `hello` (ROUNDS x DURATION s of load on the baseline's cheapest route) before any other workload,
# and Sluice has no `hello`, so it would meet `pk` cold (measured: the same baseline process serves
# pk at ~16.9k req/s before such a warm-up and ~20.9k after). Sluice gets the same load on its
# cheapest route, /health/live, first. Run as `npm start` runs it (V8 flag of the bin's shebang),
# with the pool size the baseline and the peers use. Like the peers, which serve every caller:
# anonymous callers get full access (bench/auth.sh measures what credentials and policies cost).
# Like the baseline (`logger: false`), no log line per request: the figures compare the work of
# serving the same SQL. Sluice's default writes one (measured on pk: ~51 vs ~41 µs of Sluice CPU
# per request, about 10 % of throughput); bench/ops.sh runs with the defaults.
printf 'auth: { anonRole: anon }\nroles: { anon: "*" }\nlog: { requests: false }\n' > "$out/sluice.config.yaml"
kv sluice_config "$(tr '\n' ' ' < "$out/sluice.config.yaml")"
sluice_cmd="env SLUICE_SERVER_DRAIN_DELAY=0s SLUICE_DATABASE_POOL_MAX=${SLUICE_POOL_MAX:-16} $NODE --max-semi-space-size=4 dist/cli/main.js serve --db $DATABASE_URL --port $SLUICE_PORT --config $out/sluice.config.yaml"
export SLUICE_URL=http://127.0.0.1:$SLUICE_PORT
kv sluice_cmd "$sluice_cmd"
# The figures are only meaningful on an otherwise idle machine: record how busy it is just before.
# busy_pct and wait_quiet NAME (QUIET_WAIT, QUIET_BUSY; logs with log and kv).
source "$repo/bench/quiet.sh"
wait_quiet peers
log "starting Sluice for peers.sh and warming it up: $((DURATION * ROUNDS)) s on /health/live, as hello warms the baseline"
bash -c "echo \$\$ > '$pidfile' && exec $sluice_cmd" >"$out/peer-logs/sluice-under-load.log" 2>&1 &
own_pids+=($!); load_pid=$!
for _ in $(seq 1 120); do curl -sf -o /dev/null "$SLUICE_URL/health/live" && break; sleep 0.5; done
phase warmup
wrk -t1 -c"$CONNECTIONS" -d"$((DURATION * ROUNDS))s" "$SLUICE_URL/health/live" > "$out/sluice-warmup.txt" 2>&1 || true
kv sluice_warmup "$(awk '/Requests\/sec/{print $2}' "$out/sluice-warmup.txt") req/s on /health/live for $((DURATION * ROUNDS)) s"
for attempt in 1 2 3; do
  kv peers_measured "${ok_peers}"
  log "peers.sh (attempt $attempt): ${ok_peers:-no peers} + sluice; $DURATION s x $ROUNDS rounds x $CONNECTIONS connections per workload"
  phase peers
  rc=0; PEERS=${ok_peers:- } bash "$PEERS_SH" >"$out/peers.out" 2>"$out/peers.err" || rc=$?
  phase between
  ports="3100 3200 3300" reap_ports
  [ "$rc" -eq 0 ] && break
  port=$(grep -oE '(exited before answering|not up): http://127\.0\.0\.1:[0-9]+' "$out/peers.err" | tail -1 | grep -oE '[0-9]+$' || true)
  p=$(peer_of_port "${port:-none}")
  if [ -z "$p" ] || [ "$p" = sluice ]; then
    log "peers.sh failed (exit $rc) and Sluice or nothing identifiable is to blame:"; tail -20 "$out/peers.err" >&2
    tail -20 "$out/peer-logs/sluice-under-load.log" >&2 2>/dev/null || true
    break
  fi
  log "peers.sh: $p did not start this time (exit $rc); measuring without it"
  { echo "## $p (measured run, attempt $attempt, exit $rc)"; why_failed "$p" "$out/peers.err"; echo; } >> "$out/peer-failures.txt"
  ok_peers=$(echo " $ok_peers " | sed "s/ $p / /; s/^ *//; s/ *$//")
done
kill "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true
for f in "$PEERS_DIR"/*.log; do [ -f "$f" ] && cp "$f" "$out/peer-logs/"; done
echo "$rc" > "$out/peers.rc"
cat "$out/peers.out" >&2

# --- 5. Sluice alone: streams and pagination -----------------------------------------------------
wait_quiet alone
log "starting Sluice alone for streaming and pagination"
bash -c "echo \$\$ > '$pidfile' && exec $sluice_cmd" >"$out/sluice-alone.log" 2>&1 &
own_pids+=($!); spid=$!
base=http://127.0.0.1:$SLUICE_PORT/api/v1
for _ in $(seq 1 120); do curl -sf -o /dev/null "http://127.0.0.1:$SLUICE_PORT/health/live" && break; sleep 0.5; done
curl -sf -o /dev/null "http://127.0.0.1:$SLUICE_PORT/health/live" || { log "Sluice did not start"; tail "$out/sluice-alone.log" >&2; exit 1; }
kv rss_idle_kb "$(awk '/^VmRSS/{print $2}' "/proc/$spid/status")"
kv resources "$(grep -oE 'serving [0-9]+ resources' "$out/sluice-alone.log" | grep -oE '[0-9]+' || true)"

# 5b. streams: wall time, line count, peak RSS (VmHWM reset just before via clear_refs, and sampled)
: > "$out/streams.ndjson"
stream() { # stream NAME ACCEPT
  local name=$1 accept=$2 t0 t1 hwm reset=no
  echo 5 > "/proc/$spid/clear_refs" 2>/dev/null && reset=yes
  phase "stream-$name"
  t0=$(date +%s%N)
  curl -s -H "accept: $accept" -w '%{stderr}%{http_code} %{time_total} %{size_download} %{content_type}\n' \
    "$base/orders" 2>"$out/stream-$name.curl" \
    | awk -v f="$out/stream-$name.edges" 'NR==1{print substr($0,1,400) > f} {last=$0} END{print substr(last,1,400) >> f; print NR}' \
    > "$out/stream-$name.lines" || true   # a failed stream is reported (status, lines), not fatal
  t1=$(date +%s%N)
  phase between
  hwm=$(awk '/^VmHWM/{print $2}' "/proc/$spid/status")
  read -r code ctime size ctype < "$out/stream-$name.curl" || true
  printf '{"name":"%s","accept":"%s","status":%s,"wall_s":%s,"curl_s":%s,"bytes":%s,"lines":%s,"hwm_kb":%s,"hwm_reset":"%s","content_type":"%s"}\n' \
    "$name" "$accept" "${code:-0}" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')" "${ctime:-0}" "${size:-0}" \
    "$(cat "$out/stream-$name.lines")" "${hwm:-0}" "$reset" "${ctype:-}" >> "$out/streams.ndjson"
  log "stream $name: $(tail -1 "$out/streams.ndjson")"
  sleep 2   # let the sampler see the process settle between streams
}
stream ndjson application/x-ndjson
stream csv text/csv

# 5c. pagination. The cursor of page 40,000 comes from a filtered one-row request: a cursor is bound
# to the sort, not to the filters, so the cursor after the row that ends page 39,999 continues the
# unfiltered listing at page 40,000. The expected rows come from PostgreSQL itself.
skip=$(( (PAGE - 1) * LIMIT ))          # rows before page 40,000 (999,975)
json_get() { "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const v=process.argv[1].split(".").reduce((o,k)=>o?.[k],JSON.parse(s));process.stdout.write(v==null?"":String(v))}catch{}})' "$1"; }
psq() { psql "$DATABASE_URL" -tAc "$1"; }
: > "$out/keyset-setup.txt"
setup() { echo "$*" >> "$out/keyset-setup.txt"; }
# sort=id: boundary row = id at position skip (1-based)
b_id=$(psq "select id from orders order by id offset $((skip - 1)) limit 1")
e_id=$(psq "select id from orders order by id offset $skip limit 1")
r=$(curl -gs "$base/orders?sort=id&limit=1&id[gte]=$b_id"); cur_id=$(json_get pagination.nextCursor <<<"$r")
got=$(curl -gs "$base/orders?sort=id&limit=$LIMIT&cursor=$cur_id" | json_get data.0.id)
setup "id boundary=$b_id expected_first=$e_id got_first=$got cursor=$cur_id"
# sort=-created_at (then the primary key): boundary row and its created_at from PostgreSQL
read -r b_ca b_ts < <(psq "select id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') from orders order by created_at desc, id offset $((skip - 1)) limit 1" | tr '|' ' ')
e_ca=$(psq "select id from orders order by created_at desc, id offset $skip limit 1")
r=$(curl -gs "$base/orders?sort=-created_at&limit=1&created_at[lte]=$b_ts"); cur_ca=$(json_get pagination.nextCursor <<<"$r")
how=filter
if [ "$(json_get data.0.id <<<"$r")" != "$b_ca" ]; then  # ties on created_at: take the cursor from an offset request instead
  how=offset; cur_ca=$(curl -gs "$base/orders?sort=-created_at&limit=1&offset=$((skip - 1))" | json_get pagination.nextCursor)
fi
got=$(curl -gs "$base/orders?sort=-created_at&limit=$LIMIT&cursor=$cur_ca" | json_get data.0.id)
setup "created_at boundary=$b_ca ($b_ts) expected_first=$e_ca got_first=$got cursor=$cur_ca via=$how"
declare -A CASE=(
  [id-page1]="$base/orders?sort=id&limit=$LIMIT"
  [id-page$PAGE]="$base/orders?sort=id&limit=$LIMIT&cursor=$cur_id"
  [created_at-page1]="$base/orders?sort=-created_at&limit=$LIMIT"
  [created_at-page$PAGE]="$base/orders?sort=-created_at&limit=$LIMIT&cursor=$cur_ca"
  [offset-page1]="$base/orders?sort=id&limit=$LIMIT&offset=0"
  [offset-page$PAGE]="$base/orders?sort=id&limit=$LIMIT&offset=$skip"
)
order="id-page1 id-page$PAGE created_at-page1 created_at-page$PAGE offset-page1 offset-page$PAGE"
for c in $order; do
  curl -gs -o "$out/keyset/$c.body.json" -w '%{http_code}\n' "${CASE[$c]}" > "$out/keyset/$c.status"
  echo "${CASE[$c]}" > "$out/keyset/$c.url"
done
# drain: wait (up to 30 s) until no statement runs on the bench database, so a slow case (offset
# 999,975 keeps 32 queries of ~1 s in flight when wrk stops) does not spill into the next one.
drain() {
  for _ in $(seq 1 60); do
    [ "$(psq "select count(*) from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid()")" = 0 ] && return 0
    sleep 0.5
  done
}
log "pagination: warm-up (2 s per case, not recorded)"
phase warmup
for c in $order; do wrk -t1 -c"$CONNECTIONS" -d2s --timeout 10s "${CASE[$c]}" >/dev/null 2>&1 || true; drain; done
for r in $(seq 1 "$KEYSET_ROUNDS"); do
  for c in $order; do
    log "wrk $c round $r"
    phase "keyset-$c"
    wrk -t1 -c"$CONNECTIONS" -d"${KEYSET_DURATION}s" --timeout 10s --latency "${CASE[$c]}" > "$out/keyset/$c-r$r.txt" 2>&1 || true
    phase between
    drain
  done
done
kv rss_after_all_kb "$(awk '/^VmRSS/{print $2}' "/proc/$spid/status")"
kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true
phase done
sleep 0.6
kv elapsed_s "$(( $(date +%s) - started ))"
cleanup; own_pids=()

# --- 6. report ---------------------------------------------------------------------------------
"$NODE" bench/report.mjs "$out" "$repo/docs/benchmarks.md"
cp "$repo/docs/benchmarks.md" "$out/benchmarks.md"
log "wrote docs/benchmarks.md (raw outputs in ${out#"$repo"/})"
