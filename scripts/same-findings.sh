#!/usr/bin/env bash
# Do two builds of mamori find the same things? For a change that must not change behaviour (a
# reshape of the code, a faster detector), runs `mamori analyze --json` of the OLD and the NEW
# binary over the same inputs and diffs the findings byte for byte:
#   - every capture of the real-traffic corpus (Benchmarks/detection/corpus; raw packet captures
#     exported once by softflowd to nfcapd, as real.sh does, and read from those files by both);
#   - simulated worlds made once by OLD: the full world and --classic, 1:1 and 1:1000 (NEW must
#     write the same worlds byte for byte too).
# Subscriber-host pseudonyms (keyed at random per run) are blanked before the diff. Prints the
# diff command and its output; exits non-zero when anything differs, or when OLD could not
# analyse an input (the comparison would be empty).
#
#   scripts/same-findings.sh /tmp/mamori-old .build/release/mamori
#   NEW_ARGS="--workers 2" scripts/same-findings.sh .build/release/mamori .build/release/mamori
#       (one binary, one analyzer against two shards: NEW_ARGS go to NEW's `analyze` only)
#   OUT=/tmp/same SUBSCRIBERS=2000 DURATION=1h scripts/same-findings.sh OLD NEW
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$(realpath "${1:?usage: same-findings.sh OLD-BINARY NEW-BINARY}")
NEW=$(realpath "${2:?usage: same-findings.sh OLD-BINARY NEW-BINARY}")
OUT=${OUT:-/tmp/mamori-same-findings}
SUBSCRIBERS=${SUBSCRIBERS:-2000}
DURATION=${DURATION:-1h}
CORPUS=Benchmarks/detection/corpus
# Swift seeds Dictionary hashing per process; a finding's sample flow is taken in table order,
# so two runs of one binary can show different samples. Fixed here for the comparison.
export SWIFT_DETERMINISTIC_HASHING=1
rm -rf "$OUT"; mkdir -p "$OUT/inputs" "$OUT/old" "$OUT/new"

# The real corpus through OLD (real.sh also leaves the nfcapd files of the packet captures).
MAMORI="$OLD" OUT="$OUT/inputs/real" Benchmarks/detection/real.sh > /dev/null 2>&1 || true
python3 - "$CORPUS/corpus.json" > "$OUT/inputs/captures.txt" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["captures"]:
    print(c["name"], c["file"], c["format"])
PY

# Simulated worlds, written once.
for world in full classic; do for sampling in 1 1000; do
    name="sim-$world-1in$sampling"
    args=(); [ "$world" = classic ] && args=(--classic)
    "$OLD" simulate --seed 1 --subscribers "$SUBSCRIBERS" --sampling "$sampling" --duration "$DURATION" "${args[@]}" \
        --pcap "$OUT/inputs/$name.pcap" --labels "$OUT/inputs/$name.labels.json" > /dev/null 2>&1
done; done

# The simulator itself must not change either: NEW writes the same worlds byte for byte.
for pcap in "$OUT"/inputs/sim-*.pcap; do
    name=$(basename "$pcap" .pcap)
    world=${name#sim-}; world=${world%-1in*}; sampling=${name##*-1in}
    args=(); [ "$world" = classic ] && args=(--classic)
    "$NEW" simulate --seed 1 --subscribers "$SUBSCRIBERS" --sampling "$sampling" --duration "$DURATION" "${args[@]}" \
        --pcap "$OUT/inputs/$name.new.pcap" --labels "$OUT/inputs/$name.new.labels.json" > /dev/null 2>&1
    if cmp -s "$pcap" "$OUT/inputs/$name.new.pcap" && cmp -s "$OUT/inputs/$name.labels.json" "$OUT/inputs/$name.new.labels.json"; then
        echo "simulate $name: pcap and labels identical" >&2
    else
        echo "simulate $name: NEW writes a different world" | tee -a "$OUT/new/simulator-differs.txt" >&2
    fi
    rm -f "$OUT/inputs/$name.new.pcap" "$OUT/inputs/$name.new.labels.json"
done

for side in old new; do
    bin=$OLD; [ "$side" = new ] && bin=$NEW
    extra=(); [ "$side" = new ] && [ -n "${NEW_ARGS:-}" ] && read -r -a extra <<< "$NEW_ARGS"
    echo "==> $side: $bin ${extra[*]}" >&2
    while read -r name file format; do
        args=(--truth "$CORPUS/corpus.json" --truth-capture "$name" --json "${extra[@]}")
        if [ "$format" = packets ]; then
            "$bin" analyze "$OUT/inputs/real/$name.nfcapd"/nfcapd.* --format nfcapd "${args[@]}" > "$OUT/$side/$name.jsonl" 2> /dev/null || echo "analyze failed" >> "$OUT/$side/$name.jsonl"
        else
            "$bin" analyze "$CORPUS/$file" --format "$format" "${args[@]}" > "$OUT/$side/$name.jsonl" 2> /dev/null || echo "analyze failed" >> "$OUT/$side/$name.jsonl"
        fi
    done < "$OUT/inputs/captures.txt"
    for pcap in "$OUT"/inputs/sim-*.pcap; do
        name=$(basename "$pcap" .pcap)
        "$bin" analyze "$pcap" --labels "$OUT/inputs/$name.labels.json" --json "${extra[@]}" > "$OUT/$side/$name.jsonl" 2> /dev/null || echo "analyze failed" >> "$OUT/$side/$name.jsonl"
    done
    # `mamori analyze` keys the pseudonyms of subscriber hosts (h:…) with a random key per run:
    # they are the only part that differs between two runs of one binary.
    sed -i -E 's/"h:[0-9a-f]{16}"/"h:(pseudonym)"/g' "$OUT/$side"/*.jsonl
    # Before issue 19 the findings' keys were camelCase (detectedAt), since then snake_case
    # (detected_at): both sides are rewritten with snake_case keys, in one spelling, so that a
    # binary from before compares with one from after on what they found, not how they named it.
    python3 - "$OUT/$side"/*.jsonl <<'PY'
import json, re, sys
def snake(v):
    if isinstance(v, dict): return {re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k): snake(x) for k, x in v.items()}
    if isinstance(v, list): return [snake(x) for x in v]
    return v
for path in sys.argv[1:]:
    out = []
    for line in open(path, encoding="utf-8").read().splitlines():
        try: out.append(json.dumps(snake(json.loads(line)), sort_keys=True, separators=(",", ":"), ensure_ascii=False))
        except ValueError: out.append(line)
    open(path, "w", encoding="utf-8").write("".join(l + "\n" for l in out))
PY
done

if grep -l "analyze failed" "$OUT"/old/*.jsonl >&2; then echo "error: OLD could not analyse the inputs above" >&2; exit 1; fi
echo "findings per input (old):" >&2
wc -l "$OUT"/old/*.jsonl | sed 's/^/    /' >&2
echo "\$ diff -r $OUT/old $OUT/new" >&2
diff -r "$OUT/old" "$OUT/new" && echo "(no difference)" >&2
