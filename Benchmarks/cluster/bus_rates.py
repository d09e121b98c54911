#!/usr/bin/env python3
"""Flow records through the cluster's bus: collector -> NATS JetStream -> detector(s) (issue 25).

One run per detector count: a fresh nats-server (JetStream, file store), a `mamori serve --role
collector` and N `mamori serve --role detector` nodes, each detector owning an equal share of the
partitions. gen_netflow.py sends FLOWS records at RATE to the collector; the script waits until
the detectors have analysed everything the collector published, then reads:

  collected     records the collector decoded (its /healthz flow_records)
  published     records it published to the stream (mamori_bus_published_records_total)
  lost          records it could not publish (mamori_bus_lost_records_total)
  consumed      records the detectors analysed (their flow_records, added up)
  bus_bytes     the stream's bytes as nats-server stores them (/jsz: payload, subject, headers)
  *_cpu_s       CPU seconds of the collector, the detectors (added up) and nats-server

and derives records/s end to end (first record sent -> last record analysed), bytes per record on
the bus, and CPU microseconds per record for each part: the figures that size a cluster. The
generator runs on the same machine and takes CPU from all of them.

  Benchmarks/cluster/bus-rates.sh
  python3 bus_rates.py --mamori .build/release/mamori --detectors 1 2 --flows 2000000 --rate 500000
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


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def wait_http(url, proc, what, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before it came up")
        try:
            return get(url)
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url} within {seconds} s")


def metric(text, name):
    """The sum of a Prometheus metric's samples (every label set)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args, detectors, out):
    work = tempfile.mkdtemp(prefix="mamori-bus-rates-")
    procs = []
    try:
        nats_port, nats_monitor = free_port(), free_port()
        nats = subprocess.Popen(
            [args.nats_server, "-a", "127.0.0.1", "-p", str(nats_port), "-m", str(nats_monitor), "-js", "-sd", f"{work}/nats"],
            stdout=open(f"{work}/nats.log", "w"), stderr=subprocess.STDOUT)
        procs.append(nats)
        wait_http(f"http://127.0.0.1:{nats_monitor}/healthz", nats, "nats-server")
        bus = (f"  nats:\n    servers: [nats://127.0.0.1:{nats_port}]\n"
               f"  bus:\n    partitions: {args.partitions}\n    max_megabytes: {args.stream_megabytes}\n")
        common = "log_level: warning\nhttp:\n  metrics_open: true\n  listen: 127.0.0.1:{http}\ndetection:\n  subscriber_prefixes: [10.0.0.0/8]\n"
        nodes = []
        udp = free_port(socket.SOCK_DGRAM)
        for i in range(detectors + 1):
            name = "collector" if i == 0 else f"detector-{i}"
            http = free_port()
            config = f"{work}/{name}.yaml"
            share = [p for p in range(args.partitions) if p % detectors == i - 1]
            with open(config, "w") as f:
                f.write(f"data_directory: {work}/{name}\n" + common.format(http=http))
                if i == 0:
                    f.write(f"collector:\n  listen: [127.0.0.1:{udp}]\n")
                f.write(f"cluster:\n  role: {'collector' if i == 0 else 'detector'}\n  node: {name}\n" + bus)
                if i > 0:
                    f.write(f"  partitions: [{', '.join(map(str, share))}]\n")
            cmd = [args.mamori, "serve", "--config", config] + (["--rcvbuf", str(args.rcvbuf)] if i == 0 else [])
            p = subprocess.Popen(cmd, stdout=open(f"{work}/{name}.log", "w"), stderr=subprocess.STDOUT)
            procs.append(p)
            wait_http(f"http://127.0.0.1:{http}/healthz", p, name)
            nodes.append((name, http, p))
        time.sleep(2)  # the stream and the consumers are set up
        cpu0 = {n: cpu_seconds(p.pid) for n, _, p in nodes}
        cpu0["nats"] = cpu_seconds(nats.pid)
        started = time.time()
        gen = subprocess.run(
            [sys.executable, GEN, "--port", str(udp), "--proto", "ipfix", "--flows", str(args.flows), "--rate", str(args.rate),
             "--subscribers", str(args.subscribers), "--window", str(args.window), "--cache", args.cache],
            capture_output=True, text=True, check=True)
        report = json.loads(gen.stdout.strip().splitlines()[-1])
        # Until the detectors have analysed what was published (and the counts stay put for 2 s).
        deadline, last, since = time.time() + args.settle, None, time.time()
        while time.time() < deadline:
            cm = get(f"http://127.0.0.1:{nodes[0][1]}/metrics")
            published = metric(cm, "mamori_bus_published_records_total")
            consumed = sum(json.loads(get(f"http://127.0.0.1:{h}/healthz"))["flow_records"] for _, h, _ in nodes[1:])
            now = (published, consumed)
            if now != last:
                last, since = now, time.time()
                done_at = time.time()
            elif time.time() - since >= 2 and consumed >= published:
                break
            time.sleep(0.25)
        cpu = {n: cpu_seconds(p.pid) - cpu0[n] for n, _, p in nodes}
        nats_cpu = cpu_seconds(nats.pid) - cpu0["nats"]
        cm = get(f"http://127.0.0.1:{nodes[0][1]}/metrics")
        collected = json.loads(get(f"http://127.0.0.1:{nodes[0][1]}/healthz"))["flow_records"]
        published = metric(cm, "mamori_bus_published_records_total")
        jsz = json.loads(get(f"http://127.0.0.1:{nats_monitor}/jsz?streams=true"))
        bus_bytes, bus_messages = jsz.get("bytes", 0), jsz.get("messages", 0)
        seconds = max(done_at - started, 1e-9)
        detector_cpu = sum(v for n, v in cpu.items() if n != "collector")
        row = {
            "benchmark": "bus", "detectors": detectors, "partitions": args.partitions, "subscribers": args.subscribers,
            "rate": args.rate, "achieved_rate": report["flows_per_s"], "sent": report["sent_flows"],
            "collected": collected, "published": published, "lost": metric(cm, "mamori_bus_lost_records_total"),
            "consumed": last[1] if last else 0, "bus_messages": bus_messages, "bus_bytes": bus_bytes,
            "bus_bytes_per_record": round(bus_bytes / max(published, 1), 1),
            "end_to_end_records_per_s": int((last[1] if last else 0) / seconds),
            "collector_cpu_s": round(cpu["collector"], 1), "detectors_cpu_s": round(detector_cpu, 1), "nats_cpu_s": round(nats_cpu, 1),
            "collector_us_per_record": round(cpu["collector"] / max(collected, 1) * 1e6, 2),
            "detector_us_per_record": round(detector_cpu / max(published, 1) * 1e6, 2),
            "nats_us_per_record": round(nats_cpu / max(published, 1) * 1e6, 2),
        }
        print(json.dumps(row), flush=True)
        out.write(json.dumps(row) + "\n")
        out.flush()
        return row
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mamori", required=True)
    ap.add_argument("--nats-server", default=shutil.which("nats-server") or "/usr/sbin/nats-server")
    ap.add_argument("--detectors", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--flows", type=int, default=2_000_000)
    ap.add_argument("--rate", type=int, default=250_000)
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--window", type=int, default=600)
    ap.add_argument("--stream-megabytes", type=int, default=4096)
    ap.add_argument("--rcvbuf", type=int, default=67_108_864)
    ap.add_argument("--settle", type=int, default=900)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "mamori-gen-cache"))
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bus-rates.jsonl"))
    args = ap.parse_args()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    rows = []
    with open(args.out, "a") as out:
        for n in args.detectors:
            rows.append(run(args, n, out))
    print(f"\n{'detectors':>9} {'sent':>9} {'published':>9} {'consumed':>9} {'rec/s e2e':>9} {'B/rec':>6} "
          f"{'coll us/rec':>11} {'det us/rec':>10} {'nats us/rec':>11}")
    for r in rows:
        print(f"{r['detectors']:>9} {r['sent']:>9} {r['published']:>9} {r['consumed']:>9} {r['end_to_end_records_per_s']:>9} "
              f"{r['bus_bytes_per_record']:>6} {r['collector_us_per_record']:>11} {r['detector_us_per_record']:>10} "
              f"{r['nats_us_per_record']:>11}")


if __name__ == "__main__":
    main()
