#!/usr/bin/env bash
# Mamori beside nfcapd on the same generated NetFlow v9 / IPFIX traffic, in one session, through
# the shared harness (bench.py). Prints the summary table; rows go to results/*.jsonl.
#
#   Benchmarks/collector/run.sh                       # 10 M flows, flat out and paced, 3 runs each
#   FLOWS=2000000 RATES="0" RUNS=1 Benchmarks/collector/run.sh
#   PROTO=ipfix Benchmarks/collector/run.sh
#   DETECTION=1 Benchmarks/collector/run.sh         # Mamori with its detectors on (rows named mamori+detection)
#
# By default Mamori runs with --no-detection: nfcapd only stores, so like is compared with like —
# decode, count, hand over. With the detectors on, `mamori serve` also spends CPU analysing (and,
# when they fall behind, shedding) what it collected, long after the last datagram; that cost is
# measured by `mamori bench detection`, not here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
FLOWS=${FLOWS:-10000000}
RATES=${RATES:-"0 1500000 2000000 3000000"}
RUNS=${RUNS:-3}
PROTO=${PROTO:-v9}
DETECTION=${DETECTION:-0}
mkdir -p "$here/results"
out=${OUT:-$here/results/bench-$(date -u +%Y%m%dT%H%M%SZ).jsonl}

need=()
command -v nfcapd >/dev/null || need+=(nfdump)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; fi
python3 -c 'import numpy' 2>/dev/null || pip install -q numpy

echo "==> building mamori (release)"
(cd "$root" && swift build -c release --product mamori >/dev/null)
mamori="$root/.build/release/mamori"

old_rmem=$(sysctl -n net.core.rmem_max)
sysctl -qw net.core.rmem_max=67108864
trap 'sysctl -qw net.core.rmem_max=$old_rmem' EXIT

if [ "$DETECTION" = 1 ]; then name=mamori+detection; detection=""; else name=mamori; detection="--no-detection"; fi

cd "$here"
# shellcheck disable=SC2086
python3 bench.py --out "$out" collect --collector cmd --name "$name" \
  --cmd "$mamori serve $detection --listen 127.0.0.1:{port} --rcvbuf {rcvbuf} --data-dir {dir}/state --stats-file {dir}/stats.json --http 127.0.0.1:0 --log-level warning" \
  --count "grep -A4 '\"total\"' {dir}/stats.json | grep records" \
  --stop-signal TERM --proto "$PROTO" --flows "$FLOWS" --runs "$RUNS" --rate $RATES
# shellcheck disable=SC2086
python3 bench.py --out "$out" collect --collector nfcapd --proto "$PROTO" --flows "$FLOWS" --runs "$RUNS" --rate $RATES
python3 summarize.py "$out"
echo "rows: $out"
