#!/usr/bin/env bash
# Mamori beside nfcapd on the same generated NetFlow v9 / IPFIX traffic, in one session, through
# the shared harness (bench.py). Prints the summary table; rows go to results/*.jsonl.
#
#   Benchmarks/collector/run.sh                       # 10 M flows, flat out and paced, 3 runs each
#   FLOWS=2000000 RATES="0" RUNS=1 Benchmarks/collector/run.sh
#   PROTO=ipfix Benchmarks/collector/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
FLOWS=${FLOWS:-10000000}
RATES=${RATES:-"0 1500000 2000000 3000000"}
RUNS=${RUNS:-3}
PROTO=${PROTO:-v9}
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

cd "$here"
# shellcheck disable=SC2086
python3 bench.py --out "$out" collect --collector cmd --name mamori \
  --cmd "$mamori serve --listen 127.0.0.1:{port} --rcvbuf {rcvbuf} --data-dir {dir}/state --stats-file {dir}/stats.json --http 127.0.0.1:0 --log-level warning" \
  --count "grep -A4 '\"total\"' {dir}/stats.json | grep records" \
  --stop-signal TERM --proto "$PROTO" --flows "$FLOWS" --runs "$RUNS" --rate $RATES
# shellcheck disable=SC2086
python3 bench.py --out "$out" collect --collector nfcapd --proto "$PROTO" --flows "$FLOWS" --runs "$RUNS" --rate $RATES
python3 summarize.py "$out"
echo "rows: $out"
