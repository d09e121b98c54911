#!/usr/bin/env bash
# Detection quality on simulated ISPs: for each (seed, subscribers, sampling) the simulator writes
# a pcap and its labels, `mamori analyze --labels` scores the findings against them, and the
# table and JSON land in $OUT. Figures go to EVALUATION.md.
#
#   Benchmarks/detection/evaluate.sh                  # the matrix below, release build
#   OUT=/tmp/eval SEEDS="1 2" SIZES="5000" Benchmarks/detection/evaluate.sh
#   SIMULATE_ARGS=--classic Benchmarks/detection/evaluate.sh   # the world before issue 17's behaviours
set -euo pipefail
cd "$(dirname "$0")/../.."
MAMORI=${MAMORI:-.build/release/mamori}
OUT=${OUT:-/tmp/mamori-evaluation}
SEEDS=${SEEDS:-"1 2"}
SIZES=${SIZES:-"5000 20000"}
SAMPLINGS=${SAMPLINGS:-"1 1000"}
DURATION=${DURATION:-2h}
INTERVAL=${INTERVAL:-10}
SIMULATE_ARGS=${SIMULATE_ARGS:-}
[ -x "$MAMORI" ] || swift build -c release --product mamori
mkdir -p "$OUT"
for size in $SIZES; do for seed in $SEEDS; do for sampling in $SAMPLINGS; do
    name="s${seed}-n${size}-1in${sampling}-${DURATION}-w${INTERVAL}"
    echo "==> $name" >&2
    "$MAMORI" simulate --seed "$seed" --subscribers "$size" --sampling "$sampling" --duration "$DURATION" \
        --export-interval "$INTERVAL" $SIMULATE_ARGS --pcap "$OUT/$name.pcap" --labels "$OUT/$name.labels.json" > "$OUT/$name.simulate.txt" 2>/dev/null
    /usr/bin/time -v "$MAMORI" analyze "$OUT/$name.pcap" --labels "$OUT/$name.labels.json" \
        --evaluation-json "$OUT/$name.evaluation.json" --json > "$OUT/$name.findings.jsonl" 2> "$OUT/$name.analyze.txt"
    tr "\r" "\n" < "$OUT/$name.analyze.txt" | grep -E "^(kind|c2-|infected|scanning|outbound|inbound|benign|analysed)|Maximum resident" | sed 's/^/    /' >&2
    rm -f "$OUT/$name.pcap"
done; done; done
