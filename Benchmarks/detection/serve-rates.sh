#!/usr/bin/env bash
# mamori serve with detection on, fed by the generator at rising rates with a million subscriber
# hosts (issue 26): the highest rate at which nothing is shed, beside the collector's zero-loss
# rate in the same run. One fresh serve per rate; rows go to Benchmarks/detection/results/.
#
#   Benchmarks/detection/serve-rates.sh
#   MAMORI=/tmp/mamori-old WORKERS=2 RATES="250000 500000" Benchmarks/detection/serve-rates.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python3 -c 'import numpy' 2>/dev/null || pip install -q numpy
if [ -z "${MAMORI:-}" ]; then
  echo "==> building mamori (release)"
  (cd "$root" && swift build -c release --product mamori >/dev/null)
  MAMORI="$root/.build/release/mamori"
fi
old_rmem=$(sysctl -n net.core.rmem_max)
sysctl -qw net.core.rmem_max=67108864
trap 'sysctl -qw net.core.rmem_max=$old_rmem' EXIT
# shellcheck disable=SC2086
exec python3 "$here/serve_rates.py" --mamori "$MAMORI" --workers "${WORKERS:-1}" \
  --flows "${FLOWS:-6000000}" --subscribers "${SUBSCRIBERS:-1000000}" \
  --rates ${RATES:-125000 250000 500000 1000000 2000000} \
  --out "${OUT:-$here/results/serve-rates-$(date -u +%Y%m%dT%H%M%SZ).jsonl}"
