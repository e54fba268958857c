#!/usr/bin/env bash
# Creates the repository's Python venv (default <repo>/.venv, override with GOUJI_VENV) if missing and installs
# tests/python/requirements.txt into it quietly (skipped when the requirements are unchanged). Prints the venv path:
#   VENV=$(scripts/ci/python-env.sh) && "$VENV/bin/python" -m pytest tests/python
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${GOUJI_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
REQUIREMENTS=$ROOT/tests/python/requirements.txt

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
    echo "python-env: $PYTHON is older than 3.10 (helm-python-sdk and grpcio 1.85 need >= 3.10)" >&2
    exit 1
  }
  "$PYTHON" -m venv "$VENV" >&2
fi

STAMP=$VENV/.gouji-requirements.sha256
WANT=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" >&2
  echo "$WANT" > "$STAMP"
fi
echo "$VENV"
