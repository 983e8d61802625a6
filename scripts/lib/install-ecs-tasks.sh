#!/usr/bin/env bash
# What the local AWS's ECS task engine (`scripts/local-aws --run`, runtime/ecs_tasks.py) needs (idempotent):
# gcc and the C library headers to build the bind shim (runtime/native/bindshim.c, compiled at first use),
# util-linux's nsenter (container health checks run in the container's namespaces).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(gcc libc6-dev util-linux)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-ecs-tasks: apt-get install ${missing[*]}" >&2
apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
  { apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null; }
