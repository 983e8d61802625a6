# Sourced by scripts/bench: the main job (scripts/demo, the stack really running) once, its time after the
# build and its peak memory: the summed RSS of the local AWS, everything it runs (every ECS task, MariaDB,
# the bastion's sshd, ...) and fairflow, sampled every second. BENCH_DEMO=0 skips it (it takes minutes).
if [ "${BENCH_DEMO:-1}" != 0 ]; then
  echo
  echo "== the demo (scripts/demo: deploy -> operate -> teardown with the stack running for real)"
  demo_log=$(mktemp)
  scripts/demo >"$demo_log" 2>&1 &
  demo_pid=$!
  peak=0
  while kill -0 "$demo_pid" 2>/dev/null; do
    pids=$( { cat /sys/fs/cgroup/unified/fairflow-local-aws-*/cgroup.procs /sys/fs/cgroup/unified/fairflow-local-aws-*/*/cgroup.procs \
                 /sys/fs/cgroup/unified/fairflow-local-aws-*/*/*/cgroup.procs 2>/dev/null; pgrep -f 'localaws/launcher.py --run|debug/fairflow' ; } | sort -u)
    kb=0
    for p in $pids; do
      r=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || true)
      kb=$(( kb + ${r:-0} ))
    done
    [ "$kb" -gt "$peak" ] && peak=$kb
    sleep 1
  done
  wait "$demo_pid"; status=$?
  secs=$(sed -n 's/.*done in \([0-9]*\) s after the build.*/\1/p' "$demo_log" | tail -1)
  if [ "$status" -eq 0 ]; then
    printf '| scripts/demo (after the build) | %s s | peak summed RSS %s MB |\n' "${secs:-?}" $(( peak / 1024 ))
  else
    echo "the demo failed (exit $status); its last lines:"; tail -30 "$demo_log"
  fi
  rm -f "$demo_log"
fi
