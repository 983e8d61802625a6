#!/usr/bin/env bash
# What db check / db tunnel / efs ls need (idempotent): MariaDB Connector/C headers to build the
# CMariaDB module, and the test peers sshd-peer.sh and mariadb-peer.sh (OpenSSH server, MariaDB server
# and client; the client also proves `db tunnel` in the tests).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(libmariadb-dev openssh-server openssh-client mariadb-server mariadb-client)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-bastion: apt-get install ${missing[*]}" >&2
apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
