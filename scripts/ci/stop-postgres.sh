#!/usr/bin/env bash
# Stops the throwaway PostgreSQL started by scripts/ci/start-postgres.sh (same PGPORT) and deletes its data dir.
# Safe to run when nothing is running.
set -euo pipefail

PGPORT=${PGPORT:-55432}
STATE=${GOUJI_PG_STATE:-/tmp/gouji-postgres-$PGPORT.env}

log() { echo "stop-postgres: $*" >&2; }
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ ! -f "$STATE" ]; then
  log "no state file $STATE: nothing to stop"
  exit 0
fi
# shellcheck disable=SC1090
. "$STATE"

if [ -d "${PGDATA:-/nonexistent}" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  log "stopped PostgreSQL on 127.0.0.1:$PGPORT"
fi
# Only ever delete a directory this tooling created.
case "${PGDATA:-}" in
  /tmp/gouji-pgdata.*) rm -rf -- "$PGDATA" ;;
  *) log "not deleting unexpected PGDATA '${PGDATA:-}'" ;;
esac
rm -f -- "$STATE"
