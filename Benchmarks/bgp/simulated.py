#!/usr/bin/env python3
"""The simulator's inbound flood, exported every second, to the mitigation in BIRD's RIB.

`mamori simulate` runs in real time (`--export-interval 1`, NetFlow v9) toward a relay on
loopback that timestamps every datagram and forwards it to Mamori's collector; birdc is read every
20 ms and the first appearance of each /32 black hole and FlowSpec rule is noted. When the
simulation ends, its ground truth names the inbound flood's victim and reflectors: the latency is
from the first relayed datagram holding a record from a reflector to the victim, to the victim's
rule in the RIB. Prints one line per run and appends one JSON row. Standard library only.
"""
import argparse, json, re, socket, struct, subprocess, sys, threading, time

def records(payload: bytes, templates: dict):
    """(src, dst) of every IPv4 record in a NetFlow v9 datagram; learns its templates."""
    out = []
    if len(payload) < 20 or struct.unpack(">H", payload[:2])[0] != 9:
        return out
    i = 20
    while i + 4 <= len(payload):
        fid, length = struct.unpack(">HH", payload[i:i + 4])
        if length < 4:
            break
        body = payload[i + 4:i + length]
        if fid == 0:
            j = 0
            while j + 4 <= len(body):
                tid, count = struct.unpack(">HH", body[j:j + 4])
                fields = [struct.unpack(">HH", body[j + 4 + 4 * k:j + 8 + 4 * k]) for k in range(count)]
                templates[tid] = fields
                j += 4 + 4 * count
        elif fid >= 256 and fid in templates:
            fields = templates[fid]
            size = sum(l for _, l in fields)
            j = 0
            while size and j + size <= len(body):
                rec, off, src, dst = body[j:j + size], 0, None, None
                for t, l in fields:
                    if t == 8 and l == 4:
                        src = socket.inet_ntoa(rec[off:off + 4])
                    if t == 12 and l == 4:
                        dst = socket.inet_ntoa(rec[off:off + 4])
                    off += l
                if src and dst:
                    out.append((src, dst))
                j += size
        i += length
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mamori", required=True)
    p.add_argument("--collector", type=int, required=True)
    p.add_argument("--bird-socket", required=True)
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--duration", default="2m")
    p.add_argument("--subscribers", type=int, default=300)
    p.add_argument("--labels", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()

    relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    relay.bind(("127.0.0.1", 0))
    relay.settimeout(0.2)
    forward = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    received = []  # (wall time, payload)
    stop = threading.Event()

    def pump():
        while not stop.is_set():
            try:
                data, _ = relay.recvfrom(65535)
            except socket.timeout:
                continue
            received.append((time.time(), data))
            forward.sendto(data, ("127.0.0.1", a.collector))

    seen = {}  # network → first wall time in BIRD's RIB

    def watch():
        while not stop.is_set():
            t = time.time()
            for table in ("master4", "flowtab4"):
                text = subprocess.run(["birdc", "-s", a.bird_socket, "show", "route", "table", table], capture_output=True, text=True).stdout
                for m in re.finditer(r"^(\d+\.\d+\.\d+\.\d+)/32\s|dst (\d+\.\d+\.\d+\.\d+)/32;", text, re.M):
                    victim = m.group(1) or m.group(2)
                    seen.setdefault((table, victim), t)
            time.sleep(0.02)

    threads = [threading.Thread(target=pump, daemon=True), threading.Thread(target=watch, daemon=True)]
    for th in threads:
        th.start()
    sim = subprocess.run(
        [a.mamori, "simulate", "--to", f"127.0.0.1:{relay.getsockname()[1]}", "--protocol", "v9", "--export-interval", "1",
         "--duration", a.duration, "--subscribers", str(a.subscribers), "--seed", str(a.seed), "--labels", a.labels],
        capture_output=True, text=True)
    time.sleep(3)
    stop.set()
    for th in threads:
        th.join()
    if sim.returncode != 0:
        sys.exit(f"simulate failed: {sim.stderr[-2000:]}")
    truth = json.load(open(a.labels))
    attack = next(x for x in truth["attacks"] if x["kind"] == "ntp-dns-memcached-reflection")
    victim, reflectors = attack["victimAddress"], set(attack.get("sources", []))
    templates, first = {}, None
    for t, payload in received:
        if any(dst == victim and src in reflectors for src, dst in records(payload, templates)):
            first = t
            break
    rule = min(((t, table) for (table, v), t in seen.items() if v == victim), default=None)
    row = {"seed": a.seed, "victim": victim, "datagrams": len(received), "first_flood_export": first,
           "rule": rule[1] if rule else None, "seconds": (rule[0] - first) if rule and first else None,
           "other_rules": sorted(f"{table} {v}" for (table, v) in seen if v != victim)}
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"seed {a.seed}: victim {victim}, rule {row['rule']}, {row['seconds'] if row['seconds'] is None else round(row['seconds'], 3)} s "
          f"from the first exported flood record; other rules: {row['other_rules'] or 'none'}")
    sys.exit(0 if row["seconds"] is not None else 1)


if __name__ == "__main__":
    main()
