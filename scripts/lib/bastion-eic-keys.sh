#!/bin/sh
# sshd AuthorizedKeysCommand of the local AWS's EC2 instances (runtime/ssm.py): prints the EC2 Instance
# Connect keys pushed for user $1 (SendSSHPublicKey) that are still valid (60 s), as AWS's
# eic_run_authorized_keys does. $2: the instance's key directory; each line there is "EXPIRY KEY...".
# Must stay root-owned and not group/world-writable (sshd refuses the command otherwise).
[ -f "$2/$1" ] || exit 0
now=$(date +%s)
while read -r expiry key; do
  [ "$expiry" -gt "$now" ] 2>/dev/null && printf '%s\n' "$key"
done < "$2/$1"
exit 0
