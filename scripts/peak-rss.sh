#!/usr/bin/env bash
# Peak RSS (VmHWM) of the release gouji-ingestion and gouji-validation on one SubmitReport of each maximal
# (16 MiB) document: a seed repeated, and a seed followed by a repeated table title, narrative figure, line of
# digits or line of tabs. The chart's memory limits are computed from these numbers
# (deploy/helm/gouji/README.md, "Memory limits"). Re-run after any change to the parser, the rules or the caps:
#   cargo build --release --workspace && scripts/peak-rss.sh
# Columns: wall seconds of the SubmitReport, VmHWM of each process, the CLI exit status (1 = the report has
# error findings, expected for these documents; 2 = the call failed).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${GOUJI_BIN_DIR:-$ROOT/target/release}
SEED=${GOUJI_SEED:-$(ls "$ROOT"/../shared/seeds/003_*.txt 2>/dev/null || ls /work/shared/seeds/003_*.txt)}
WORK=$(mktemp -d /tmp/gouji-peak-rss.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
# Development mode: loopback, no credentials (the services refuse to start without security otherwise).
export GOUJI_DEV_INSECURE=1
python3 - "$SEED" <<'PY'
import sys
N = 16 * 1024 * 1024
seed = open(sys.argv[1], "rb").read()
def write(name, unit, prefix=b""):
    out = (prefix + unit * ((N - len(prefix)) // len(unit) + 1))[:N]
    out = out[: out.rfind(b"\n") + 1]
    open(name, "wb").write(out + b" " * (N - len(out)))
write("seed-repeated.txt", seed + b"\n")
title = next(l for l in seed.split(b"\n") if "收入支出决算总表".encode() in l)
write("title-repeated.txt", title + b"\n", seed + b"\n")
write("figure-repeated.txt", "本年支出合计1234.56万元，比上年增加12.34万元，增长1.2%。\n".encode(), seed + b"\n")
write("digit-lines.txt", b"1234567890" * 8 + b"\n", seed + b"\n")
write("tab-lines.txt", b"\t" * 1000 + b"\n", seed + b"\n")
PY
hwm() { awk '/VmHWM/{print $2}' "/proc/$1/status"; }
addr() { for _ in $(seq 100); do a=$(awk '/listening on/{print $NF}' "$1"); [ -n "$a" ] && { echo "$a"; return; }; sleep 0.1; done; }
printf "%-20s %8s %14s %14s %8s\n" document seconds "validation KiB" "ingestion KiB" status
for doc in seed-repeated.txt title-repeated.txt figure-repeated.txt digit-lines.txt tab-lines.txt; do
  rm -f db.sqlite*
  "$B/gouji-validation" --listen 127.0.0.1:0 > v.out 2>/dev/null & VP=$!
  VA=$(addr v.out)
  "$B/gouji-ingestion" --listen 127.0.0.1:0 --database-url "sqlite:$WORK/db.sqlite" --validation-url "http://$VA" \
    --validation-timeout-secs 120 > i.out 2>/dev/null & IP=$!
  IA=$(addr i.out)
  "$B/gouji" units register --server "http://$IA" --code 610726 --name 测试单位 --type 行政 >/dev/null
  start=$(date +%s.%N)
  rc=0; timeout 300 "$B/gouji" submit --server "http://$IA" --unit 610726 --year 2024 --kind final-accounts "$doc" \
    >/dev/null 2>&1 || rc=$?
  end=$(date +%s.%N)
  sleep 0.3
  printf "%-20s %8.1f %14s %14s %8s\n" "$doc" "$(echo "$end - $start" | bc)" "$(hwm $VP)" "$(hwm $IP)" "rc=$rc"
  kill $VP $IP; wait $VP $IP 2>/dev/null || true
done
