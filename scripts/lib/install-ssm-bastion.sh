#!/usr/bin/env bash
# What the local AWS's bastion (`scripts/local-aws --run`, runtime/ssm.py) needs beyond install-bastion.sh
# (idempotent): sudo, so that `ec2-user` runs `sudo -n` as on Amazon Linux (fairflow's `efs ls --via ssh`),
# and util-linux's unshare/nsenter (Debian has them in util-linux, always installed).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(sudo openssh-server openssh-client)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-ssm-bastion: apt-get install ${missing[*]}" >&2
apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
  { apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null; }
