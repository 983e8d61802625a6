#!/usr/bin/env bash
# A private MariaDB server on 127.0.0.1 standing in for the RDS metadata database in tests.
# Usage: scripts/lib/mariadb-peer.sh [--port N]
# Prints MARIADB_HOST, MARIADB_PORT, MARIADB_USER, MARIADB_PASSWORD (a test-only credential),
# MARIADB_DATABASE, MARIADB_ROOT_USER, MARIADB_PID then READY; serves until SIGTERM/SIGINT.
# The test user may create databases (tests make one schema each); root has no password over TCP.
set -euo pipefail
port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    *) echo "mariadb-peer: unknown argument $1 — usage: mariadb-peer.sh [--port N]" >&2; exit 64 ;;
  esac
done

if ! command -v mariadbd >/dev/null || ! command -v mariadb >/dev/null || [ ! -e /usr/include/mariadb/mysql.h ]; then
  echo "mariadb-peer: installing mariadb-server, mariadb-client, libmariadb-dev (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  pkgs="mariadb-server mariadb-client libmariadb-dev"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq $pkgs >&2 ||
    { apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 && apt-get -o DPkg::Lock::Timeout=600 install -y -qq $pkgs >&2; }
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
[ -n "$port" ] || port=$(free_port)

M=$(mktemp -d /tmp/fairflow-mariadb.XXXXXX)
db_pid=""
cleanup() {
  if [ -n "$db_pid" ]; then kill "$db_pid" 2>/dev/null || true; wait "$db_pid" 2>/dev/null || true; fi
  rm -rf "$M"
}
trap 'cleanup; exit 0' TERM INT
trap cleanup EXIT

mariadb-install-db --no-defaults --datadir="$M/data" --user="$(id -un)" \
  --auth-root-authentication-method=normal --skip-test-db >"$M/install.log" 2>&1 ||
  { echo "mariadb-peer: mariadb-install-db failed: $(tail -5 "$M/install.log")" >&2; exit 1; }
mariadbd --no-defaults --datadir="$M/data" --port="$port" --bind-address=127.0.0.1 \
  --socket="$M/mysqld.sock" --pid-file="$M/mariadbd.pid" --user="$(id -un)" --log-error="$M/error.log" \
  --skip-log-bin --innodb-buffer-pool-size=64M --max-connections=100 \
  --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --innodb-flush-method=nosync >"$M/stdout.log" 2>&1 &
db_pid=$!

Q=(mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$port" -uroot)
for _ in $(seq 1 400); do
  if "${Q[@]}" -e 'SELECT 1' >/dev/null 2>&1; then break; fi   # mariadb-admin ping exits 0 even on access denied
  kill -0 "$db_pid" 2>/dev/null || { echo "mariadb-peer: mariadbd exited: $(tail -5 "$M/error.log")" >&2; exit 1; }
  sleep 0.05
done
user=airflow; password=airflow-test-pw; database=airflow
"${Q[@]}" -e "CREATE USER '$user'@'%' IDENTIFIED BY '$password';
  CREATE DATABASE $database; GRANT ALL PRIVILEGES ON *.* TO '$user'@'%'; FLUSH PRIVILEGES;"

cat <<OUT
MARIADB_HOST=127.0.0.1
MARIADB_PORT=$port
MARIADB_PID=$db_pid
MARIADB_USER=$user
MARIADB_PASSWORD=$password
MARIADB_DATABASE=$database
MARIADB_ROOT_USER=root
MARIADB_DIR=$M
READY
OUT
wait "$db_pid"
