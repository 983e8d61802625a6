#!/usr/bin/env bash
# Redis + one Celery worker + Flower (basic auth) on 127.0.0.1, free ports, for fairflow's tests.
#
# Usage: scripts/lib/flower-peer.sh [serve]    install (if needed), start, print KEY=VALUE lines and READY,
#                                              then serve until SIGTERM/SIGINT (or `stop`)
#        scripts/lib/flower-peer.sh install    only make sure redis-server and the cached venv exist
#        scripts/lib/flower-peer.sh stop [DIR] stop the instance in DIR (its *_PEER_DIR); without DIR only if it is the only one serving
#
# Prints: FLOWER_URL, FLOWER_USER, FLOWER_PASSWORD (test credentials, random per start), FLOWER_PEER_DIR, READY.
# The Celery app is Tests/Fixtures/flower/fftasks.py (tasks fftasks.add, fftasks.nap, fftasks.fail);
# tests submit tasks through Flower's own API (POST /api/task/async-apply/fftasks.add).
# Env: FAIRFLOW_CACHE (venv in $FAIRFLOW_CACHE/venv-flower; default ~/.cache/fairflow), FLOWER_PEER_TIMEOUT (60).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CACHE=${FAIRFLOW_CACHE:-$HOME/.cache/fairflow}
VENV=$CACHE/venv-flower
APP_DIR=${FLOWER_PEER_APP:-$repo/Tests/Fixtures/flower}
TIMEOUT=${FLOWER_PEER_TIMEOUT:-60}
RUNS=$CACHE/run
PINS="flower==2.2.0 celery[redis]==5.7.0 kombu==5.7.0 redis==8.1.0 tornado==6.6.1"
say() { echo "[flower-peer] $*" >&2; }
now() { date +%s.%N; }
since() { awk "BEGIN{printf \"%.1f\", $(now) - $1}"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

install() {
  local t0
  if ! command -v redis-server >/dev/null; then
    say "installing redis-server from Debian"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } >&2
  fi
  mkdir -p "$CACHE"
  exec 9>"$VENV.lock"; flock 9
  if [ -x "$VENV/bin/celery" ] && [ "$(cat "$VENV/.fairflow-installed" 2>/dev/null)" = "$PINS" ]; then
    exec 9>&-; return 0
  fi
  t0=$(now); say "installing $PINS into $VENV"
  rm -rf "$VENV"; python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip >&2
  # shellcheck disable=SC2086  # bare `redis` lacks `packaging`, which kombu's redis transport imports: use celery[redis]
  "$VENV/bin/pip" install -q --disable-pip-version-check $PINS >&2
  echo "$PINS" >"$VENV/.fairflow-installed"
  say "installed in $(since "$t0") s"
  exec 9>&-
}

daemon() {  # name cmd...: own process group
  local name=$1; shift
  setsid "$@" >"$STATE/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name.pid"
}

stop_dir() {
  local dir=$1 f pid
  for f in "$dir"/pids/flower.pid "$dir"/pids/worker.pid "$dir"/pids/redis.pid; do
    [ -e "$f" ] || continue; pid=$(cat "$f"); kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true; rm -f "$f"
  done
}

# Old run dirs (logs, SQLite) of instances that are gone: keep the newest 3 for post-mortems.
prune_runs() {
  local d n=0
  for d in $(ls -1dt "$RUNS"/flower.* 2>/dev/null); do
    [ -f "$d/serve.pid" ] && kill -0 "$(cat "$d/serve.pid")" 2>/dev/null && continue
    n=$((n + 1)); [ "$n" -gt 3 ] && rm -rf "$d"
  done
  return 0
}

serve() {
  local t0 redis_port port user=fairflow password deadline
  t0=$(now); install
  mkdir -p "$RUNS"; prune_runs; STATE=$(mktemp -d "$RUNS/flower.XXXXXX"); mkdir -p "$STATE/pids"; echo $$ >"$STATE/serve.pid"
  stopping=0
  cleanup() { [ "$stopping" = 1 ] && return; stopping=1; say "stopping"; stop_dir "$STATE"; say "stopped"; }
  trap 'cleanup; exit 0' TERM INT
  trap cleanup EXIT
  password=fairflow-$(python3 -c 'import secrets; print(secrets.token_hex(8))')
  redis_port=$(free_port); port=$(free_port)
  daemon redis redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$STATE"
  deadline=$(( $(date +%s) + TIMEOUT ))
  until redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; do
    [ "$(date +%s)" -lt "$deadline" ] || { say "redis did not start"; tail "$STATE/redis.log" >&2; exit 1; }
    sleep 0.1
  done
  export FFTASKS_REDIS_URL=redis://127.0.0.1:$redis_port PYTHONPATH=$APP_DIR PYTHONDONTWRITEBYTECODE=1
  cd "$STATE"
  daemon worker "$VENV/bin/celery" -A fftasks worker -n w1@%h --concurrency=2 --loglevel=INFO
  daemon flower "$VENV/bin/celery" -A fftasks flower --address=127.0.0.1 --port="$port" \
    --basic-auth="$user:$password"
  # Flower answers, and the worker shows up (refresh=1: flower's first inspect may predate the worker).
  until curl -sf -u "$user:$password" "http://127.0.0.1:$port/api/workers?refresh=1" |
        python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin) else 1)' 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || { say "flower not ready in ${TIMEOUT}s"; tail -n 15 "$STATE"/*.log >&2; exit 1; }
    sleep 0.5
  done
  echo "FLOWER_URL=http://127.0.0.1:$port"
  echo "FLOWER_USER=$user"
  echo "FLOWER_PASSWORD=$password"
  echo "FLOWER_PEER_DIR=$STATE"
  say "ready in $(since "$t0") s"
  echo READY
  while true; do sleep 1 & wait $! || true; done
}

case "${1:-serve}" in
  serve) serve ;;
  install) install ;;
  stop)
    dir=${2:-}
    if [ -z "$dir" ]; then  # other runs (scripts/test, other worktrees) share the cache: guess only when one serves
      serving=()
      for d in "$RUNS"/flower.*; do
        [ -f "$d/serve.pid" ] && kill -0 "$(cat "$d/serve.pid")" 2>/dev/null && serving+=("$d")
      done
      if [ "${#serving[@]}" -gt 1 ]; then
        say "several instances are serving: name the one to stop (its FLOWER_PEER_DIR): ${serving[*]}"; exit 2
      fi
      dir=${serving[0]:-}
    fi
    [ -n "$dir" ] && [ -f "$dir/serve.pid" ] || { say "nothing to stop"; exit 0; }
    pid=$(cat "$dir/serve.pid")
    if kill -TERM "$pid" 2>/dev/null; then
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    stop_dir "$dir" ;;
  *) echo "usage: $0 [serve|install|stop [DIR]]" >&2; exit 2 ;;
esac
