#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into Corpus/<target>/ (run once; libFuzzer then
grows the corpus itself). Inputs come from the repository's own fixtures (real exporters'
captures in Tests/FlowCodecTests/Fixtures) and from the formats' documented examples.
Usage: Fuzz/make-seeds.py [TARGET …]   (from anywhere; writes next to this script; with targets
named, only their seeds: the corpus of the others has been minimised since and holds no seed files)"""
import hashlib, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ONLY = set(sys.argv[1:])

def put(target, data):
    if ONLY and target not in ONLY: return
    d = os.path.join(HERE, "Corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)

def udp_payloads(path):
    """UDP payloads of a pcap (Ethernet, Linux cooked or raw IP; IPv4/IPv6, VLAN)."""
    raw = open(path, "rb").read()
    if len(raw) < 24: return []
    magic = raw[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", raw[20:24])[0]
    out, i = [], 24
    while i + 16 <= len(raw):
        caplen = struct.unpack(endian + "I", raw[i + 8:i + 12])[0]
        pkt = raw[i + 16:i + 16 + caplen]
        i += 16 + caplen
        if linktype == 1:
            eth, off = struct.unpack(">H", pkt[12:14])[0], 14
            while eth == 0x8100 and len(pkt) >= off + 4:
                eth, off = struct.unpack(">H", pkt[off + 2:off + 4])[0], off + 4
        elif linktype == 113:
            eth, off = struct.unpack(">H", pkt[14:16])[0], 16
        elif linktype in (101, 12, 228):
            eth, off = (0x0800 if pkt[:1] and pkt[0] >> 4 == 4 else 0x86DD), 0
        else:
            continue
        if eth == 0x0800 and len(pkt) > off + 20 and pkt[off + 9] == 17:
            ihl = (pkt[off] & 15) * 4
            out.append(pkt[off + ihl + 8:])
        elif eth == 0x86DD and len(pkt) > off + 48 and pkt[off + 6] == 17:
            out.append(pkt[off + 48:])
    return out

def framed(selector, datagrams):
    b = bytes([selector])
    for d in datagrams:
        b += struct.pack(">H", len(d)) + d
    return b

# flow-decoder: the vendor and pmacct captures, up to 8 datagrams each, in the anyTime window
# (their times are years old) and, for a few, the live window too.
fixtures = os.path.join(ROOT, "Tests", "FlowCodecTests", "Fixtures")
n = 0
for dirpath, _, files in os.walk(fixtures):
    for name in sorted(files):
        if not name.endswith(".pcap"): continue
        ds = [d for d in udp_payloads(os.path.join(dirpath, name)) if len(d) <= 9000][:8]
        if not ds: continue
        put("flow-decoder", framed(0x01, ds))
        if n % 8 == 0: put("flow-decoder", framed(0x00, ds))
        n += 1

# radius: Accounting-Requests (RFC 2866) with the attributes Mamori reads.
def attr(t, v): return bytes([t, len(v) + 2]) + v
def acct(status, user, session, ip, ts, extra=b""):
    attrs = (attr(40, struct.pack(">I", status)) + attr(1, user) + attr(44, session) + attr(8, bytes(ip)) +
             attr(55, struct.pack(">I", ts)) + attr(4, bytes([198, 19, 252, 1])) + attr(31, b"02-00-5e-10-00-01") + extra)
    return bytes([4, 7]) + struct.pack(">H", 20 + len(attrs)) + bytes(16) + attrs
put("radius", acct(1, b"acct-0001", b"4f2a0001", [100, 64, 0, 1], 1764547200))
put("radius", acct(3, b"acct-0002", b"4f2a0002", [198, 18, 200, 9], 1764547260, attr(46, struct.pack(">I", 600)) + attr(42, struct.pack(">I", 123456))))
put("radius", acct(2, b"acct-0003", b"4f2a0003", [100, 64, 0, 3], 1764547320, attr(49, struct.pack(">I", 1)) + attr(80, bytes(16))))
put("radius", acct(7, b"", b"", [0, 0, 0, 0], 0))
put("radius", acct(1, b"acct-v6", b"4f2a0004", [100, 64, 0, 4], 1764547200, attr(123, bytes([0, 56, 0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 0])) + attr(97, bytes([0, 64, 0x20, 0x01, 0x0d, 0xb8, 2, 0, 0, 0, 0, 0]))))

# syslog: Juniper jservices-nat port block lines, as the CGNAT writes them.
for kind, t in [("JSERVICES_NAT_PORT_BLOCK_ALLOC", "2026-12-01T00:00:00.000Z"), ("JSERVICES_NAT_PORT_BLOCK_ACTIVE", "2026-12-01T00:10:00.000Z"),
                ("JSERVICES_NAT_PORT_BLOCK_RELEASE", "2026-12-01T01:00:00Z")]:
    put("syslog", f"<134>1 {t} cgnat1 jservices-nat - {kind} - {{cgnat}}[jservices-nat]: {kind}: 100.64.0.1 -> 198.18.0.0:1024-2031 0x692cd600\n".encode())
put("syslog", b"<134>1 2026-12-01T00:00:00.000Z cgnat1 jservices-nat - JSERVICES_NAT_PORT_BLOCK_ALLOC - {cgnat}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_ALLOC: 100.64.0.2 -> 198.18.0.0:2032-3039 0x692cd600\n"
                b"<134>1 2026-12-01T00:00:05.000Z cgnat1 jservices-nat - JSERVICES_NAT_PORT_BLOCK_RELEASE - {cgnat}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_RELEASE: 100.64.0.2 -> 198.18.0.0:2032-3039 0x692cd600\n")

# identity-files: the first byte picks the format (FuzzTarget.identityFiles).
put("identity-files", b"\x00address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id\n"
                      b"100.64.0.7,02:00:5e:10:00:07,,3600,1764550800,1,0,0,,0,{ \"account\": \"A-0007\" },0\n")
put("identity-files", b"\x01address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,hwaddr_source,pool_id\n"
                      b"2001:db8:100::,00:03:00:01:02:00:5e:10:00:07,3600,1764550800,1,1800,2,1,56,0,0,,02:00:5e:10:00:07,0,{ \"account\": \"A-0007\" },1,4,0\n")
put("identity-files", b"\x02Mon Nov 23 21:25:40 2026\n\tAcct-Status-Type = Start\n\tUser-Name = \"acct-0001\"\n\tAcct-Session-Id = \"abc\"\n"
                      b"\tFramed-IP-Address = 100.64.0.1\n\tDelegated-IPv6-Prefix = 2001:db8:100::/56\n\tEvent-Timestamp = \"Jan  1 2026 00:00:00 UTC\"\n"
                      b"\tNAS-IP-Address = 198.19.252.1\n\tTimestamp = 1795469139\n\n")
put("identity-files", b"\x03prefix,subscriber,valid_from,valid_until\n203.0.113.0/28,B-0001,2026-01-01T00:00:00Z,\n# comment\n2001:db8:ff00::/48,B-0002,,\n")
put("identity-files", b"\x04account,email,language,terms_version,terms_accepted,warn_infection,warn_vulnerability,sinkhole_dns\n"
                      b"A-0001,taro@example.jp,ja,v3,2025-04-01,,,opt_out@2026-03-01\nA-0002,anna@example.com,en,v2,2025-02-10,consent@2026-01-05,,\n")
put("identity-files", b"\x05# indicators\n192.0.2.99 testfamily\n198.51.100.0/24:443/tcp other\n2001:db8::66 v6family\n")
put("identity-files", b"\x06StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label\n"
                      b"2011/08/10 09:46:53.047277,3550.182373,udp,212.50.71.179,39678,  <->,147.32.84.229,13363,CON,0,0,12,875,413,flow=Background-UDP-Established\n"
                      b"2011/08/10 09:46:53.048843,0.000883,tcp,147.32.84.165,1026,   ->,147.32.80.9,53,S_,0,0,2,214,81,flow=From-Botnet-V42-TCP-Attempt\n")


# api-query: query strings of GET /api/v1/attribution and /api/v1/findings.
for q in [b"addr=198.18.0.7&port=40123&at=2026-11-23T10:00:00Z", b"addr=198.18.200.9&at=1764547200000", b"addr=2001:db8::1&port=0",
          b"kind=c2-server&since=2026-11-01T00:00:00Z&until=2026-12-01T00:00:00.5Z&limit=100&min_score=0.5", b"addr=%31%39%38.18.0.7&at=9223372036854775807"]:
    put("api-query", q)

# credentials: byte 0 bit 0 = an Authorization header (the first line); then Cookie headers.
# $T is the issued token and $S the open session's id (FuzzTarget.credentials), so that the
# fuzzer starts beside what is accepted.
for c in [b"\x01Bearer $T", b"\x01bearer   $T  ", b"\x01BEARER $T", b"\x01Bearer $T\nmamori_session=$S", b"\x00mamori_session=$S",
          b"\x00theme=dark; mamori_session=$S; lang=ja", b"\x00mamori_session=$S\nmamori_session=other", b"\x01Basic YWRtaW46cGFzc3dvcmQ=",
          b"\x01Bearer mamori_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", b"\x01Bearer mamori_0123456789ABCDEF_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
          b"\x01Bearer $Tx", b"\x01Bearer\t$T", b"\x01", b"\x00mamori_session=", b"\x00mamori_session=$S$S", b"\x00mamori_session=\"$S\""]:
    put("credentials", c)

# zone-transfer: byte 0 picks the client (bits 0-1: signed secondary, unsigned, unlisted, ::1) and
# the transport (bit 2: UDP); then one request message.
def dns_query(qid, name, qtype, authority=b"", opcode=0):
    q = struct.pack(">HHHHHH", qid, opcode << 11, 1, 0, 1 if authority else 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", qtype, 1)
    return q + authority

def soa_rr(name, serial):
    owner = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\x00"
    rdata = b"\x02ns\xc0\x0c" + b"\x0ahostmaster\xc0\x0c" + struct.pack(">IIIII", serial, 3600, 600, 86400, 60)
    return owner + struct.pack(">HHIH", 6, 1, 300, len(rdata)) + rdata

for sel, msg in [(1, dns_query(1, "rpz.mamori.", 252)), (1, dns_query(2, "exempt.rpz.mamori.", 252)), (5, dns_query(3, "rpz.mamori.", 6)),
                 (1, dns_query(4, "rpz.mamori.", 251, soa_rr("rpz.mamori.", 999))), (5, dns_query(5, "rpz.mamori.", 251, soa_rr("rpz.mamori.", 1000))),
                 (2, dns_query(6, "rpz.mamori.", 252)), (0, dns_query(7, "rpz.mamori.", 252)), (1, dns_query(8, "other.zone.", 252)),
                 (1, dns_query(9, "rpz.mamori.", 6, opcode=4)), (5, b"c2.evil.example"), (1, b"203.0.113.7/32")]:
    put("zone-transfer", bytes([sel]) + msg)

# bgp-message: byte 0 is the size of the pieces the stream arrives in (0: all at once), byte 1 the
# seconds between pieces; then a neighbour's TCP stream (FuzzTarget.bgpMessage: Mamori is AS 65001,
# the neighbour must open as AS 65002). Octets as RFC 4271 §4, RFC 4760, RFC 5492, RFC 6793,
# RFC 2918, RFC 1997/7999, RFC 4360 and RFC 8955/8956 lay them out.
def bgp(msg_type, body, length=None, marker=b"\xff" * 16):
    return marker + struct.pack(">HB", 19 + len(body) if length is None else length, msg_type) + body

def capability(code, value=b""): return bytes([code, len(value)]) + value
def bgp_open(asn=65002, hold=90, identifier=0xC0000202, packed=False):
    """An OPEN: each capability in its own optional parameter, or all of them in one (packed)."""
    caps = [capability(1, struct.pack(">HBB", afi, 0, safi)) for afi, safi in [(1, 1), (2, 1), (1, 133), (2, 133)]] + \
           [capability(2), capability(65, struct.pack(">I", asn))]
    caps = [b"".join(caps)] if packed else caps
    params = b"".join(bytes([2, len(c)]) + c for c in caps)
    return bgp(1, struct.pack(">BHHIB", 4, asn, hold, identifier, len(params)) + params)

KEEPALIVE = bgp(4, b"")
def attribute(flags, code, value):
    return bytes([flags | 0x10, code]) + struct.pack(">H", len(value)) + value if len(value) > 255 else bytes([flags, code, len(value)]) + value
def nlri4(prefix, length): return bytes([length]) + bytes(prefix)[:(length + 7) // 8]
def update(attributes=b"", nlri=b"", withdrawn=b""):
    return bgp(2, struct.pack(">H", len(withdrawn)) + withdrawn + struct.pack(">H", len(attributes)) + attributes + nlri)

ORIGIN_IGP = attribute(0x40, 1, b"\x00")
AS_PATH = attribute(0x40, 2, struct.pack(">BBI", 2, 1, 65002))          # AS_SEQUENCE 65002, 4-octet
COMMUNITIES = attribute(0xC0, 8, struct.pack(">II", 0xFFFF029A, 0xFFFFFF01))  # 65535:666 (BLACKHOLE), NO_EXPORT
V6 = bytes.fromhex("20010db8000000000000000000000007")                   # 2001:db8::7
V6_HOP = bytes.fromhex("20010db8000000000000000000000002")               # 2001:db8::2
def mp_reach(afi, safi, hop, nlri): return attribute(0x80, 14, struct.pack(">HBB", afi, safi, len(hop)) + hop + b"\x00" + nlri)
def mp_unreach(afi, safi, nlri): return attribute(0x80, 15, struct.pack(">HB", afi, safi) + nlri)
def flowspec(components):
    body = b"".join(components)
    return (bytes([len(body)]) if len(body) < 240 else struct.pack(">H", 0xF000 | len(body))) + body
def traffic_rate(rate, asn=65001): return attribute(0xC0, 16, struct.pack(">HHf", 0x8006, asn, rate))

# FlowSpec IPv4 (RFC 8955): destination 203.0.113.7/32, protocol = 17, source port = 123,
# packet length >= 400 && <= 1500; discarded (traffic-rate 0).
FLOW4 = flowspec([b"\x01\x20" + bytes([203, 0, 113, 7]), b"\x03\x81\x11", b"\x06\x81\x7b",
                  b"\x0a\x13" + struct.pack(">H", 400) + b"\xd5" + struct.pack(">H", 1500)])
# FlowSpec IPv6 (RFC 8956): destination 2001:db8::7/128 (offset 0), source ::1234/128 with offset 64
# (a pattern of the last 64 bits), next header = 17, destination port = 53; rate-limited to 1 MB/s.
FLOW6 = flowspec([b"\x01\x80\x00" + V6, b"\x02\x80\x40" + bytes.fromhex("0000000000001234"), b"\x03\x81\x11", b"\x05\x81\x35"])

OPEN, OPEN_PACKED = bgp_open(), bgp_open(packed=True)
seeds = [
    (0x00, 0, OPEN + KEEPALIVE),                                             # the session comes up
    (0x07, 1, OPEN_PACKED + KEEPALIVE + KEEPALIVE),                          # one parameter, in 7-octet pieces
    (0x00, 0, OPEN + KEEPALIVE + update(ORIGIN_IGP + AS_PATH + attribute(0x40, 3, bytes([192, 0, 2, 2])) + COMMUNITIES,
                                        nlri4([203, 0, 113, 7], 32))),        # RTBH, IPv4 unicast
    (0x00, 0, OPEN + KEEPALIVE + update(ORIGIN_IGP + AS_PATH + mp_reach(2, 1, V6_HOP, bytes([128]) + V6) + COMMUNITIES)),
    (0x00, 0, OPEN + KEEPALIVE + update(ORIGIN_IGP + AS_PATH + mp_reach(1, 133, b"", FLOW4) + traffic_rate(0.0))),
    (0x00, 0, OPEN + KEEPALIVE + update(ORIGIN_IGP + AS_PATH + mp_reach(2, 133, b"", FLOW6) + traffic_rate(1e6))),
    (0x00, 0, OPEN + KEEPALIVE + update(mp_unreach(2, 1, bytes([128]) + V6) ) + update(mp_unreach(1, 133, FLOW4))),
    (0x00, 0, OPEN + KEEPALIVE + update() + update(mp_unreach(2, 1, b"")) + update(mp_unreach(1, 133, b""))
              + update(mp_unreach(2, 133, b""))),                            # End-of-RIB, all four families
    (0x17, 31, OPEN + KEEPALIVE + bgp(5, struct.pack(">HBB", 1, 0, 1)) + bgp(5, struct.pack(">HBB", 2, 0, 133))),
    (0x00, 0, OPEN + KEEPALIVE + bgp(3, bytes([6, 2, 11]) + b"maintenance")),  # Cease, Administrative Shutdown
    (0x00, 0, OPEN + KEEPALIVE + bgp(4, b"", marker=b"\xff" * 15 + b"\x00")),  # bad marker
    (0x00, 0, OPEN + bgp(4, b"", length=18)),                                # length 18
    (0x00, 0, OPEN + KEEPALIVE + bgp(9, b"")),                               # type 9
    (0x00, 0, OPEN + KEEPALIVE + update(b"\x40\x01")),                       # an attribute cut after its type
    (0x00, 0, OPEN + KEEPALIVE + update(b"\x40\x01\x04\x00", nlri4([198, 51, 100, 0], 24))),  # ORIGIN's length overruns
    (0x00, 0, bgp_open(asn=65003) + KEEPALIVE),                               # Bad Peer AS
    (0x13, 100, OPEN + KEEPALIVE + KEEPALIVE),                               # the hold timer runs out between pieces
]
for size, seconds, stream in seeds:
    put("bgp-message", bytes([size, seconds]) + stream)
# stix-pattern: patterns as peers write them (STIX 2.1 §9 and its examples), evaluable or not.
for pattern in [
    "[ipv4-addr:value = '203.0.113.5']",
    "[ipv6-addr:value = '2001:db8::5']",
    "[domain-name:value = 'c2.example.net']",
    "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.5' AND network-traffic:dst_port = 443 AND network-traffic:protocols[*] = 'tcp']",
    "[ipv4-addr:value ISSUBSET '198.51.100.0/24' AND ipv4-addr:value != '198.51.100.1'] OR [domain-name:value IN ('a.example', 'b.example')]",
    "([ipv4-addr:value = '192.0.2.1' OR (ipv4-addr:value = '192.0.2.2' AND NOT ipv4-addr:value ISSUBSET '10.0.0.0/8')])",
    "[network-traffic:dst_ref.value = '192.0.2.9' AND network-traffic:dst_port NOT IN (80, 8080) AND network-traffic:src_port = 2048]",
    "[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']",
    "[ipv4-addr:value = '198.51.100.1'] REPEATS 5 TIMES WITHIN 300 SECONDS",
    "[url:value = 'http://x4z9arb.cn/4712'] FOLLOWEDBY [domain-name:value LIKE '%.cn'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
    "[domain-name:value = 'it\\'s\\\\odd.example' AND domain-name:value MATCHES '^it']",
]:
    put("stix-pattern", pattern.encode())

# stix-bundle: the OASIS examples and medallion's objects (Tests/STIXTests/Fixtures, see its
# SOURCES.md), as a bundle and as a TAXII envelope, and a MISP feed event and manifest in PyMISP's layout.
fixtures = os.path.join(ROOT, "Tests", "STIXTests", "Fixtures")
for name in ["stix/indicator-for-c2-ip-address.json", "stix/indicators-for-C2-with-COA.json", "stix/infrastructure.json"]:
    with open(os.path.join(fixtures, name), "rb") as f:
        put("stix-bundle", f.read())
import json
with open(os.path.join(fixtures, "taxii", "default_data.json"), "rb") as f:
    medallion = json.load(f)
put("stix-bundle", json.dumps({"more": False, "objects": medallion["trustgroup1"]["collections"][2]["objects"]}).encode())
put("stix-bundle", json.dumps({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
    "objects": medallion["trustgroup1"]["collections"][2]["objects"]}).encode())
put("stix-bundle", json.dumps({"Event": {"uuid": "5c6b2a18-4a8c-4f55-9d5e-1b2c3d4e5f60", "info": "C2", "timestamp": "1796551200",
    "Orgc": {"name": "Example CERT"}, "Tag": [{"name": "tlp:amber"}],
    "Attribute": [{"uuid": "a0000000-0000-4000-8000-000000000001", "type": "ip-dst|port", "value": "203.0.113.6|23", "to_ids": True, "timestamp": "1796551200"},
                  {"uuid": "a0000000-0000-4000-8000-000000000002", "type": "domain", "value": "c2.example.net", "to_ids": True}],
    "Object": [{"Attribute": [{"type": "ip-src", "value": "2001:db8:5::5", "to_ids": "1"}]}]}}).encode())
put("stix-bundle", json.dumps({"5c6b2a18-4a8c-4f55-9d5e-1b2c3d4e5f60": {"Orgc": {"name": "Example CERT"}, "Tag": [{"name": "tlp:white"}],
    "info": "C2", "date": "2026-12-01", "analysis": 2, "threat_level_id": 1, "timestamp": 1796551200}}).encode())

print("seeds written under", os.path.join(HERE, "Corpus"))

# taxii: an Authorization header, a query string, an envelope.
import base64, json as _json
def indicator(n, modified="2026-12-01T00:00:00.000Z", **extra):
    o = {"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-%012x" % n,
         "created": "2026-12-01T00:00:00.000Z", "modified": modified, "pattern": "[ipv4-addr:value = '198.51.100.%d']" % n,
         "pattern_type": "stix", "valid_from": "2026-12-01T00:00:00Z"}
    o.update(extra)
    return o
basic = b"Basic " + base64.b64encode(b"isac-peer:a long password")
for query, objects in [
    (b"", [indicator(n) for n in range(12)]),
    (b"limit=3&match%5Btype%5D=indicator", [indicator(1), indicator(1, "2026-12-02T00:00:00.000Z"), indicator(2, revoked=True)]),
    (b"match%5Bversion%5D=first,last&added_after=2020-01-01T00:00:00Z", [indicator(1), indicator(1, "2026-12-03T00:00:00.000Z"), 42, {"type": "x"}]),
    (b"match%5Bid%5D=indicator--00000000-0000-4000-8000-000000000001&match%5Bversion%5D=all", [indicator(1), indicator(1, "2026-12-02T00:00:00.000Z")]),
    (b"next=1764547200000000&limit=2", [{"type": "ipv4-addr", "id": "ipv4-addr--00000000-0000-4000-8000-000000000009", "value": "198.51.100.9"}] * 3),
]:
    put("taxii", basic + b"\n" + query + b"\n" + _json.dumps({"objects": objects}).encode())
put("taxii", b"Bearer x\nlimit=0\nnot json")

# report-intake: a byte naming the file (0 .eml, 1 .csv.zip, 2 .csv, 3 .json, 4 a mapped name), then the file.
R = os.path.join(ROOT, "Tests", "ReportsTests", "Fixtures")
for sub, byte in [("abuse-reports/shadowserver", 0), ("abuse-reports/feedback-loop-arf", 0)]:
    for name in sorted(os.listdir(os.path.join(R, sub)))[:3]:
        put("report-intake", bytes([byte]) + open(os.path.join(R, sub, name), "rb").read())
put("report-intake", bytes([0]) + open(os.path.join(R, "written", "xarf-login-attack.eml"), "rb").read())
put("report-intake", bytes([2]) + open(os.path.join(R, "written", "notice-2026-12-01.csv"), "rb").read())
put("report-intake", bytes([3]) + open(os.path.join(R, "written", "notice-2026-12-01.json"), "rb").read())
put("report-intake", bytes([4]) + open(os.path.join(R, "written", "csirt-feed.csv"), "rb").read())
import email, io
mail = email.message_from_bytes(open(os.path.join(R, "abuse-reports/shadowserver/2015-01-01-scan_ssdp-sample-asn.csv.zip.eml"), "rb").read())
for part in mail.walk():
    if part.get_filename():
        put("report-intake", bytes([1]) + part.get_payload(decode=True))

# nats-wire: byte 0 is the size of the pieces the stream arrives in (0: all at once); then what a
# nats-server sends a client (https://docs.nats.io/reference/reference-protocols/nats-protocol):
# INFO, PING, MSG, HMSG with headers, JetStream pull replies with their $JS.ACK subjects and
# status headers (404, 408), a publish ack and error, -ERR, and a few broken frames.
NATS_INFO = (b'INFO {"server_id":"NDXYZ","server_name":"n1","version":"2.9.10","proto":1,"headers":true,'
             b'"max_payload":1048576,"jetstream":true,"connect_urls":["127.0.0.1:4223"]}\r\n')
def nats_hmsg(subject, sid, reply, header, payload):
    r = b" " + reply if reply else b""
    return b"HMSG %s %s%s %d %d\r\n" % (subject, sid, r, len(header), len(header) + len(payload)) + header + payload + b"\r\n"
nats_seeds = [
    (0, NATS_INFO + b"PING\r\nPONG\r\n+OK\r\nMSG flows.1 1 5\r\nhello\r\nMSG flows.2 1 _INBOX.a.1 0\r\n\r\n"),
    (3, NATS_INFO + nats_hmsg(b"flows.7", b"0", b"$JS.ACK.FLOWS.detector.2.17.5.1733570000000000000.9",
                              b"NATS/1.0\r\nNats-Msg-Id: c-1\r\n\r\n", b"records")
        + nats_hmsg(b"_INBOX.a.2", b"0", None, b"NATS/1.0 404 No Messages\r\n\r\n", b"")
        + nats_hmsg(b"_INBOX.a.3", b"0", None, b"NATS/1.0 408 Request Timeout\r\n\r\n", b"")),
    (1, b'MSG _INBOX.a.4 0 27\r\n{"stream":"FLOWS","seq":42}\r\n'
        b'MSG _INBOX.a.5 0 87\r\n{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"seq":0}\r\n'),
    (0, nats_hmsg(b"x", b"1", b"$JS.ACK.hub.ACC.FLOWS.d0.1.3.3.1733570000000000000.0.TOKEN",
                  b"NATS/1.0\r\nA: 1\r\nA: 2\r\n\r\n", b"p") + b"-ERR 'Unknown Protocol Operation'\r\n"),
    (7, b"MSG a 1 3\r\nabcXY"),
    (0, b"HMSG a 1 40 20\r\n"),
    (2, b"MSG a 1 99999\r\n"),
]
for size, stream in nats_seeds:
    put("nats-wire", bytes([size]) + stream)

# flow-bus: one batch of flow records as FlowBusBatch writes it (Sources/FlowBus/FlowBusBatch.swift):
# "MFB" 1, varint count, zigzag varint base time, the exporters, then the records.
def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80]); v >>= 7
    return out + bytes([v])
def zigzag(v): return (v << 1) ^ (v >> 63) if v >= 0 else ((-v) << 1) - 1
def bus_address(text):
    import ipaddress
    a = ipaddress.ip_address(text)
    return a.packed
def bus_record(exporter, src, dst, sport, dport, proto, nbytes, packets, start, end, base, nat=None):
    flags = (1 if ":" in src else 0) | (2 if ":" in dst else 0) | (4 if nat else 0)
    r = bytes([flags]) + varint(exporter) + bus_address(src) + bus_address(dst) + varint(nbytes) + varint(packets)
    r += varint(zigzag(start - base)) + varint(zigzag(end - start))
    r += varint(0) + varint(1) + varint(3) + varint(4) + varint(64500) + varint(15169)
    r += struct.pack(">HHBBBBB", sport, dport, proto, 0x1B, 0, 10, 0)
    if nat:
        event, post = nat
        r += bytes([event, 1 | (2 if ":" in post else 0)]) + bus_address(post) + struct.pack(">HHHHHH", 0, 0, 1024, 2047, 1, 1024)
    return r
def bus_batch(records, exporters=("192.0.2.1",)):
    base = records[0][8] if records else 0
    out = b"MFB\x01" + varint(len(records)) + varint(zigzag(base)) + varint(len(exporters))
    for e in exporters:
        out += bytes([6 if ":" in e else 4]) + bus_address(e)
    return out + b"".join(bus_record(*r[:10], base, *r[10:]) for r in records)
T0 = 1764547200000
put("flow-bus", bus_batch([]))
put("flow-bus", bus_batch([(0, "10.0.0.5", "198.51.100.7", 40000, 443, 6, 1500, 3, T0, T0 + 900)]))
put("flow-bus", bus_batch([(i % 2, "10.0.%d.%d" % (i // 200, i % 200 + 1), "203.0.113.%d" % (i % 5 + 1), 30000 + i, 8080, 6, 300, 2, T0 + 60000 * i, T0 + 60000 * i + 50)
                           for i in range(40)], exporters=("192.0.2.1", "2001:db8::1")))
put("flow-bus", bus_batch([(0, "2001:db8:1::5", "2001:db8:ffff::1", 5353, 53, 17, 80, 1, T0, T0),
                           (0, "100.64.0.9", "198.51.100.9", 1025, 443, 6, 60, 1, T0 - 5000, T0 + 1, (16, "203.0.113.9"))]))
