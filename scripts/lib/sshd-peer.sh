#!/usr/bin/env bash
# An OpenSSH sshd on 127.0.0.1 standing in for the bastion in tests.
# Usage: scripts/lib/sshd-peer.sh [--port N]
# Host keys (ed25519, ecdsa, rsa) and an ed25519 user key are made per run in a temp dir.
# Prints SSHD_PORT, SSHD_HOST, SSHD_HOST_KEY_DIR, SSHD_USER, SSHD_KEY, SSHD_KNOWN_HOSTS,
# SSHD_KNOWN_HOSTS_HASHED, SSHD_PID then READY; serves until SIGTERM/SIGINT, then removes its dir.
set -euo pipefail
port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    *) echo "sshd-peer: unknown argument $1 — usage: sshd-peer.sh [--port N]" >&2; exit 64 ;;
  esac
done

if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keyscan >/dev/null; then
  echo "sshd-peer: installing openssh-server (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq openssh-server openssh-client >&2 ||
    { apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 &&
      apt-get -o DPkg::Lock::Timeout=600 install -y -qq openssh-server openssh-client >&2; }
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
[ -n "$port" ] || port=$(free_port)

D=$(mktemp -d /tmp/fairflow-sshd.XXXXXX)
sshd_pid=""
cleanup() {
  if [ -n "$sshd_pid" ]; then kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; fi
  rm -rf "$D"
}
trap 'cleanup; exit 0' TERM INT
trap cleanup EXIT

mkdir -p /run/sshd   # sshd refuses to start without its privilege-separation dir
for t in ed25519 ecdsa rsa; do ssh-keygen -q -t "$t" -N '' -f "$D/host_$t" -C fairflow-test-host; done
ssh-keygen -q -t ed25519 -N '' -f "$D/id_ed25519" -C fairflow-test-user
cp "$D/id_ed25519.pub" "$D/authorized_keys"; chmod 600 "$D/authorized_keys"
user=$(id -un)
cat > "$D/sshd_config" <<SSHD
Port $port
ListenAddress 127.0.0.1
HostKey $D/host_ed25519
HostKey $D/host_ecdsa
HostKey $D/host_rsa
PidFile $D/sshd.pid
AuthorizedKeysFile $D/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
PermitOpen any
X11Forwarding no
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
SSHD
/usr/sbin/sshd -t -f "$D/sshd_config" >&2
/usr/sbin/sshd -D -f "$D/sshd_config" -E "$D/sshd.log" &
sshd_pid=$!

for _ in $(seq 1 200); do
  if ssh-keyscan -p "$port" -T 1 127.0.0.1 >/dev/null 2>&1; then break; fi
  kill -0 "$sshd_pid" 2>/dev/null || { echo "sshd-peer: sshd exited: $(tail -5 "$D/sshd.log")" >&2; exit 1; }
  sleep 0.05
done
ssh-keyscan -p "$port" 127.0.0.1 2>/dev/null | sort >"$D/known_hosts"
ssh-keyscan -H -p "$port" -t ed25519 127.0.0.1 2>/dev/null >"$D/known_hosts_hashed"
[ -s "$D/known_hosts" ] || { echo "sshd-peer: ssh-keyscan got no host keys" >&2; exit 1; }

cat <<OUT
SSHD_HOST=127.0.0.1
SSHD_PORT=$port
SSHD_PID=$sshd_pid
SSHD_HOST_KEY_DIR=$D
SSHD_USER=$user
SSHD_KEY=$D/id_ed25519
SSHD_KNOWN_HOSTS=$D/known_hosts
SSHD_KNOWN_HOSTS_HASHED=$D/known_hosts_hashed
READY
OUT
wait "$sshd_pid"
