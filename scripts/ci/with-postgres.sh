#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL: uses $GOUJI_TEST_POSTGRES_URL when already set,
# else starts one (scripts/ci/start-postgres.sh), exports GOUJI_TEST_POSTGRES_URL, runs the
# command and stops the server it started.   Usage: scripts/ci/with-postgres.sh cargo test
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ -n "${GOUJI_TEST_POSTGRES_URL:-}" ] || [ "${GOUJI_SKIP_POSTGRES:-}" = "1" ]; then
  exec "$@"
fi

started=0
if ! exports=$("$HERE/start-postgres.sh"); then
  echo "with-postgres: could not start PostgreSQL (set GOUJI_SKIP_POSTGRES=1 to run without it)" >&2
  exit 1
fi
case "$exports" in *"DATABASE_URL"*) started=1 ;; esac
eval "$exports"
export GOUJI_TEST_POSTGRES_URL=$DATABASE_URL
# Query macros are not used, but keep sqlx from ever trying a live database at compile time.
unset DATABASE_URL
status=0
"$@" || status=$?
if [ "$started" = 1 ] && [ "${GOUJI_KEEP_POSTGRES:-}" != "1" ]; then
  "$HERE/stop-postgres.sh" || true
fi
exit $status
