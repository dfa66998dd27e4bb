#!/usr/bin/env bash
# Instructions per request, Sluice beside the hand-written baseline:   npm run bench:instructions
#
# The throughput figures of bench/run.sh move by ±20 % between runs on a shared machine; the CPU
# instructions a server executes per request do not (valgrind's callgrind counts them, whatever
# else the machine is doing: two runs of one build agree within a few per cent). Use this to tell
# whether a change to the request path made it cheaper, before a throughput run says how much.
#
# For each system: starts it under callgrind with instrumentation off, warms it up with WARM
# seconds of wrk load (its JIT settles), switches instrumentation on for MEASURE seconds of load,
# and divides the instructions of the Node process by the requests wrk completed. Kernel work
# (socket system calls) is not counted; neither is PostgreSQL.
#
# Environment: WORKLOAD (pk | list | embed1 | embed2, default pk), WARM (s, default 40), MEASURE
# (s, default 30), CONNECTIONS (default 16), SYSTEMS (default "baseline sluice"), SLUICE_CONFIG (a
# configuration file for Sluice instead of the default below, e.g. with rateLimits), DATABASE_URL
# (default postgres://postgres@127.0.0.1/sluice_shop, loaded by `npm run bench` first), PEERS_DIR
# (where peers.sh installed the baseline's Node and packages, default /tmp/sluice-peers).
# Needs valgrind and wrk (apt-get install -y valgrind wrk). Prints one line per system; writes
# nothing to docs/ (the figures that count come from throughput runs).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
WORKLOAD=${WORKLOAD:-pk} WARM=${WARM:-40} MEASURE=${MEASURE:-30} CONNECTIONS=${CONNECTIONS:-16}
SYSTEMS=${SYSTEMS:-"baseline sluice"}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1/sluice_shop}
PEERS_DIR=${PEERS_DIR:-/tmp/sluice-peers}
shared=${SHARED_DIR:-$repo/../shared}
for tool in valgrind callgrind_control wrk; do
  command -v $tool >/dev/null || { echo "instructions: $tool missing (apt-get install -y valgrind wrk)" >&2; exit 1; }
done
[ -x node_modules/.bin/node ] || { echo "instructions: run npm install first" >&2; exit 1; }
npm run -s build

out=$(mktemp -d)
lua=$out/random-id.lua
cat > "$lua" <<'EOF'
math.randomseed(42)
request = function()
  local p = wrk.path
  if string.find(p, "%%d") then p = string.format(p, math.random(1, 1000000)) end
  return wrk.format("GET", p)
end
EOF
vp=
trap '[ -n "$vp" ] && kill -9 "$vp" 2>/dev/null; rm -rf "$out"' EXIT

path_for() {
  case "$1:$WORKLOAD" in
    baseline:pk) echo '/orders/%d' ;;
    baseline:list) echo '/orders?status=paid&limit=25' ;;
    baseline:embed1) echo '/orders-cust?status=paid&limit=25' ;;
    baseline:embed2) echo '/orders-embed?status=paid&limit=25' ;;
    sluice:pk) echo '/api/v1/orders/%d' ;;
    sluice:list) echo '/api/v1/orders?status=paid&limit=25&sort=id' ;;
    sluice:embed1) echo '/api/v1/orders?status=paid&limit=25&sort=id&include=customer' ;;
    sluice:embed2) echo '/api/v1/orders?status=paid&limit=25&sort=id&include=customer,items' ;;
    *) echo "instructions: unknown system or workload $1:$WORKLOAD" >&2; exit 1 ;;
  esac
}

port=3650
for system in $SYSTEMS; do
  port=$((port + 1))
  cg=(valgrind --tool=callgrind --instr-atstart=no --smc-check=all-non-file --callgrind-out-file="$out/$system.cg")
  case $system in
    baseline)
      [ -x "$PEERS_DIR/n24/node_modules/.bin/node" ] || { echo "instructions: no baseline in $PEERS_DIR; run npm run bench once" >&2; exit 1; }
      cp "$shared/bench/baseline.mjs" "$PEERS_DIR/n24/baseline.mjs"
      DATABASE_URL=$DATABASE_URL PORT=$port "${cg[@]}" "$PEERS_DIR/n24/node_modules/.bin/node" "$PEERS_DIR/n24/baseline.mjs" >"$out/$system.log" 2>&1 &
      health=/hello ;;
    sluice)
      # As bench/run.sh runs it: full access for anonymous callers, no request log lines.
      printf 'auth: { anonRole: anon }\nroles: { anon: "*" }\nlog: { requests: false }\n' > "$out/sluice.yaml"
      [ -n "${SLUICE_CONFIG:-}" ] && cp "$SLUICE_CONFIG" "$out/sluice.yaml"
      SLUICE_SERVER_DRAIN_DELAY=0s SLUICE_DATABASE_POOL_MAX=16 "${cg[@]}" node_modules/.bin/node --max-semi-space-size=4 dist/cli/main.js serve \
        --db "$DATABASE_URL" --port $port --config "$out/sluice.yaml" >"$out/$system.log" 2>&1 &
      health=/health/live ;;
  esac
  vp=$!
  for _ in $(seq 1 240); do curl -sf -o /dev/null "http://127.0.0.1:$port$health" && break; sleep 0.5; done
  url="http://127.0.0.1:$port$(path_for "$system")"
  wrk -t1 -c"$CONNECTIONS" -d"${WARM}s" -s "$lua" "$url" >/dev/null
  callgrind_control -i on "$vp" >/dev/null 2>&1
  requests=$(wrk -t1 -c"$CONNECTIONS" -d"${MEASURE}s" -s "$lua" "$url" | awk '/requests in/{print $1}')
  callgrind_control -i off "$vp" >/dev/null 2>&1
  callgrind_control -d "$vp" >/dev/null 2>&1
  kill -9 "$vp" 2>/dev/null; wait "$vp" 2>/dev/null || true; vp=
  ir=$(cat "$out/$system".cg* | awk '/^totals:/{s+=$2} END{print s+0}')
  awk -v s="$system" -v w="$WORKLOAD" -v n="$requests" -v ir="$ir" 'BEGIN{printf "%-9s %-7s %8d requests  %9.0f instructions per request\n", s, w, n, (n > 0 ? ir / n : 0)}'
done
