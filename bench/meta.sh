# Sourced by the benchmark scripts (bench/run.sh, auth.sh, cache.sh, ops.sh): what a run was measured on,
# and (cache.sh, ops.sh) how their paired rounds are run.
# record_machine: the date, the commit (with "-dirty" and the paths when the tree has changes
# besides docs/benchmarks.md), the machine and Node. Needs NODE and the caller's kv function.
record_machine() {
  local commit dirty
  commit=$(git rev-parse --short HEAD)
  dirty=$(git status --porcelain -- . ':(exclude)docs/benchmarks.md' | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')
  kv date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  kv commit "$commit${dirty:+-dirty}"
  kv dirty_paths "$dirty"
  kv cpu "$(lscpu | awk -F: '/^Model name/{gsub(/^ +/,"",$2); print $2; exit}')"
  kv cores "$(nproc)"
  kv ram_kb "$(awk '/^MemTotal/{print $2}' /proc/meminfo)"
  kv kernel "$(uname -sr)"
  kv os "$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")"
  kv node "$("$NODE" --version)"
  kv clk_tck "$(getconf CLK_TCK)"
}

# bench_start NAME SUFFIX PORT...: the common start of bench/cache.sh and bench/ops.sh — checks
# for peers.sh, wrk and Redis; makes $out (bench/results/<stamp>-SUFFIX) with the log and kv
# functions; pids and a cleanup trap that kills them; refuses ports in use; builds Sluice and
# records the machine. Needs repo, REDIS_URL, NODE; sets shared, stamp, out, pids.
bench_start() {
  local name=$1 suffix=$2 port; shift 2
  shared=${SHARED_DIR:-$repo/../shared}
  [ -f "$shared/bench/peers.sh" ] || { echo "$name: cannot find $shared/bench/peers.sh; set SHARED_DIR" >&2; exit 1; }
  command -v wrk >/dev/null || { echo "$name: wrk missing (apt-get install -y wrk)" >&2; exit 1; }
  redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || { echo "$name: Redis at $REDIS_URL does not answer" >&2; exit 1; }
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  out=$repo/bench/results/$stamp-$suffix
  mkdir -p "$out"
  BENCH_NAME=$name
  log() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date -u +%H:%M:%S)" "$*" | tee -a "$out/run.log" >&2; }
  kv() { printf '%s=%s\n' "$1" "$2" >> "$out/meta.env"; }
  : > "$out/meta.env"
  pids=()
  # Killed and waited for: the next benchmark must find the ports free (the servers run with no
  # drain delay, SLUICE_SERVER_DRAIN_DELAY=0s: no load balancer needs telling here).
  cleanup() {
    local p
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]:-}"; do [ -n "$p" ] && { timeout 30 tail --pid="$p" -f /dev/null 2>/dev/null || true; }; done
    return 0
  }
  trap cleanup EXIT
  for port in "$@"; do
    if ss -ltnH "sport = :$port" | grep -q .; then echo "$name: port $port is in use; stop that server first" >&2; exit 1; fi
  done
  log "results in ${out#"$repo"/}"
  npm run build >"$out/build.log" 2>&1 || { tail -20 "$out/build.log" >&2; exit 1; }
  record_machine
}

# measure_rounds ORDER REVERSED: the measured rounds of bench/cache.sh and bench/ops.sh — ROUNDS
# rounds of one wrk run (DURATION s, CONNECTIONS connections) per case, the cases of odd rounds in
# ORDER and of even ones in REVERSED, so that the two sides of a comparison run back to back and
# swap places; each run's output in $out/<case>-rNN.txt, each case's URL in $out/<case>.url. Reads
# the caller's CASE (URL per case) and SCRIPT (wrk Lua script per case, optional) arrays.
measure_rounds() {
  local order=$1 reversed=$2 r c turn args
  for r in $(seq 1 "$ROUNDS"); do
    turn=$order; [ $((r % 2)) -eq 0 ] && turn=$reversed
    for c in $turn; do
      log "wrk $c round $r"
      args=(-t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency); [ -n "${SCRIPT[$c]:-}" ] && args+=(-s "${SCRIPT[$c]}")
      wrk "${args[@]}" "${CASE[$c]}" > "$out/$c-r$(printf %02d "$r").txt" 2>&1 || true
    done
  done
  for c in $order; do echo "${CASE[$c]}" > "$out/$c.url"; done
}
