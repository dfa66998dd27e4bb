# Sourced by bench/run.sh and bench/auth.sh: the figures only mean something on an otherwise idle
# machine, so each measured part first waits for quiet and records how busy the machine was.
# Needs QUIET_WAIT, QUIET_BUSY and the caller's log and kv functions.

# busy_pct: how busy the machine is (% of all cores) over the next 3 s, from /proc/stat.
busy_pct() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat); sleep 3
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," "); split(b,y," "); bu=y[1]-x[1]; id=y[2]-x[2]; printf "%d", (bu+id>0)?100*bu/(bu+id):0}'
}
# wait_quiet NAME: wait (up to QUIET_WAIT s) until the machine is at most QUIET_BUSY % busy over 3 s.
wait_quiet() {
  local busy waited=0
  while :; do
    busy=$(busy_pct)
    [ "$busy" -le "$QUIET_BUSY" ] && break
    if [ "$waited" -ge "$QUIET_WAIT" ]; then
      log "warning: the machine is still ${busy}% busy before $1; measuring anyway, figures will be noisy"; break
    fi
    [ "$waited" -eq 0 ] && log "the machine is ${busy}% busy (something else is running); waiting up to $QUIET_WAIT s for it to calm down"
    sleep 7; waited=$((waited + 10))
  done
  kv "busy_before_$1_pct" "$busy"; kv "waited_before_$1_s" "$waited"
}
