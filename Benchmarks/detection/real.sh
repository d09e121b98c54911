#!/usr/bin/env bash
# Detection quality on real traffic nobody here wrote: every capture of the corpus
# (Benchmarks/detection/corpus, sources and licences in its README.md, ground truth in
# corpus.json) goes through `mamori analyze` and is scored against its truth — expected C&C
# endpoints, infected hosts, scanners and attacks found or missed, and every false finding.
# Raw packet captures become NetFlow v9 the way a carrier's would: softflowd exports them to
# nfcapd, and Mamori reads nfcapd's files. The table lands in $OUT/real.md (EVALUATION.md quotes it).
#
#   Benchmarks/detection/real.sh                       # release build, table on standard output
#   MAMORI=.build/debug/mamori OUT=/tmp/real Benchmarks/detection/real.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
CORPUS=Benchmarks/detection/corpus
MAMORI=${MAMORI:-.build/release/mamori}
OUT=${OUT:-/tmp/mamori-real}
PORT=${PORT:-29995}
[ -x "$MAMORI" ] || swift build -c release --product mamori
for p in softflowd nfcapd python3; do
    command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || { echo "error: $p is missing (apt-get install softflowd nfdump python3)" >&2; exit 1; }
done
mkdir -p "$OUT"
rm -f "$OUT"/*.score.json

# name, file and format of every capture, one per line.
python3 - "$CORPUS/corpus.json" > "$OUT/captures.txt" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["captures"]:
    print(c["name"], c["file"], c["format"])
PY

while read -r name file format; do
    echo "==> $name ($file, $format)" >&2
    args=(--truth "$CORPUS/corpus.json" --truth-capture "$name" --evaluation-json "$OUT/$name.score.json" --json)
    if [ "$format" = packets ]; then
        # softflowd reads the capture (-r) and exports NetFlow v9 to nfcapd on loopback; nfcapd
        # writes its file when it stops. softflowd 1.1.0 needs -c none with -r (else it waits on
        # its control socket).
        dir="$OUT/$name.nfcapd"
        rm -rf "$dir"; mkdir -p "$dir"
        nfcapd -w "$dir" -b 127.0.0.1 -p "$PORT" -t 86400 -D -P "$OUT/nfcapd.pid" >/dev/null 2>&1
        for _ in $(seq 50); do [ -s "$OUT/nfcapd.pid" ] && break; sleep 0.1; done
        timeout 300 softflowd -r "$CORPUS/$file" -v 9 -c none -n "127.0.0.1:$PORT" >/dev/null 2>&1
        sleep 1
        kill "$(cat "$OUT/nfcapd.pid")"
        for _ in $(seq 100); do [ -e "$OUT/nfcapd.pid" ] || break; sleep 0.1; done
        "$MAMORI" analyze "$dir"/nfcapd.* --format nfcapd "${args[@]}" > "$OUT/$name.findings.jsonl" 2> "$OUT/$name.analyze.txt" || true
    else
        "$MAMORI" analyze "$CORPUS/$file" --format "$format" "${args[@]}" > "$OUT/$name.findings.jsonl" 2> "$OUT/$name.analyze.txt" || true
    fi
    [ -s "$OUT/$name.score.json" ] || { echo "    analyze failed:" >&2; sed 's/^/    /' "$OUT/$name.analyze.txt" | head -5 >&2; }
    tr '\r' '\n' < "$OUT/$name.analyze.txt" | grep -E "^(read|analysed|  (found|MISSED|FALSE|not visible))" | sed 's/^/    /' >&2 || true
done < "$OUT/captures.txt"

python3 - "$OUT" "$CORPUS/corpus.json" > "$OUT/real.md" <<'PY'
import json, sys
out, manifest = sys.argv[1], json.load(open(sys.argv[2]))
def cell(xs):
    return "0" if not xs else f"{len(xs)}: " + ", ".join(xs)
print("| capture | role | expected found | missed | false C&C | false infected | other false findings |")
print("|---|---|---|---|---|---|---|")
total = dict(expected=0, found=0, false=0)
failed = 0
for c in manifest["captures"]:
    try:
        s = json.load(open(f"{out}/{c['name']}.score.json"))
    except OSError:
        failed += 1
        print(f"| {c['name']} | {c['role']} | not analysed: see {c['name']}.analyze.txt | | | | |")
        continue
    n = len(s["found"]) + len(s["missed"])
    total["expected"] += n; total["found"] += len(s["found"])
    total["false"] += len(s["falseCommandAndControl"]) + len(s["falseInfected"]) + len(s["falseOther"])
    print(f"| {c['name']} | {c['role']} | {len(s['found'])}/{n} | {cell(s['missed'])} | {cell(s['falseCommandAndControl'])} | {cell(s['falseInfected'])} | {cell(s['falseOther'])} |")
if failed:
    print(f"| **{failed} capture(s) not analysed** | | | | | | |")
print(f"| **all {len(manifest['captures'])} captures** | | **{total['found']}/{total['expected']}** | {total['expected'] - total['found']} | | | **{total['false']} false findings** |")
PY
cat "$OUT/real.md"
! grep -q "not analysed" "$OUT/real.md"
