#!/usr/bin/env bash
# /entrypoint of apache/airflow (the production image), for the local AWS: images.py bind-mounts this file
# at /entrypoint and runs ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"] with the image's ENV (PATH
# starts with the cached virtualenv's bin, AIRFLOW_HOME=/opt/airflow, ...).
#
# Behaves like the image's scripts/docker/entrypoint_prod.sh (docs: airflow.apache.org/docs/docker-stack/entrypoint):
#   - CONNECTION_CHECK_MAX_COUNT (default 20) x CONNECTION_CHECK_SLEEP_TIME (default 3 s): wait for the metadata
#     DB (`airflow db check`), and for `scheduler`/`celery` commands with the CeleryExecutor, for the broker
#     (TCP connect to broker_url's host:port); 0 skips the checks.  Gives up with "ERROR! Maximum number of
#     retries" and exit 1.
#   - _AIRFLOW_DB_MIGRATE (or the deprecated _AIRFLOW_DB_UPGRADE, with its warning): `airflow db migrate`
#     (a failure is ignored, as the real one does).
#   - _AIRFLOW_WWW_USER_CREATE: `airflow users create` (the FAB auth manager's CLI in Airflow 3) from
#     _AIRFLOW_WWW_USER_{USERNAME,FIRSTNAME,LASTNAME,EMAIL,ROLE} and _AIRFLOW_WWW_USER_PASSWORD(_CMD);
#     no password: "ERROR! Airflow Admin password not set ..." and exit 1; a failed create is ignored.
#   - AIRFLOW__{SECTION}__{KEY}_CMD: as in the real image, Airflow itself evaluates them (the DB check,
#     migrate and every command read the config through Airflow), so nothing is exported here.
#   - _PIP_ADDITIONAL_REQUIREMENTS: installs them with the warnings of the real one, then ends the
#     container after 10 minutes (kill -HUP 0).  The image's venv is shared by every task, so packages go to
#     a per-task prefix under $HOME (a per-task directory) that is put first on PYTHONPATH.
#   - dispatch: `bash ARGS` -> /bin/bash ARGS, `python ARGS` -> python ARGS (after the DB check), an optional
#     leading `airflow` is dropped, anything else is `exec airflow "$@"` (so `version`, `db ...`, `api-server`,
#     `celery worker`, ...); no arguments -> `airflow` (its usage).
# Differences: the task runs as root (see DESIGN.md "Images"), so the root warning and the UID/GID checks of
# the real one, made for arbitrary-UID runs, do not apply; PIP_USER is unset as the real one does.
AIRFLOW_COMMAND="${1:-}"
set -euo pipefail

# The image preloads libstdc++ (static TLS workaround, apache/airflow#17546); only if the host has it, and
# keeping what is preloaded already (the runtime's bind shim, which gives the task its own address).
if [[ -e "/usr/lib/$(uname -m)-linux-gnu/libstdc++.so.6" ]]; then
    export LD_PRELOAD="/usr/lib/$(uname -m)-linux-gnu/libstdc++.so.6${LD_PRELOAD:+ $LD_PRELOAD}"
fi

unset PIP_USER
umask 0002

: "${CONNECTION_CHECK_MAX_COUNT:=20}"
: "${CONNECTION_CHECK_SLEEP_TIME:=3}"
readonly CONNECTION_CHECK_MAX_COUNT CONNECTION_CHECK_SLEEP_TIME

# retry CMD: run the shell command CMD until it succeeds, CONNECTION_CHECK_MAX_COUNT times at most.
retry() {
    local cmd=$1 left=$CONNECTION_CHECK_MAX_COUNT out rc
    while :; do
        set +e
        out=$(eval "$cmd" 2>&1)
        rc=$?
        set -e
        if [[ $rc == 0 ]]; then
            echo
            return 0
        fi
        echo -n "."
        left=$((left - 1))
        if [[ $left -le 0 ]]; then
            echo
            echo "ERROR! Maximum number of retries (${CONNECTION_CHECK_MAX_COUNT}) reached."
            echo
            echo "Last check result:"
            echo "$ ${cmd}"
            echo "${out}"
            echo
            exit 1
        fi
        sleep "$CONNECTION_CHECK_SLEEP_TIME"
    done
}

# tcp_check HOST PORT: forward lookup only, then a TCP connect (what `nc -zvvn IP PORT` does in the image).
tcp_check() {
    python - "$1" "$2" <<'PY'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
ip = socket.gethostbyname(host)
with socket.create_connection((ip, port), timeout=5):
    pass
print(f"Connection to {ip} {port} port [tcp/*] succeeded!")
PY
}

url_part() {  # URL scheme|hostname|port
    python -c 'import sys; from urllib.parse import urlsplit as u; p = u(sys.argv[1]); v = getattr(p, sys.argv[2]); print(v if v is not None else "")' "$1" "$2"
}

wait_for_connection() {  # URL: the broker, by scheme with the default port of its kind
    local url=$1 backend host port
    backend=$(url_part "$url" scheme)
    host=$(url_part "$url" hostname)
    port=$(url_part "$url" port)
    echo "BACKEND=${BACKEND:=$backend}"
    if [[ -z $port ]]; then
        case $BACKEND in
            postgres*) port=5432 ;;
            mysql*) port=3306 ;;
            mssql*) port=1433 ;;
            redis*|rediss*) port=6379 ;;
            amqp*) port=5672 ;;
        esac
    fi
    host=${host:-localhost}
    # As the real one: DB_HOST/DB_PORT, when set, name the host to check (the stack's task definitions set
    # them to the database, so the broker check then probes the database's port).
    echo "DB_HOST=${DB_HOST:=$host}"
    echo "DB_PORT=${DB_PORT:=$port}"
    if [[ -n $DB_HOST && -n $DB_PORT ]]; then
        retry "tcp_check ${DB_HOST@Q} ${DB_PORT@Q}"
    else
        >&2 echo "The connection details to the broker could not be determined. Connectivity checks were skipped."
    fi
}

