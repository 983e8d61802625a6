#!/usr/bin/env bash
# What the local AWS's bastion (`scripts/local-aws --run`, runtime/ssm.py) needs beyond install-bastion.sh
# (idempotent): sudo, so that `ec2-user` runs `sudo -n` as on Amazon Linux (fairflow's `efs ls --via ssh`),
# and util-linux's unshare/nsenter (Debian has them in util-linux, always installed).
set -euo pipefail
. "$(dirname "$0")/apt.sh"
apt_ensure install-ssm-bastion sudo openssh-server openssh-client
