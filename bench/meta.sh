# Sourced by bench/run.sh, bench/auth.sh and bench/cache.sh: what a run was measured on.
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