create_www_user() {
    local password=
    if [[ -n ${_AIRFLOW_WWW_USER_PASSWORD_CMD:-} ]]; then
        password=$(eval "${_AIRFLOW_WWW_USER_PASSWORD_CMD}")
        unset _AIRFLOW_WWW_USER_PASSWORD_CMD
    elif [[ -n ${_AIRFLOW_WWW_USER_PASSWORD:-} ]]; then
        password=${_AIRFLOW_WWW_USER_PASSWORD}
        unset _AIRFLOW_WWW_USER_PASSWORD
    fi
    if [[ -z $password ]]; then
        echo
        echo "ERROR! Airflow Admin password not set via _AIRFLOW_WWW_USER_PASSWORD or _AIRFLOW_WWW_USER_PASSWORD_CMD variables!"
        echo
        exit 1
    fi
    airflow users create \
        --username "${_AIRFLOW_WWW_USER_USERNAME:-admin}" \
        --firstname "${_AIRFLOW_WWW_USER_FIRSTNAME:-Airflow}" \
        --lastname "${_AIRFLOW_WWW_USER_LASTNAME:-Admin}" \
        --email "${_AIRFLOW_WWW_USER_EMAIL:-airflowadmin@example.com}" \
        --role "${_AIRFLOW_WWW_USER_ROLE:-Admin}" \
        --password "$password" || true
}

wait_for_celery_broker() {
    local executor
    executor=$(airflow config get-value core executor)
    if [[ $executor == CeleryExecutor || $executor == *.CeleryExecutor ]]; then
        wait_for_connection "$(airflow config get-value celery broker_url)"
    fi
}

pip_additional_requirements() {
    local yellow=$'\e[33m' red=$'\e[31m' reset=$'\e[0m' kill_timeout=600 pyver prefix site
    >&2 echo
    >&2 echo "${yellow}Installing additional requirements: '${_PIP_ADDITIONAL_REQUIREMENTS}' ${reset}"
    >&2 echo
    >&2 echo "${yellow}WARNING: This is a development/test feature only. NEVER use it in production!${reset}"
    >&2 echo
    >&2 echo "         Instead, build a custom image as described in"
    >&2 echo
    >&2 echo "         https://airflow.apache.org/docs/docker-stack/build.html"
    >&2 echo
    >&2 echo "         Adding requirements at container startup is fragile and is done every time"
    >&2 echo "         the container starts, so it is only useful for testing and trying out"
    >&2 echo "         of adding dependencies."
    >&2 echo
    pyver=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    prefix="${HOME:-/home/airflow}/.local"
    site="$prefix/lib/python$pyver/site-packages"
    # shellcheck disable=SC2086  # the variable is a list of requirement specifiers, split as the real one does
    python -m pip install --disable-pip-version-check --root-user-action ignore --no-cache-dir \
        --prefix "$prefix" "apache-airflow==${AIRFLOW_VERSION}" ${_PIP_ADDITIONAL_REQUIREMENTS}
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PATH="$prefix/bin:$PATH"
    >&2 echo
    >&2 echo "Verifies if installed dependencies are consistent with airflow".
    >&2 echo
    python -m pip check --disable-pip-version-check
    >&2 echo
    >&2 echo "${yellow}Since you are using the image with \`\`_PIP_ADDITIONAL_REQUIREMENTS\`\`, the container will shutdown after $((kill_timeout / 60)) minutes of use.${reset}".
    >&2 echo
    (
        sleep "$kill_timeout"
        >&2 echo "${red}Restarting the container after $((kill_timeout / 60)) minutes of running with _PIP_ADDITIONAL_REQUIREMENTS${reset}"
        >&2 echo
        >&2 echo "In order to run your container for a longer time build your custom containers"
        >&2 echo
        >&2 echo "See https://airflow.apache.org/docs/docker-stack/build.html"
        sleep 1
        kill -HUP 0
    ) &
}

if [[ $CONNECTION_CHECK_MAX_COUNT -gt 0 ]]; then
    retry "airflow db check"
fi

if [[ -n ${_AIRFLOW_DB_UPGRADE:-} || -n ${_AIRFLOW_DB_MIGRATE:-} ]]; then
    airflow db migrate || true
fi
if [[ -n ${_AIRFLOW_DB_UPGRADE:-} ]]; then
    >&2 echo "WARNING: Environment variable '_AIRFLOW_DB_UPGRADE' is deprecated please use '_AIRFLOW_DB_MIGRATE' instead"
fi

if [[ -n ${_AIRFLOW_WWW_USER_CREATE:-} ]]; then
    create_www_user
fi

if [[ -n ${_PIP_ADDITIONAL_REQUIREMENTS:-} ]]; then
    pip_additional_requirements
fi

# bash and python run after the DB check, as in the image
case $AIRFLOW_COMMAND in
    bash) shift; exec /bin/bash "$@" ;;
    python) shift; exec python "$@" ;;
esac

if [[ $AIRFLOW_COMMAND == airflow ]]; then
    AIRFLOW_COMMAND="${2:-}"
    shift
fi

if [[ $AIRFLOW_COMMAND =~ ^(scheduler|celery)$ && $CONNECTION_CHECK_MAX_COUNT -gt 0 ]]; then
    wait_for_celery_broker
fi

exec airflow "$@"
