#!/usr/bin/env bash
# From the first flood packet at Mamori's collector to the mitigation in a router's RIB (issue 21):
# mamori serve with a `bgp:` section peered with BIRD 2 on loopback; latency.py sends one second of
# NetFlow v9 records of an inbound flood per round (a reflection flood → FlowSpec, a plain flood →
# RTBH) and reads BIRD's RIB every 20 ms until the rule is there; then times the kill switch.
# simulated.py then runs `mamori simulate` in real time with 1-s exports through a timestamping
# relay and times its inbound flood from the first exported record to the rule in the RIB.
#
#   Benchmarks/bgp/run.sh                  # 10 rounds and 3 simulations (2 min each), release build
#   ROUNDS=20 BUILD=debug Benchmarks/bgp/run.sh
#
# Rows go to Benchmarks/bgp/results/*.jsonl; the table is printed. Needs bird2 (scripts/test
# installs it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-10}
BUILD=${BUILD:-release}
mkdir -p "$here/results"
out=${OUT:-$here/results/latency-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
export PATH="$PATH:/usr/sbin"
command -v bird >/dev/null || { echo "error: bird is missing (apt-get install bird2)" >&2; exit 1; }

echo "==> building mamori ($BUILD)"
(cd "$root" && swift build -c "$BUILD" --product mamori >/dev/null)
mamori="$root/.build/$BUILD/mamori"

dir=$(mktemp -d /tmp/mamori-bgp-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
http=$(free_port SOCK_STREAM); collector=$(free_port SOCK_DGRAM); bgp=$(free_port SOCK_STREAM)

# BIRD as the carrier's router: accepts Mamori (127.0.0.2, AS 65002) and keeps what it sends.
cat > "$dir/bird.conf" <<CONF
router id 127.0.0.1;
log "$dir/bird.log" all;
ipv4 table igptab4;
ipv6 table igptab6;
flow4 table flowtab4;
flow6 table flowtab6;
protocol device {}
protocol static { ipv4 { table igptab4; }; route 0.0.0.0/0 blackhole; }
protocol static { ipv6 { table igptab6; }; route ::/0 blackhole; }
protocol bgp mamori {
  local 127.0.0.1 port $bgp as 65001;
  neighbor 127.0.0.2 as 65002;
  multihop; passive; strict bind;
  ipv4 { import all; export none; igp table igptab4; };
  ipv6 { import all; export none; igp table igptab6; };
  flow4 { table flowtab4; import all; export none; validate off; };
  flow6 { table flowtab6; import all; export none; validate off; };
}
CONF
bird -f -c "$dir/bird.conf" -s "$dir/bird.ctl" & pids+=($!)

cat > "$dir/mamori.yaml" <<CONF
data_directory: $dir/data
log_level: warning
http:
  listen: 127.0.0.1:$http
collector:
  listen: [127.0.0.1:$collector]
detection:
  # The simulator's address plan (its subscribers and its Internet), and latency.py's victims
  # (203.0.113.0/24) and amplifiers (192.0.2.0/24).
  subscriber_prefixes: [198.18.0.0/15, 100.64.0.0/10, 2001:db8::/32, 203.0.113.0/24]
  laboratory_internet_prefixes: [240.0.0.0/4, 192.0.2.0/24, 198.51.100.0/24, "3fff::/20"]
bgp:
  local_as: 65002
  router_id: 127.0.0.2
  neighbors:
    - name: bird
      address: 127.0.0.1
      port: $bgp
      peer_as: 65001
      local_address: 127.0.0.2
  maximum_new_per_minute: 1000
  triggers:
    inbound_flood: { mode: automatic, ttl_minutes: 10 }
    inbound_reflection: { mode: automatic, ttl_minutes: 10 }
CONF

pw="$dir/admin.pw"; head -c 24 /dev/urandom | base64 > "$pw"; chmod 600 "$pw"
"$mamori" user add bench --role admin --data-dir "$dir/data" --password-file "$pw" >/dev/null
MAMORI_TOKEN=$("$mamori" token create bench --scope read_findings,control_mitigation --expires 1d --created-by bench --data-dir "$dir/data")
export MAMORI_TOKEN

"$mamori" serve --config "$dir/mamori.yaml" 2> "$dir/mamori.log" & pids+=($!)
for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 300); do birdc -s "$dir/bird.ctl" show protocols mamori 2>/dev/null | grep -q Established && break; sleep 0.1; done
birdc -s "$dir/bird.ctl" show protocols mamori | tail -1

echo "==> $ROUNDS rounds; rows to $out"
python3 "$here/latency.py" --collector "$collector" --http "$http" --bird-socket "$dir/bird.ctl" --rounds "$ROUNDS" --out "$out" || {
  echo "--- mamori.log"; tail -30 "$dir/mamori.log"; echo "--- bird.log"; tail -30 "$dir/bird.log"; exit 1; }

# The simulator's own inbound flood, in real time with 1-s exports (SIMULATIONS runs, 2 min each).
for seed in $(seq 21 $((20 + ${SIMULATIONS:-3}))); do
  python3 "$here/simulated.py" --mamori "$mamori" --collector "$collector" --bird-socket "$dir/bird.ctl" --seed "$seed" \
    --labels "$dir/labels-$seed.json" --out "${out%.jsonl}-simulated.jsonl" || { echo "--- mamori.log"; tail -30 "$dir/mamori.log"; exit 1; }
done
