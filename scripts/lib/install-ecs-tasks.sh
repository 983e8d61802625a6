#!/usr/bin/env bash
# What the local AWS's ECS task engine (`scripts/local-aws --run`, runtime/ecs_tasks.py) needs (idempotent):
# gcc and the C library headers to build the bind shim (runtime/native/bindshim.c, compiled at first use),
# util-linux's nsenter (container health checks run in the container's namespaces).
set -euo pipefail
. "$(dirname "$0")/apt.sh"
apt_ensure install-ecs-tasks gcc libc6-dev util-linux
