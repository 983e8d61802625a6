#!/usr/bin/env bash
# The local AWS's data services (`scripts/local-aws --run`, runtime/rds.py and runtime/elasticache.py):
# MariaDB server, client and mariabackup (RDS instances and their snapshots), redis-server (ElastiCache),
# openssl (ElastiCache TLS certificates). Idempotent; run by scripts/install-deps.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for p in mariadb-server mariadb-client mariadb-backup redis-server openssl; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "install-data-services: apt-get install ${need[*]}" >&2
# policy-rc.d 101: the packages' maintainer scripts must not start system-wide servers (the local AWS
# starts its own, on its own loopback addresses).
restore_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; restore_policy=1
fi
trap '[ -z "$restore_policy" ] || rm -f /usr/sbin/policy-rc.d' EXIT
apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >&2 ||
  { apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >&2; }
