#!/usr/bin/env bash
# Generation rate (flow records per second of wall time) and peak memory of `mamori simulate`
# at 5,000 and 1,000,000 subscribers, release build. The simulator generates and encodes the
# export datagrams (IPFIX, unsampled) and writes only the labels: no network, no pcap, so the
# figure is the simulator's own speed. Peak memory is the maximum resident set size reported by
# GNU time (Debian package `time`).
#
#   Benchmarks/simulator/run.sh                            # 5,000 and 1,000,000 subscribers, 2 simulated minutes
#   SUBSCRIBERS="5000" DURATION=10m Benchmarks/simulator/run.sh
#   MAMORI=.build/release/mamori Benchmarks/simulator/run.sh   # skip the build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
SUBSCRIBERS=${SUBSCRIBERS:-"5000 1000000"}
DURATION=${DURATION:-2m}
SEED=${SEED:-1}

[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; }
if [ -z "${MAMORI:-}" ]; then
  echo "==> building mamori (release)" >&2
  (cd "$root" && swift build -c release --product mamori >/dev/null)
  MAMORI="$root/.build/release/mamori"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "date $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -m), seed $SEED, $DURATION simulated"
echo "| subscribers | simulated | flow records | datagrams | generation time | records/s | whole process | peak RSS |"
echo "|---|---|---|---|---|---|---|---|"
for n in $SUBSCRIBERS; do
  /usr/bin/time -v -o "$work/time.txt" "$MAMORI" simulate --seed "$SEED" --subscribers "$n" --duration "$DURATION" \
    --labels "$work/labels.json" >"$work/summary.txt" 2>/dev/null
  summary=$(grep '^simulated ' "$work/summary.txt")
  field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$summary"; }
  flows=$(field flows_exported)
  datagrams=$(field datagrams)
  seconds=$(field seconds)
  elapsed=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): \(.*\)/\1/p' "$work/time.txt")
  rss_kib=$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\).*/\1/p' "$work/time.txt")
  awk -v n="$n" -v d="$DURATION" -v f="$flows" -v g="$datagrams" -v s="$seconds" -v r="$rss_kib" -v e="$elapsed" 'BEGIN {
    printf "| %d | %s | %d | %d | %.2f s | %.2f M | %s | %d MiB |\n", n, d, f, g, s, f / s / 1e6, e, r / 1024 }'
done
