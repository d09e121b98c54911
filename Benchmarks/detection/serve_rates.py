#!/usr/bin/env python3
"""mamori serve with detection on, fed by the generator at rising rates.

For each rate: a fresh `mamori serve` (detection on, subscribers 10.0.0.0/8 as the generator's),
gen_netflow.py sends FLOWS records over SUBSCRIBERS hosts at that rate, then the script waits
until serve has taken everything in and analysed or shed it, and reads /healthz:

  sent        records the generator sent (its own ground truth)
  collected   records the collector decoded (flow_records); sent - collected is the collector's loss
  analysed    records the detectors analysed
  shed        records shed by the load shedder (the detectors were behind)

One JSON line per run goes to --out; a table is printed at the end with the highest rate at which
the collector lost nothing and the highest at which detection shed nothing.

  Benchmarks/detection/serve-rates.sh                      # builds release, default rates
  python3 serve_rates.py --mamori .build/release/mamori --rates 250000 500000 1000000
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "collector", "gen_netflow.py")


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def health(http):
    with urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=5) as r:
        return json.loads(r.read())


def wait_up(http, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mamori serve exited with {proc.returncode} before it came up")
        try:
            return health(http)
        except OSError:
            time.sleep(0.2)
    raise SystemExit("mamori serve did not answer /healthz within 60 s")


def settled(http, seconds):
    """Polls /healthz until the collected, analysed and shed counts stay put for 3 s (at most `seconds`)."""
    deadline = time.time() + seconds
    last, since = None, time.time()
    while time.time() < deadline:
        h = health(http)
        d = h.get("detection", {})
        now = (h["flow_records"], d.get("analysed_records"), d.get("shed_records"))
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= 3 and now[1] is not None and now[1] + now[2] >= now[0]:
            return h
        time.sleep(0.5)
    return health(http)


def cpu_seconds(pid):
    """User and system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args, rate, out):
    work = tempfile.mkdtemp(prefix="mamori-serve-rates-")
    udp, http = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    config = os.path.join(work, "mamori.yaml")
    with open(config, "w") as f:
        f.write(
            f"data_directory: {work}/data\n"
            f"log_level: warning\n"
            f"http:\n  listen: 127.0.0.1:{http}\n"
            f"collector:\n  listen: [127.0.0.1:{udp}]\n"
            f"detection:\n  subscriber_prefixes: [10.0.0.0/8]\n  workers: {args.workers}\n"
        )
    proc = subprocess.Popen(
        [args.mamori, "serve", "--config", config, "--rcvbuf", str(args.rcvbuf)],
        stdout=open(os.path.join(work, "serve.log"), "w"), stderr=subprocess.STDOUT)
    try:
        wait_up(http, proc)
        cpu0 = cpu_seconds(proc.pid)
        gen = subprocess.run(
            [sys.executable, GEN, "--port", str(udp), "--proto", args.proto, "--flows", str(args.flows),
             "--rate", str(rate), "--subscribers", str(args.subscribers), "--window", str(args.window),
             "--cache", args.cache],
            capture_output=True, text=True, check=True)
        sent_at = time.time()
        report = json.loads(gen.stdout.strip().splitlines()[-1])
        h = settled(http, args.settle)
        cpu = cpu_seconds(proc.pid) - cpu0
        d = h.get("detection", {})
        row = {
            "benchmark": "serve-detection", "workers": args.workers, "subscribers": args.subscribers,
            "rate": rate, "achieved_rate": report["flows_per_s"], "sent": report["sent_flows"],
            "send_errors": report["send_errors"], "send_seconds": report["send_s"],
            "collected": h["flow_records"], "lost": report["sent_flows"] - h["flow_records"],
            "analysed": d.get("analysed_records"), "shed": d.get("shed_records"),
            "sampling_interval": d.get("sampling_interval"),
            # mamori serve's CPU (collector, detectors, everything) from the first record to the
            # last analysed; the generator runs beside it on the same machine.
            "serve_cpu_seconds": round(cpu, 1),
            # From the generator's exit until serve had analysed or shed everything (less the 3 s
            # the counts must stay put to count as settled).
            "drain_seconds": round(time.time() - sent_at - 3, 1),
        }
        print(json.dumps(row), flush=True)
        out.write(json.dumps(row) + "\n")
        out.flush()
        return row
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mamori", required=True)
    ap.add_argument("--rates", type=int, nargs="+", default=[125_000, 250_000, 500_000, 1_000_000, 2_000_000])
    ap.add_argument("--flows", type=int, default=6_000_000)
    ap.add_argument("--subscribers", type=int, default=1_000_000)
    ap.add_argument("--window", type=int, default=600, help="seconds of traffic the flows span")
    ap.add_argument("--workers", type=int, default=1, help="detection.workers")
    ap.add_argument("--proto", default="ipfix")
    ap.add_argument("--rcvbuf", type=int, default=67_108_864)
    ap.add_argument("--settle", type=int, default=600, help="longest wait for serve to finish the records")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "mamori-gen-cache"))
    ap.add_argument("--out", default=os.path.join(HERE, "results", "serve-rates.jsonl"))
    args = ap.parse_args()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    rows = []
    with open(args.out, "a") as out:
        for rate in args.rates:
            rows.append(run(args, rate, out))
    print(f"\n{'rate/s':>10} {'achieved':>10} {'sent':>10} {'lost':>9} {'analysed':>10} {'shed':>9} {'drain s':>7} {'serve CPU s':>11}")
    for r in rows:
        print(f"{r['rate']:>10} {r['achieved_rate']:>10} {r['sent']:>10} {r['lost']:>9} {r['analysed']:>10} {r['shed']:>9}"
              f" {r['drain_seconds']:>7} {r['serve_cpu_seconds']:>11}")
    clean_collector = [r["rate"] for r in rows if r["lost"] == 0]
    clean_detection = [r["rate"] for r in rows if r["lost"] == 0 and r["shed"] == 0]
    print(f"highest rate the collector lost nothing: {max(clean_collector) if clean_collector else 'none'}")
    print(f"highest rate detection shed nothing (and nothing lost): {max(clean_detection) if clean_detection else 'none'}")


if __name__ == "__main__":
    main()
