#!/usr/bin/env bash
# From a sinkhole change in Mamori to the resolvers' first answer showing it (issue 20): mamori
# serve with a sinkhole, BIND 9 (TSIG, its own transfer-source) and Unbound (admitted by address)
# following its RPZ zones on loopback, then propagation.py adds and removes ROUNDS names through
# the API and times the first rewritten (and then the first true) answer at each resolver.
#
#   Benchmarks/sinkhole/run.sh                  # 20 rounds, release build
#   ROUNDS=50 BUILD=debug Benchmarks/sinkhole/run.sh
#
# Rows go to Benchmarks/sinkhole/results/*.jsonl; the table is printed. Needs bind9 and unbound
# (scripts/test installs both).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-20}
BUILD=${BUILD:-release}
mkdir -p "$here/results"
out=${OUT:-$here/results/propagation-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
for p in named unbound; do command -v $p >/dev/null || [ -x /usr/sbin/$p ] || { echo "error: $p is missing (apt-get install bind9 unbound)" >&2; exit 1; }; done
export PATH="$PATH:/usr/sbin"

echo "==> building mamori ($BUILD)"
(cd "$root" && swift build -c "$BUILD" --product mamori >/dev/null)
mamori="$root/.build/$BUILD/mamori"

dir=$(mktemp -d /tmp/mamori-sinkhole-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
http=$(free_port SOCK_STREAM); transfer=$(free_port SOCK_STREAM); collector=$(free_port SOCK_DGRAM)
bind_port=$(free_port SOCK_DGRAM); unbound_port=$(free_port SOCK_DGRAM)
secret=$(head -c 32 /dev/urandom | base64)
echo "$secret" > "$dir/xfr.key"; chmod 600 "$dir/xfr.key"

{
  echo '$TTL 300'
  echo '@ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 60'
  echo '@ IN NS ns.example.'
  echo 'ns IN A 192.0.2.1'
  echo 'sinkhole IN A 192.0.2.53'
  for i in $(seq 0 $((ROUNDS - 1))); do echo "c2-$i IN A 192.0.2.10"; done
} > "$dir/example.db"

cat > "$dir/named.conf" <<CONF
options {
    directory "$dir"; pid-file "$dir/named.pid"; session-keyfile "$dir/session.key"; managed-keys-directory "$dir";
    listen-on port $bind_port { 127.0.0.1; }; listen-on-v6 { none; };
    recursion yes; allow-query { 127.0.0.0/8; }; allow-recursion { 127.0.0.0/8; };
    dnssec-validation no; forwarders { 127.0.0.1 port 9; }; forward only; notify no;
    transfer-source 127.0.0.4;
    response-policy { zone "exempt.mamori." min-update-interval 0; zone "rpz.mamori." min-update-interval 0; };
};
key "mamori-xfr." { algorithm hmac-sha256; secret "$secret"; };
logging { channel file { file "$dir/named.log"; severity info; print-time yes; }; category default { file; }; };
controls { };
zone "example." { type primary; file "$dir/example.db"; };
zone "exempt.mamori." { type secondary; primaries { 127.0.0.1 port $transfer key "mamori-xfr."; }; file "$dir/exempt.db"; };
zone "rpz.mamori." { type secondary; primaries { 127.0.0.1 port $transfer key "mamori-xfr."; }; file "$dir/rpz.db"; };
CONF

cat > "$dir/unbound.conf" <<CONF
server:
    interface: 127.0.0.1@$unbound_port
    port: $unbound_port
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "$dir"
    pidfile: "$dir/unbound.pid"
    use-syslog: no
    logfile: "$dir/unbound.log"
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    module-config: "respip iterator"
    do-not-query-localhost: no
auth-zone:
    name: "example."
    zonefile: "$dir/example.db"
    for-downstream: no
    for-upstream: yes
    fallback-enabled: no
remote-control:
    control-enable: no
rpz:
    name: "exempt.mamori."
    primary: 127.0.0.1@$transfer
    allow-notify: 127.0.0.1
rpz:
    name: "rpz.mamori."
    primary: 127.0.0.1@$transfer
    allow-notify: 127.0.0.1
CONF

cat > "$dir/mamori.yaml" <<CONF
data_directory: $dir/data
log_level: warning
http:
  listen: 127.0.0.1:$http
collector:
  listen: [127.0.0.1:$collector]
sinkhole:
  listen: 127.0.0.1:$transfer
  zone: rpz.mamori.
  exemption_zone: exempt.mamori.
  sinkhole_name: sinkhole.example.
  ttl: 5
  secondaries:
    - address: 127.0.0.4/32
      notify: 127.0.0.1:$bind_port
      tsig_key_name: mamori-xfr.
      tsig_secret_file: $dir/xfr.key
    - address: 127.0.0.1
      notify: 127.0.0.1:$unbound_port
CONF

pw="$dir/admin.pw"; head -c 24 /dev/urandom | base64 > "$pw"; chmod 600 "$pw"
"$mamori" user add bench --role admin --data-dir "$dir/data" --password-file "$pw" >/dev/null
MAMORI_TOKEN=$("$mamori" token create bench --scope read_findings,change_sinkhole --expires 1d --created-by bench --data-dir "$dir/data")
export MAMORI_TOKEN

"$mamori" serve --config "$dir/mamori.yaml" 2> "$dir/mamori.log" & pids+=($!)
for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
named -f -4 -n 1 -c "$dir/named.conf" & pids+=($!)
unbound -d -c "$dir/unbound.conf" & pids+=($!)
for _ in $(seq 300); do grep -q "zone rpz.mamori/IN: transferred serial" "$dir/named.log" 2>/dev/null && break; sleep 0.1; done

echo "==> $ROUNDS rounds; rows to $out"
python3 "$here/propagation.py" --http "$http" --resolver "bind=$bind_port" --resolver "unbound=$unbound_port" --rounds "$ROUNDS" --out "$out"
