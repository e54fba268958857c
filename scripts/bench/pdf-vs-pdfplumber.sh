#!/usr/bin/env bash
# PDF and Excel reading measured in one run against Python pdfplumber on the same corpus PDFs.
# Installs pdfplumber (pinned to the version that made the corpus texts) into the repo venv
# (scripts/ci/python-env.sh), builds the Rust reader in release, and runs both on one core:
#   scripts/bench/pdf-vs-pdfplumber.sh [ROUNDS]      (corpus: $GOUJI_CORPUS or ../shared/corpus)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CORPUS=${GOUJI_CORPUS:-$ROOT/../shared/corpus}
ROUNDS=${1:-3}
VENV=$("$ROOT/scripts/ci/python-env.sh")
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "pdfplumber==0.11.10" >&2

(cd "$ROOT" && cargo build -q --release -p gouji-readers --example bench)

echo "== Rust (gouji-readers), one core"
taskset -c 0 "$ROOT/target/release/examples/bench" "$CORPUS" "$ROUNDS"
echo "== Python pdfplumber $("$VENV/bin/python" -c 'import pdfplumber; print(pdfplumber.__version__)'), one core"
taskset -c 0 "$VENV/bin/python" "$ROOT/scripts/bench/pdfplumber_extract.py" "$CORPUS" "$ROUNDS"
