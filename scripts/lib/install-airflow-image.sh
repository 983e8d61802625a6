#!/usr/bin/env bash
# The local AWS's stand-ins for the stack's container images (scripts/localaws/runtime/images.py):
# the host packages they use, and a cached virtualenv per apache/airflow image flavour.
#
# Usage: scripts/lib/install-airflow-image.sh [VERSION] [--python=X.Y] [--check]
#   no VERSION   apt packages only, then the version the generated template uses (apache/airflow:3.3.2)
#   VERSION      e.g. 3.3.2 or 2.11.2: $FAIRFLOW_CACHE/image-apache-airflow-VERSION[-pythonX.Y] with
#                apache-airflow[EXTRAS]==VERSION (the official image's extras the stack needs)
#   --python=X.Y the image flavour apache/airflow:VERSION-pythonX.Y (default: the host's python3)
#   --check      exit 0 if that venv is installed from the current constraints, 1 if not (installs nothing)
# Exit 3: no such apache-airflow version on PyPI (images.py reports CannotPullContainerError ... not found).
# Reproducible: the first install of a flavour freezes scripts/lib/airflow-constraints/image-FLAVOUR.txt
# (commit it); later installs use it as pip constraints.  Idempotent; concurrent runs serialise on a flock.
# Hooked into scripts/install-deps (which runs every scripts/lib/install-*.sh without arguments).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${FAIRFLOW_CACHE:-$HOME/.cache/fairflow}
EXTRAS=${AIRFLOW_IMAGE_EXTRAS:-amazon,celery,fab,http,mysql,redis,statsd}
DEFAULT_VERSION=3.3.2
say() { echo "[install-airflow-image] $*" >&2; }

version= python= check=
for a in "$@"; do
  case $a in
    --python=*) python=${a#--python=} ;;
    --check) check=1 ;;
    -*) echo "usage: $0 [VERSION] [--python=X.Y] [--check]" >&2; exit 2 ;;
    *) version=$a ;;
  esac
done

apt_packages() {
  # dumb-init: the image's PID 1; redis-server/redis-tools: the redis image; git: git-sync;
  # libmariadb-dev + pkg-config + gcc: mysqlclient (apache-airflow[mysql]) compiles from source.
  local want=(dumb-init redis-server redis-tools git libmariadb-dev pkg-config gcc curl) missing=() p
  for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
}

find_python() {  # X.Y or empty -> a real interpreter (not a pyenv shim)
  local want=$1 c
  if [ -z "$want" ]; then
    python3 -c 'import os,sys; print(os.path.realpath(sys.executable))'; return
  fi
  for c in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$want".* 2>/dev/null | sort -rV); do
    [ -x "$c/bin/python$want" ] && { echo "$c/bin/python$want"; return; }
  done
  for c in /usr/local/bin/python$want /usr/bin/python$want; do [ -x "$c" ] && { echo "$c"; return; }; done
  return 1
}

[ -n "$check" ] || [ -n "$version" ] || apt_packages
[ -n "$version" ] || version=$DEFAULT_VERSION

flavour=$version${python:+-python$python}
venv=$CACHE/image-apache-airflow-$flavour
frozen=$here/airflow-constraints/image-$flavour.txt
package="apache-airflow[$EXTRAS]==$version"
# Seed constraints for the first install: the repo's freeze of plain Airflow of that version, if any,
# and celery<5.7 (providers-celery 3.26 imports celery.backends.database.retry, gone in celery 5.7).
seed=()
if [ -f "$frozen" ]; then
  seed=(-c "$frozen")
else
  for f in "$here/airflow-constraints/$version-fab.txt" "$here/airflow-constraints/$version.txt"; do
    [ -f "$f" ] && { seed=(-c "$f"); break; }
  done
fi
want="$package $( [ -f "$frozen" ] && sha256sum "$frozen" | cut -c1-16 || echo unpinned)"
installed() { [ -x "$venv/bin/airflow" ] && [ "$(cat "$venv/.fairflow-installed" 2>/dev/null)" = "$want" ]; }

# The MariaDB compatibility hook (runtime/images/fairflow_mariadb_compat.py: why and what) in site-packages.
compat_src=$here/../localaws/runtime/images/fairflow_mariadb_compat.py
install_compat() {
  local site; site=$(echo "$venv"/lib/python3*/site-packages)
  cmp -s "$compat_src" "$site/fairflow_mariadb_compat.py" && [ -f "$site/fairflow-mariadb-compat.pth" ] && return 0
  cp "$compat_src" "$site/fairflow_mariadb_compat.py"
  echo "import fairflow_mariadb_compat; fairflow_mariadb_compat.register()" >"$site/fairflow-mariadb-compat.pth"
  env -u PYTHONDONTWRITEBYTECODE "$venv/bin/python" -m py_compile "$site/fairflow_mariadb_compat.py"
}

if [ -n "$check" ]; then installed && [ -f "$(echo "$venv"/lib/python3*/site-packages)/fairflow-mariadb-compat.pth" ]; exit; fi
mkdir -p "$CACHE"
exec 9>"$venv.lock"; flock 9
installed && { install_compat; exit 0; }

apt_packages   # mysqlclient compiles against libmariadb-dev (fast when all are there)
py=$(find_python "$python") || { say "no Python $python on this host"; exit 3; }
t0=$(date +%s)
say "installing $package into $venv with $py ($( [ ${#seed[@]} -gt 0 ] && basename "${seed[1]}" || echo unpinned)); a few minutes"
rm -rf "$venv"
"$py" -m venv "$venv"
# pip compiles bytecode at install: unset PYTHONDONTWRITEBYTECODE so it does (else every start recompiles).
log=$venv.install.log
if ! env -u PYTHONDONTWRITEBYTECODE "$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip >"$log" 2>&1 ||
   ! env -u PYTHONDONTWRITEBYTECODE "$venv/bin/pip" install -q --disable-pip-version-check \
       "$package" "celery<5.7" "${seed[@]}" >>"$log" 2>&1; then
  if grep -Eq "No matching distribution found for apache-airflow(\[[^]]*\])?==" "$log"; then
    say "no such version: apache-airflow==$version"
    rm -rf "$venv" "$log" "$venv.lock"; exit 3
  fi
  tail -n 30 "$log" | cut -c1-400 >&2
  rm -rf "$venv"; exit 1
fi
if [ ! -f "$frozen" ]; then
  "$venv/bin/pip" freeze --disable-pip-version-check --exclude-editable | grep -v '^pip==' >"$frozen"
  say "froze $frozen (commit it)"
  want="$package $(sha256sum "$frozen" | cut -c1-16)"
fi
echo "$want" >"$venv/.fairflow-installed"
install_compat
say "installed $flavour in $(( $(date +%s) - t0 )) s"
