#!/usr/bin/env bash
# Runs the Python client and Helm chart tests (tests/python) in the repository venv; extra args go to pytest.
# The client tests need the service binaries (cargo build first, or GOUJI_BIN_DIR); without them they skip.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=$("$ROOT/scripts/ci/python-env.sh")
cd "$ROOT"
# A session that hangs (a client library deadlock at exit) fails after 15 minutes instead of holding CI;
# the whole suite takes about 10 s.
exec timeout --kill-after=30 "${GOUJI_PYTHON_TESTS_TIMEOUT:-900}" "$VENV/bin/python" -m pytest tests/python "$@"
