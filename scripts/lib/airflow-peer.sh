#!/usr/bin/env bash
# Real Airflow 2 and Airflow 3 on 127.0.0.1 (SQLite, free ports) for fairflow's tests.
#
# Usage: scripts/lib/airflow-peer.sh [serve]   install (if needed), start, print KEY=VALUE lines and READY,
#                                              then serve until SIGTERM/SIGINT (or `stop`)
#        scripts/lib/airflow-peer.sh install   only make sure the cached venvs exist
#        scripts/lib/airflow-peer.sh stop [DIR] stop the instance in DIR (its *_PEER_DIR); without DIR only if it is the only one serving
#
# Prints: AIRFLOW2_URL, AIRFLOW3_URL, AIRFLOW_USER, AIRFLOW_PASSWORD (test credentials, random per start),
#         AIRFLOW_PEER_DIR (logs, pids), then READY.
# Env:    AIRFLOW_PEER_VERSIONS  (default "2.11.2 3.3.2"; one of them is fine)
#         FAIRFLOW_CACHE         (venvs live in $FAIRFLOW_CACHE/venv-airflow-<version>; default ~/.cache/fairflow)
#         AIRFLOW_PEER_DAGS      (default Tests/Fixtures/dags of this repo)
#         AIRFLOW_PEER_TIMEOUT   (seconds to wait for health + parsed DAGs, default 180)
#         AIRFLOW_PEER_AUTH      (Airflow 3 only: simple (default) or fab, the FAB auth manager the generated stack uses)
#         AIRFLOW_PEER_WAIT_DAGS (how many DAGs tagged "fairflow" must be parsed before READY, default 5)
#
# Airflow 2: webserver + scheduler, SequentialExecutor, basic-auth API backend (/api/v1).
# Airflow 3: api-server + scheduler + dag-processor, LocalExecutor, simple auth manager (/api/v2, JWT).
# Each daemon runs in its own process group (setsid) so stopping takes its gunicorn/fork children too.
# Recipes and pitfalls: ../shared/notes/airflow-peer.md (beside the repository).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CACHE=${FAIRFLOW_CACHE:-$HOME/.cache/fairflow}
VERSIONS=${AIRFLOW_PEER_VERSIONS:-2.11.2 3.3.2}
DAGS=${AIRFLOW_PEER_DAGS:-$repo/Tests/Fixtures/dags}
TIMEOUT=${AIRFLOW_PEER_TIMEOUT:-180}
AUTH=${AIRFLOW_PEER_AUTH:-simple}
[ "$AUTH" = simple ] || [ "$AUTH" = fab ] || { echo "AIRFLOW_PEER_AUTH must be simple or fab" >&2; exit 2; }
WAIT_DAGS=${AIRFLOW_PEER_WAIT_DAGS:-5}   # DAGs tagged "fairflow" in Tests/Fixtures/dags
RUNS=$CACHE/run
say() { echo "[airflow-peer] $*" >&2; }
now() { date +%s.%N; }
since() { awk "BEGIN{printf \"%.1f\", $(now) - $1}"; }

fab() { [ "$AUTH" = fab ] && [ "${1%%.*}" != 2 ]; }   # version: Airflow 3 with the FAB auth manager?
flavour() { if fab "$1"; then echo "$1-fab"; else echo "$1"; fi; }
venv_of() { echo "$CACHE/venv-airflow-$(flavour "$1")"; }
constraints_of() { echo "$here/airflow-constraints/$(flavour "$1").txt"; }
package_of() { if fab "$1"; then echo "apache-airflow[fab]==$1"; else echo "apache-airflow==$1"; fi; }

