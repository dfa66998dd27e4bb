#!/usr/bin/env bash
# Side-by-side per-request cost of servers that are already running:   bash bench/compare.sh ROUNDS SECONDS CASE...
#
# A CASE is `name|url` or `name|url|lua-script`; a `%d` in the URL becomes a random id from 1 to
# IDS (default 1,000,000) unless a script is given. Rounds are interleaved (every case once per
# round, in the order given), so a machine that slows down or speeds up meanwhile treats them
# alike. For each wrk run it prints requests/s, p99, and the CPU time per request of the server
# (the process listening on the URL's port, with its children: --workers), of PostgreSQL (every
# `postgres` process), of Redis and of wrk itself, from /proc — steadier than throughput on a
# shared machine, and it says where a change moved the work.
#
# Example (the hand-written baseline of ../shared/bench beside Sluice on the pk workload):
#   bash bench/compare.sh 3 6 'base|http://127.0.0.1:3100/orders/%d' 'sluice|http://127.0.0.1:3400/api/v1/orders/%d'
# Environment: CONNECTIONS (default 32), IDS. Traffic goes where the URLs say (use 127.0.0.1).
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
rounds=$1 seconds=$2; shift 2
CONNECTIONS=${CONNECTIONS:-32} IDS=${IDS:-1000000}
command -v wrk >/dev/null || { echo "compare: wrk missing (apt-get install -y wrk)" >&2; exit 1; }
tick=$(getconf CLK_TCK)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/random.lua" <<LUA
math.randomseed(42)
request = function() return wrk.format("GET", string.format(wrk.path, math.random(1, $IDS))) end
LUA

tree() { echo "$1"; for c in $(pgrep -P "$1"); do tree "$c"; done; }
server_pid() { ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
# Lines "<group> <pid> <ticks>" for the server's process tree, PostgreSQL and Redis.
snapshot() {
  local p
  for p in $(tree "$1"); do t=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null) && echo "S $p $t"; done
  for p in $(pgrep -x postgres); do t=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null) && echo "P $p $t"; done
  for p in $(pgrep -x redis-server); do t=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null) && echo "R $p $t"; done
  return 0
}
# Ticks a group used between two snapshots; a process that appeared meanwhile counts from zero.
delta() { awk -v g="$1" 'NR==FNR{a[$2]=$3; next} $1==g{d+=$3-($2 in a ? a[$2] : 0)} END{print d+0}' "$2" "$3"; }

printf '%-12s %9s %9s %10s %10s %8s %8s\n' case req/s p99 server/req pg/req redis/req wrk/req
for _ in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    IFS='|' read -r name url lua <<<"$spec"
    port=$(sed -E 's#^[a-z]+://[^:/]+:([0-9]+).*#\1#' <<<"$url")
    pid=$(server_pid "$port")
    [ -n "$pid" ] || { echo "compare: nothing listens on port $port" >&2; exit 1; }
    [ -z "$lua" ] && [[ $url == *%d* ]] && lua=$work/random.lua
    args=(-t1 -c"$CONNECTIONS" -d"${seconds}s" --latency); [ -n "$lua" ] && args+=(-s "$lua")
    snapshot "$pid" > "$work/a"
    out=$( { /usr/bin/time -f 'WRKCPU %U %S' wrk "${args[@]}" "$url"; } 2>&1 )
    snapshot "$pid" > "$work/b"
    awk -v name="$name" -v s="$(delta S "$work/a" "$work/b")" -v pg="$(delta P "$work/a" "$work/b")" -v r="$(delta R "$work/a" "$work/b")" -v tk="$tick" '
      /Requests\/sec/ {rps=$2} /requests in/ {n=$1} $1=="99%" {p99=$2} /WRKCPU/ {w=$2+$3}
      /Non-2xx/ {bad+=$NF} /Socket errors/ {gsub(/[^0-9 ]/," "); for(i=1;i<=NF;i++) bad+=$i}
      END {
        if (n == 0) { printf "%-12s no requests completed\n", name; exit }
        f = 1e6 / tk / n
        printf "%-12s %9.0f %9s %8.1fµs %8.1fµs %6.1fµs %6.1fµs%s\n", name, rps, p99, s*f, pg*f, r*f, w*1e6/n, (bad ? sprintf("  ERRORS %d", bad) : "")
      }' <<<"$out"
  done
done
