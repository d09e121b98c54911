#!/usr/bin/env python3
"""How long from the first packet of a flood to Mamori's mitigation in a router's RIB, and from
the kill switch to the last rule gone.

For each round: NetFlow v9 records of an inbound flood against a fresh subscriber address are sent
to Mamori's collector (records of one second, which the detector spreads over the two seconds
they touch: a reflection flood — 45,000 packets/s of 468-byte NTP answers from three amplifiers,
so the rule is FlowSpec — or a plain flood of 30,000 packets/s from random ports, so the rule is
a black hole; the threshold is 20,000 packets/s); then BIRD's RIB is read through birdc every 20 ms until the rule is
there. After the rounds, the kill switch (POST /api/v1/bgp/kill) and the time until BIRD's tables
are empty; then it is released. Times are wall-clock seconds from the first datagram (from the
HTTP request for the kill switch). Prints a table and writes one JSON line per measurement.
Standard library only (run.sh sets up the servers).
"""
import argparse, json, os, socket, statistics, struct, subprocess, sys, time, urllib.request

TEMPLATE_ID = 256
# IPv4 src/dst, ports, protocol, packets, bytes, first/last switched (ms of uptime).
FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 4), (1, 4), (22, 4), (21, 4)]


class Exporter:
    def __init__(self, collector: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addr = ("127.0.0.1", collector)
        self.sequence = 0
        self.boot = time.time() - 3600

    def header(self, count: int) -> bytes:
        now = time.time()
        self.sequence += 1
        return struct.pack(">HHIIII", 9, count, int((now - self.boot) * 1000), int(now), self.sequence, 1)

    def template(self) -> bytes:
        body = struct.pack(">HH", TEMPLATE_ID, len(FIELDS)) + b"".join(struct.pack(">HH", t, l) for t, l in FIELDS)
        return struct.pack(">HH", 0, 4 + len(body)) + body

    def send(self, flows):
        """flows: (src, dst, sport, dport, proto, packets, bytes, first_s, last_s) with wall-clock seconds."""
        records = b""
        for src, dst, sport, dport, proto, packets, octets, first, last in flows:
            records += socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(
                ">HHBIIII", sport, dport, proto, packets, octets,
                int((first - self.boot) * 1000), int((last - self.boot) * 1000))
        pad = (-len(records)) % 4
        data = struct.pack(">HH", TEMPLATE_ID, 4 + len(records) + pad) + records + b"\0" * pad
        self.sock.sendto(self.header(2) + self.template() + data, self.addr)


def flood(victim: str, reflection: bool, now: float):
    if reflection:
        return [(f"192.0.2.{i + 1}", victim, 123, 40000 + i, 17, 30_000, 30_000 * 468, now - 1, now) for i in range(3)]
    return [(f"192.0.2.{i + 1}", victim, 30000 + i, 80, 6 if i % 2 else 17, 12_000, 12_000 * 60, now - 1, now) for i in range(5)]


def birdc(sock: str, table: str) -> str:
    return subprocess.run(["birdc", "-s", sock, "show", "route", "table", table], capture_output=True, text=True).stdout


def wait(predicate, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def api(http: int, method: str, path: str, body: dict | None = None):
    req = urllib.request.Request(f"http://127.0.0.1:{http}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {os.environ['MAMORI_TOKEN']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--collector", type=int, required=True)
    p.add_argument("--http", type=int, required=True)
    p.add_argument("--bird-socket", required=True)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    exporter = Exporter(a.collector)
    rows = []
    for i in range(a.rounds):
        for reflection in (True, False):
            n = 2 * i + (0 if reflection else 1)
            victim = f"203.0.113.{n + 1}"
            table, needle = ("flowtab4", f"dst {victim}/32;") if reflection else ("master4", f"{victim}/32 ")
            start = time.monotonic()
            exporter.send(flood(victim, reflection, time.time()))
            seconds = wait(lambda: needle in birdc(a.bird_socket, table), a.timeout)
            total = None if seconds is None else time.monotonic() - start
            rows.append({"what": "flowspec" if reflection else "rtbh", "round": i, "victim": victim, "seconds": total})
    start = time.monotonic()
    answer = api(a.http, "POST", "/api/v1/bgp/kill", {"reason": "benchmark"})
    gone = wait(lambda: "/32" not in birdc(a.bird_socket, "master4") and "flow4" not in birdc(a.bird_socket, "flowtab4"), a.timeout)
    rows.append({"what": "kill_switch", "round": 0, "withdrawn": answer.get("withdrawn"),
                 "seconds": None if gone is None else time.monotonic() - start})
    api(a.http, "DELETE", "/api/v1/bgp/kill")
    with open(a.out, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(f"{'what':<12} {'n':>3} {'median s':>9} {'p90 s':>7} {'max s':>7} {'missed':>6}")
    for what in ("flowspec", "rtbh", "kill_switch"):
        xs = sorted(r["seconds"] for r in rows if r["what"] == what and r["seconds"] is not None)
        missed = sum(1 for r in rows if r["what"] == what and r["seconds"] is None)
        if not xs:
            print(f"{what:<12} {0:>3} {'-':>9} {'-':>7} {'-':>7} {missed:>6}")
            continue
        p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
        print(f"{what:<12} {len(xs):>3} {statistics.median(xs):>9.3f} {p90:>7.3f} {xs[-1]:>7.3f} {missed:>6}")
    kill = next(r for r in rows if r["what"] == "kill_switch")
    print(f"kill switch: {kill.get('withdrawn')} rules withdrawn")
    sys.exit(1 if any(r["seconds"] is None for r in rows) else 0)


if __name__ == "__main__":
    main()
