#!/usr/bin/env bash
# Flow records through the cluster's bus (issue 25): collector -> NATS JetStream -> 1 and 2
# detector nodes on this machine; records/s end to end, bytes per record on the bus, CPU per record
# of each part. Rows go to Benchmarks/cluster/results/.
#
#   Benchmarks/cluster/bus-rates.sh
#   MAMORI=/tmp/mamori RATE=500000 FLOWS=4000000 Benchmarks/cluster/bus-rates.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python3 -c 'import numpy' 2>/dev/null || pip install -q numpy
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || { echo "nats-server is missing (apt-get install nats-server)" >&2; exit 1; }
if [ -z "${MAMORI:-}" ]; then
  echo "==> building mamori (release)"
  (cd "$root" && swift build -c release --product mamori >/dev/null)
  MAMORI="$root/.build/release/mamori"
fi
old_rmem=$(sysctl -n net.core.rmem_max)
sysctl -qw net.core.rmem_max=67108864
trap 'sysctl -qw net.core.rmem_max=$old_rmem' EXIT
# shellcheck disable=SC2086
exec python3 "$here/bus_rates.py" --mamori "$MAMORI" --detectors ${DETECTORS:-1 2} \
  --flows "${FLOWS:-2000000}" --rate "${RATE:-250000}" --subscribers "${SUBSCRIBERS:-100000}" \
  --out "${OUT:-$here/results/bus-rates-$(date -u +%Y%m%dT%H%M%SZ).jsonl}"
