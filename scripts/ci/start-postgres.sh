#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on 127.0.0.1:$PGPORT (default 55432) with its data in a mktemp dir, for tests.
# Installs postgresql via apt only if no pg_ctl exists. Prints `export ...` lines on stdout (logs go to stderr):
#   eval "$(scripts/ci/start-postgres.sh)"     # sets PGDATA, PGPORT, DATABASE_URL
# Running it again while that cluster is up just prints the same lines. Stop with scripts/ci/stop-postgres.sh.
# Run as root (initdb/pg_ctl then run as user postgres) or as an ordinary user (they run as that user).
set -euo pipefail

PGPORT=${PGPORT:-55432}
PGDATABASE=${PGDATABASE:-gouji}
STATE=${GOUJI_PG_STATE:-/tmp/gouji-postgres-$PGPORT.env}

log() { echo "start-postgres: $*" >&2; }

find_pgbin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return; fi
  if command -v pg_ctl >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v pg_ctl)")"; fi
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

print_exports() {
  echo "export PGDATA=$PGDATA"
  echo "export PGPORT=$PGPORT"
  echo "export DATABASE_URL=$DATABASE_URL"
}

# Already running from an earlier call? Print the same exports.
if [ -f "$STATE" ]; then
  # shellcheck disable=SC1090
  . "$STATE"
  if [ -n "${PGBIN:-}" ] && [ -d "${PGDATA:-/nonexistent}" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    log "already running (PGDATA=$PGDATA)"
    print_exports
    exit 0
  fi
  log "removing stale state $STATE"
  rm -f "$STATE"
fi

PGBIN=$(find_pgbin)
if [ -z "$PGBIN" ]; then
  if [ "$(id -u)" -ne 0 ]; then log "pg_ctl not found and not root: install postgresql first"; exit 1; fi
  log "pg_ctl not found; installing postgresql with apt"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(find_pgbin)
  [ -n "$PGBIN" ] || { log "postgresql installed but pg_ctl still not found"; exit 1; }
fi

if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  log "user postgres does not exist (initdb refuses to run as root)"; exit 1
fi

if (exec 3<>"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null; then
  log "something already listens on 127.0.0.1:$PGPORT (set PGPORT to another port)"; exit 1
fi

PGDATA=$(mktemp -d /tmp/gouji-pgdata.XXXXXX)
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PGDATA"; fi

as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust --no-sync -E UTF8 --no-locale >/dev/null
# -k $PGDATA: Unix socket in the temp dir, never clashing with /var/run/postgresql. fsync off: tests only.
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 \
  -o "-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null
"$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres "$PGDATABASE"

DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/$PGDATABASE"
cat > "$STATE" <<STATE_EOF
PGBIN=$PGBIN
PGDATA=$PGDATA
PGPORT=$PGPORT
DATABASE_URL=$DATABASE_URL
STATE_EOF
log "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') up on 127.0.0.1:$PGPORT (PGDATA=$PGDATA)"
print_exports
