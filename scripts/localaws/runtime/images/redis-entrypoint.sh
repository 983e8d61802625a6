#!/bin/sh
# The redis image's docker-entrypoint.sh, for the host's redis-server (images.py bind-mounts this at
# /usr/local/bin/docker-entrypoint.sh).  Differences from the real one: no `gosu redis` (the task runs as
# the local AWS's user), and protected mode is off unless asked for, as the official image compiles it
# (CONFIG_DEFAULT_PROTECTED_MODE 0): Debian's build refuses clients that are not exactly 127.0.0.1/::1,
# and tasks dial each other on 127.x.y.z twins.
set -e

# first arg is `-f` or `--some-option`, or first arg is `something.conf`
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ]; then
	protected=
	for a in "$@"; do
		case "$a" in --protected-mode|--protected-mode=*) protected=1 ;; esac
	done
	if [ -z "$protected" ] && [ "${2%.conf}" != "${2:-}" ] && [ -f "$2" ] && grep -qi '^[[:space:]]*protected-mode' "$2"; then
		protected=1
	fi
	[ -n "$protected" ] || set -- "$@" --protected-mode no
fi

# set an appropriate umask (if one isn't set already)
um="$(umask)"
if [ "$um" = '0022' ]; then
	umask 0077
fi

exec "$@"
