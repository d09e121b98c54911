#!/usr/bin/env python3
"""How long from a sinkhole change in Mamori to the resolvers' first answer that shows it.

For each round: POST /api/v1/sinkhole/entries (the change an analyst's confirmation or a C&C
finding makes), then ask every resolver for the name every 10 ms until it answers with the
sinkhole address; then DELETE the entry and wait for the true answer again. Times are wall-clock
seconds from the HTTP request to the first answer showing the change. Prints a table and writes
one JSON line per round. Standard library only (run.sh sets up the servers).
"""
import argparse, json, os, random, socket, statistics, struct, sys, time, urllib.request


def query(name: str, qid: int) -> bytes:
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)


def skip_name(m: bytes, i: int) -> int:
    while True:
        n = m[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def a_records(m: bytes, qid: int):
    if len(m) < 12 or struct.unpack(">H", m[:2])[0] != qid:
        return None
    qd, an = struct.unpack(">HH", m[4:8])
    i = 12
    for _ in range(qd):
        i = skip_name(m, i) + 4
    out = []
    for _ in range(an):
        i = skip_name(m, i)
        rtype, _, _, rdlen = struct.unpack(">HHIH", m[i:i + 10])
        i += 10
        if rtype == 1 and rdlen == 4:
            out.append(".".join(str(b) for b in m[i:i + 4]))
        i += rdlen
    return out


def wait_for(port: int, name: str, want: str, timeout: float) -> float | None:
    """Seconds until the resolver at 127.0.0.1:port answers `name` with `want`, or None."""
    start = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    qid = random.randrange(1, 65535)
    while time.monotonic() - start < timeout:
        qid = (qid + 1) % 65536
        s.sendto(query(name, qid), ("127.0.0.1", port))
        try:
            while True:
                data, _ = s.recvfrom(4096)
                got = a_records(data, qid)
                if got is not None:
                    break
        except socket.timeout:
            got = None
        if got and want in got:
            return time.monotonic() - start
        time.sleep(0.01)
    return None


def api(http: int, token: str, method: str, path: str, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{http}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--http", type=int, required=True)
    p.add_argument("--resolver", action="append", required=True, help="NAME=PORT, e.g. bind=5301")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--names", default="c2-%d.example")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    token = os.environ["MAMORI_TOKEN"]
    resolvers = [(r.split("=")[0], int(r.split("=")[1])) for r in a.resolver]
    rows = []
    with open(a.out, "a") as out:
        for i in range(a.rounds):
            name = a.names % i
            t0 = time.monotonic()
            api(a.http, token, "POST", "/api/v1/sinkhole/entries", {"trigger": name, "reason": f"propagation benchmark round {i}", "days": 1})
            request = time.monotonic() - t0
            added = {n: wait_for(port, name, "192.0.2.53", 60) for n, port in resolvers}
            added = {n: (None if v is None else v + request) for n, v in added.items()}
            t0 = time.monotonic()
            api(a.http, token, "DELETE", f"/api/v1/sinkhole/entry?trigger={name}")
            request = time.monotonic() - t0
            removed = {n: wait_for(port, name, "192.0.2.10", 60) for n, port in resolvers}
            removed = {n: (None if v is None else v + request) for n, v in removed.items()}
            row = {"round": i, "name": name, "to_sinkhole_s": added, "to_true_answer_s": removed}
            rows.append(row)
            out.write(json.dumps(row) + "\n")
            print(f"round {i:3d}  " + "  ".join(f"{n}: +{added[n] if added[n] is None else round(added[n], 3)} s / -{removed[n] if removed[n] is None else round(removed[n], 3)} s" for n, _ in resolvers), flush=True)
    print()
    print(f"{'resolver':10s} {'change':8s} {'n':>3s} {'median s':>9s} {'p90 s':>7s} {'max s':>7s} {'missed':>6s}")
    for n, _ in resolvers:
        for key, label in (("to_sinkhole_s", "add"), ("to_true_answer_s", "remove")):
            v = sorted(r[key][n] for r in rows if r[key][n] is not None)
            missed = sum(1 for r in rows if r[key][n] is None)
            if v:
                p90 = v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))]
                print(f"{n:10s} {label:8s} {len(v):3d} {statistics.median(v):9.3f} {p90:7.3f} {v[-1]:7.3f} {missed:6d}")
            else:
                print(f"{n:10s} {label:8s}   0 {'-':>9s} {'-':>7s} {'-':>7s} {missed:6d}")


if __name__ == "__main__":
    sys.exit(main())
