#!/usr/bin/env bash
# Makes the real Airflow metadata schema on the MariaDB peer with `airflow db migrate` and dumps it as a
# test fixture. Usage (with MARIADB_* from scripts/lib/mariadb-peer.sh exported):
#   scripts/lib/airflow-schema-dump.sh ~/.cache/fairflow/venv-airflow-3.3.2 3.3.2 Tests/MetadataDBTests/Fixtures/airflow-3.3.2-schema.sql
# The Airflow venv has no MySQL driver; PyMySQL (and aiomysql for Airflow 3) go into a side dir on
# PYTHONPATH, dressed as mysqlclient, so the venv itself is not changed.
set -euo pipefail
venv=$1 version=$2 out=$3
: "${MARIADB_PORT:?start scripts/lib/mariadb-peer.sh first}" "${MARIADB_USER:?}" "${MARIADB_PASSWORD:?}"
side=${TMPDIR:-/tmp}/fairflow-pymysql
if [ ! -f "$side/sitecustomize.py" ]; then
  pip install -q --target "$side" pymysql aiomysql >&2
  cat > "$side/sitecustomize.py" <<'PY'
import sys, pymysql, pymysql.converters as c
pymysql.version_info = (2, 2, 7, "final", 0)
c.DateTime2literal = lambda v, conv=None: c.escape_datetime(v)
pymysql.install_as_MySQLdb()
sys.modules["MySQLdb.converters"] = c
PY
fi
db="schema_$(echo "$version" | tr -c '0-9\n' '_')"
q=(mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$MARIADB_PORT" -u"$MARIADB_USER" -p"$MARIADB_PASSWORD")
"${q[@]}" -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
home=$(mktemp -d); trap 'rm -rf "$home"' EXIT
AIRFLOW_HOME=$home PYTHONPATH=$side AIRFLOW__CORE__LOAD_EXAMPLES=False \
  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="mysql+pymysql://$MARIADB_USER:$MARIADB_PASSWORD@127.0.0.1:$MARIADB_PORT/$db" \
  "$venv/bin/airflow" db migrate >&2
head=$("${q[@]}" -N -e "SELECT version_num FROM $db.alembic_version")
{
  echo "-- The real schema made by \`airflow db migrate\` of Airflow $version (head $head) on MariaDB,"
  echo "-- dumped with mariadb-dump --no-data --compact by scripts/lib/airflow-schema-dump.sh."
  echo "SET FOREIGN_KEY_CHECKS=0;"
  mariadb-dump --no-defaults --protocol=tcp -h127.0.0.1 -P"$MARIADB_PORT" -u"$MARIADB_USER" -p"$MARIADB_PASSWORD" \
    --no-data --compact --skip-add-drop-table "$db" | grep -v '^/\*M!999999' | sed -E 's/ AUTO_INCREMENT=[0-9]+//'
} > "$out"
"${q[@]}" -e "DROP DATABASE $db"
echo "wrote $out (head $head)" >&2
