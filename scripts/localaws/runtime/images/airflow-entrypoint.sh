#!/usr/bin/env bash
# (first version: command dispatch only; the full /entrypoint follows)
if [ $# -eq 0 ]; then exec bash; fi
case "$1" in
  bash|python) exec "$@" ;;
  airflow) shift ;;
esac
exec airflow "$@"