# A venv is ready when its marker names the constraints it was built from; otherwise it is rebuilt.
install_one() {
  local v=$1 venv c want t0
  venv=$(venv_of "$v"); c=$(constraints_of "$v")
  want="$(package_of "$v") $( [ -f "$c" ] && sha256sum "$c" | cut -c1-16 || echo unpinned)"
  mkdir -p "$CACHE"
  exec 9>"$venv.lock"; flock 9   # two test runs may race for the same venv
  if [ -x "$venv/bin/airflow" ] && [ "$(cat "$venv/.fairflow-installed" 2>/dev/null)" = "$want" ]; then
    exec 9>&-; return 0
  fi
  t0=$(now); say "installing $(package_of "$v") into $venv (20 s quiet, up to 3 min on a loaded machine)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip >&2
  if [ -f "$c" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check "$(package_of "$v")" -c "$c" >&2
  else
    "$venv/bin/pip" install -q --disable-pip-version-check "$(package_of "$v")" >&2
  fi
  echo "$want" >"$venv/.fairflow-installed"
  say "installed $v in $(since "$t0") s"
  exec 9>&-
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Exports the environment one Airflow needs; run in a subshell per version.
airflow_env() {  # version home port
  local v=$1 home=$2 port=$3 base=http://127.0.0.1:$3
  export AIRFLOW_HOME=$home PATH=$(venv_of "$v")/bin:$PATH   # SequentialExecutor runs `airflow` from PATH
  export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in the repo's DAG folder (the venv is compiled at install)
  export AIRFLOW__CORE__DAGS_FOLDER=$DAGS AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__PARALLELISM=2
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///$home/airflow.db
  export AIRFLOW__LOGGING__BASE_LOG_FOLDER=$home/logs
  if [ "${v%%.*}" = 2 ]; then
    export AIRFLOW__CORE__EXECUTOR=SequentialExecutor   # the only one Airflow 2 allows on SQLite
    export AIRFLOW__API__AUTH_BACKENDS=airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session
    export AIRFLOW__WEBSERVER__WEB_SERVER_HOST=127.0.0.1 AIRFLOW__WEBSERVER__WEB_SERVER_PORT=$port
    export AIRFLOW__WEBSERVER__WORKERS=1 AIRFLOW__WEBSERVER__SECRET_KEY=fairflow-test-secret
    export AIRFLOW__WEBSERVER__BASE_URL=$base
    export AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL=5 AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL=5
    export AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC=1
  else
    export AIRFLOW__CORE__EXECUTOR=LocalExecutor
    export AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$port AIRFLOW__API__WORKERS=1
    # Tasks reach the api-server's Execution API; its default URL is localhost:8080.
    export AIRFLOW__API__BASE_URL=$base AIRFLOW__CORE__EXECUTION_API_SERVER_URL=$base/execution/
    export AIRFLOW__API__SECRET_KEY=fairflow-test-secret
    export AIRFLOW__API_AUTH__JWT_SECRET=fairflow-test-jwt-secret-0123456789abcdef0123456789abcdef0123456789
    export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5 AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=5
    export AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC=1
    if fab "$v"; then
      export AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager
    else
      export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
      export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=$USER_NAME:admin
      export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$home/passwords.json
    fi
  fi
}

daemon() {  # home name cmd...: its own process group, so stop takes its children too
  local home=$1 name=$2; shift 2
  setsid "$@" >"$home/$name.log" 2>&1 </dev/null &
  echo $! >"$home/pids/$name.pid"
}

# JSON field check with the system python: prints the value of a Python expression over `j`.
jq_py() { python3 -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" 2>/dev/null; }

wait_up() {  # version port: health OK, then the test DAGs (AIRFLOW_PEER_WAIT_DAGS) and the broken file's import error listed
  local v=$1 base=http://127.0.0.1:$2 deadline=$(( $(date +%s) + TIMEOUT )) api auth tok n e
  if [ "${v%%.*}" = 2 ]; then
    api=$base/api/v1
    until [ "$(curl -sf "$api/health" | jq_py 'j["scheduler"]["status"]')" = healthy ]; do
      [ "$(date +%s)" -lt "$deadline" ] || return 1; sleep 0.5
    done
    auth=(-u "$USER_NAME:$PASSWORD")
  else
    api=$base/api/v2
    until [ "$(curl -sf "$api/monitor/health" | jq_py 'j["scheduler"]["status"]+j["dag_processor"]["status"]')" = healthyhealthy ]; do
      [ "$(date +%s)" -lt "$deadline" ] || return 1; sleep 0.5
    done
    tok=$(curl -sf -X POST -H 'Content-Type: application/json' \
      -d "{\"username\":\"$USER_NAME\",\"password\":\"$PASSWORD\"}" "$base/auth/token" | jq_py 'j["access_token"]') || return 1
    auth=(-H "Authorization: Bearer $tok")
  fi
  until n=$(curl -sf "${auth[@]}" "$api/dags?tags=fairflow&limit=1" | jq_py 'j["total_entries"]') && [ "${n:-0}" -ge "$WAIT_DAGS" ] &&
        e=$(curl -sf "${auth[@]}" "$api/importErrors?limit=1" | jq_py 'j["total_entries"]') && [ "${e:-0}" -ge 1 ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { say "$v: DAGs not parsed in time (dags=${n:-?} errors=${e:-?})"; return 1; }
    sleep 0.5
  done
}

start_one() {  # version: runs in its own background subshell (so the exports stay there); writes url-<major>
  local v=$1 home port t0 major=${1%%.*}
  home=$STATE/af$major; port=$(free_port); t0=$(now)
  mkdir -p "$home/pids"
  airflow_env "$v" "$home" "$port"
  airflow db migrate >"$home/init.log" 2>&1 || { say "$v: db migrate failed, see $home/init.log"; return 1; }
  if [ "$major" = 2 ] || fab "$v"; then
    airflow users create --username "$USER_NAME" --password "$PASSWORD" --role Admin \
      --firstname Fair --lastname Flow --email fairflow@example.com >>"$home/init.log" 2>&1 ||
      { say "$v: users create failed, see $home/init.log"; return 1; }
  fi
  if [ "$major" = 2 ]; then
    daemon "$home" webserver airflow webserver
    daemon "$home" scheduler airflow scheduler --skip-serve-logs   # else a log server binds *:8793
  else
    fab "$v" || printf '{"%s": "%s"}\n' "$USER_NAME" "$PASSWORD" >"$home/passwords.json"
    daemon "$home" api-server airflow api-server
    daemon "$home" scheduler airflow scheduler --skip-serve-logs
    daemon "$home" dag-processor airflow dag-processor
  fi
  if ! wait_up "$v" "$port"; then
    say "$v: not ready within ${TIMEOUT}s; last log lines:"; tail -n 15 "$home"/*.log >&2; return 1
  fi
  say "$v ready at http://127.0.0.1:$port in $(since "$t0") s"
  echo "AIRFLOW${major}_URL=http://127.0.0.1:$port" >"$STATE/url-$major"
}

stop_dir() {  # TERM each process group we started, KILL after 30 s
  local dir=$1 f pid
  for f in "$dir"/af*/pids/*.pid; do
    [ -e "$f" ] || continue; pid=$(cat "$f"); kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for f in "$dir"/af*/pids/*.pid; do
    [ -e "$f" ] || continue; pid=$(cat "$f")
    for _ in $(seq 1 60); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true; rm -f "$f"
  done
}

# Old run dirs (logs, SQLite) of instances that are gone: keep the newest 3 for post-mortems.
prune_runs() {
  local d n=0
  for d in $(ls -1dt "$RUNS"/airflow.* 2>/dev/null); do
    [ -f "$d/serve.pid" ] && kill -0 "$(cat "$d/serve.pid")" 2>/dev/null && continue
    n=$((n + 1)); [ "$n" -gt 3 ] && rm -rf "$d"
  done
  return 0
}

serve() {
  local t0 v pids=() ok=1
  t0=$(now); mkdir -p "$RUNS"; prune_runs
  STATE=$(mktemp -d "$RUNS/airflow.XXXXXX"); echo $$ >"$STATE/serve.pid"
  USER_NAME=admin
  PASSWORD=fairflow-$(python3 -c 'import secrets; print(secrets.token_hex(8))')
  stopping=0
  cleanup() {
    [ "$stopping" = 1 ] && return; stopping=1; say "stopping"
    # Installs and starts still in flight first, so no daemon appears after stop_dir looked.
    local j; for j in $(jobs -p); do kill -TERM "$j" 2>/dev/null || true; done
    wait 2>/dev/null || true
    stop_dir "$STATE"; say "stopped"
  }
  trap 'cleanup; exit 0' TERM INT
  trap cleanup EXIT
  for v in $VERSIONS; do install_one "$v" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  [ "$ok" = 1 ] || { say "install failed"; exit 1; }
  pids=()
  for v in $VERSIONS; do start_one "$v" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  [ "$ok" = 1 ] || { say "start failed; logs in $STATE"; exit 1; }
  cat "$STATE"/url-*
  echo "AIRFLOW_USER=$USER_NAME"
  echo "AIRFLOW_PASSWORD=$PASSWORD"
  echo "AIRFLOW_PEER_DIR=$STATE"
  say "all ready in $(since "$t0") s"
  echo READY
  while true; do sleep 1 & wait $! || true; done
}

case "${1:-serve}" in
  serve) serve ;;
  install)
    pids=(); ok=1
    for v in $VERSIONS; do install_one "$v" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p" || ok=0; done
    [ "$ok" = 1 ] ;;
  stop)
    dir=${2:-}
    if [ -z "$dir" ]; then  # other runs (scripts/test, other worktrees) share the cache: guess only when one serves
      serving=()
      for d in "$RUNS"/airflow.*; do
        [ -f "$d/serve.pid" ] && kill -0 "$(cat "$d/serve.pid")" 2>/dev/null && serving+=("$d")
      done
      if [ "${#serving[@]}" -gt 1 ]; then
        say "several instances are serving: name the one to stop (its AIRFLOW_PEER_DIR): ${serving[*]}"; exit 2
      fi
      dir=${serving[0]:-}
    fi
    [ -n "$dir" ] && [ -f "$dir/serve.pid" ] || { say "nothing to stop"; exit 0; }
    pid=$(cat "$dir/serve.pid")
    if kill -TERM "$pid" 2>/dev/null; then
      for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    stop_dir "$dir" ;;
  *) echo "usage: $0 [serve|install|stop [DIR]]" >&2; exit 2 ;;
esac
